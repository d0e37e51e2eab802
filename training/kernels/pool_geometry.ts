/** Geometry of 2-D max pools in NHWC layout, shared by the pool kernels. */
import * as tf from "@tensorflow/tfjs";
import type { Info } from "./wasm_heap.ts";

/** One 2-D max pool in NHWC layout; filter sizes are the effective (dilated) ones. */
export interface PoolGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  channels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/** The geometry of a MaxPool or MaxPoolGrad over `x`, from the kernel's attributes. */
export function poolGeometry(x: Info, a: tf.MaxPoolAttrs): PoolGeometry {
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    channels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.effectiveFilterHeight,
    filterWidth: info.effectiveFilterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** A 2x2 pool with stride 2 and no padding over whole groups of 4 float channels. */
export function isTiled2x2(g: PoolGeometry): boolean {
  return g.filterHeight === 2 && g.filterWidth === 2 && g.strideHeight === 2 &&
    g.strideWidth === 2 && g.padTop === 0 && g.padLeft === 0 && g.outHeight * 2 <= g.inHeight &&
    g.outWidth * 2 <= g.inWidth && g.channels % 4 === 0;
}
