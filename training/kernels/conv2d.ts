/** Conv2D on wasm as im2col plus one product; see withIm2colConv(). */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { rememberPatches } from "./conv_patches.ts";
import { convGeometry, patchMatrixShape } from "./im2col.ts";
import { callKernel, type Info, ptr, simdKernels } from "./wasm_heap.ts";

type Shape4 = [number, number, number, number];

/**
 * Conv2D (NHWC) as im2col plus one product with the filter (the registered
 * BatchMatMul): about twice as fast as the stock kernel on this model's
 * single-channel input, where XNNPACK's convolution is weak. Other data
 * formats and dtypes go to `original`.
 */
export function withIm2colConv(original: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { x, filter } = inputs as { x: Info; filter: Info };
    const a = attrs as unknown as tf.Conv2DAttrs;
    if ((a.dataFormat && a.dataFormat !== "NHWC") || x.dtype !== "float32") {
      return original({ inputs, backend, attrs });
    }
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as Shape4,
      filter.shape as Shape4,
      a.strides,
      a.dilations,
      a.pad,
      a.dimRoundingMode,
    );
    const g = convGeometry(info);
    const { positions, patch } = patchMatrixShape(g);
    const cols = wasm.makeOutput([1, positions, patch], "float32");
    simdKernels(wasm).im2col({ x: ptr(wasm, x), out: ptr(wasm, cols) }, g);
    rememberPatches(wasm, x, g, cols);
    const w: Info = {
      dataId: filter.dataId,
      shape: [1, patch, info.outChannels],
      dtype: "float32",
    };
    const out = callKernel("BatchMatMul", wasm, { a: cols, b: w }, {
      transposeA: false,
      transposeB: false,
    });
    wasm.disposeData(cols.dataId);
    return { ...out, shape: [g.batch, g.outHeight, g.outWidth, info.outChannels] };
  };
}
