import type * as tf from "@tensorflow/tfjs";

/** Geometry of one 2-D convolution in NHWC layout, as the kernels need it. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/** The geometry of the convolution TF.js describes as `info`. */
export function convGeometry(info: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** The patch matrix's shape: one row per output position, one column per filter weight. */
export function patchMatrixShape(g: ConvGeometry): { positions: number; patch: number } {
  return {
    positions: g.batch * g.outHeight * g.outWidth,
    patch: g.filterHeight * g.filterWidth * g.inChannels,
  };
}

/**
 * Writes the patch matrix of `x` (NHWC) into `out`, shaped
 * [batch * outHeight * outWidth, filterHeight * filterWidth * inChannels]:
 * one row per output position, its columns in a filter's [fh, fw, inC]
 * order, zeros where the window hangs over the padding.
 */
export function im2col(
  x: Float32Array,
  g: ConvGeometry,
  out: Float32Array,
): void {
  const { positions: rows, patch: cols } = patchMatrixShape(g);
  if (out.length < rows * cols) {
    throw new RangeError(
      `im2col needs an output of ${rows * cols} floats, got ${out.length}`,
    );
  }
  const rowStride = g.inWidth * g.inChannels;
  const imageStride = g.inHeight * rowStride;
  let o = 0;
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        for (let fr = 0; fr < g.filterHeight; fr++) {
          const ih = oh * g.strideHeight - g.padTop + fr * g.dilationHeight;
          const inRow = ih >= 0 && ih < g.inHeight;
          for (let fc = 0; fc < g.filterWidth; fc++) {
            const iw = ow * g.strideWidth - g.padLeft + fc * g.dilationWidth;
            if (!inRow || iw < 0 || iw >= g.inWidth) {
              out.fill(0, o, o + g.inChannels);
              o += g.inChannels;
              continue;
            }
            const base = b * imageStride + ih * rowStride + iw * g.inChannels;
            for (let ic = 0; ic < g.inChannels; ic++) out[o++] = x[base + ic];
          }
        }
      }
    }
  }
}
