/** Conv2DBackpropFilter, which TF.js's wasm backend lacks; see conv2dBackpropFilter(). */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { swapLastTwo } from "./batch_matmul.ts";
import { cachedPatches } from "./conv_patches.ts";
import { type ConvGeometry, convGeometry, im2col, patchMatrixShape } from "./im2col.ts";
import { callKernel, heap, type Info, type KernelArgs, ptr, simdKernels } from "./wasm_heap.ts";

type Shape4 = [number, number, number, number];

/**
 * Conv2DBackpropFilter as one product of the patch matrix and dy,
 * dW = colsᵀ·dy, on our SIMD gemm (the transposed operand costs nothing).
 * The patches usually come from the forward Conv2D of the same step.
 * Channel counts that are not a multiple of 4 use XNNPACK, with the
 * operands oriented so the one it packs is the smaller.
 */
export function conv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs): Info {
  const wasm = backend as BackendWasm;
  const { x, dy } = inputs as { x: Info; dy: Info };
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs & {
    dilations?: number | [number, number];
  };
  if (a.dataFormat !== undefined && a.dataFormat !== "NHWC") {
    throw new TypeError(
      `Conv2DBackpropFilter on wasm expects dataFormat NHWC, got ${String(a.dataFormat)}`,
    );
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    a.filterShape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
  );
  const job = { wasm, x, dy, g: convGeometry(info), filterShape: [...a.filterShape] };
  return info.outChannels % 4 === 0 ? filterGradSimd(job) : filterGradXnnpack(job);
}

/** One filter gradient: the kernel's inputs, geometry and result shape. */
interface FilterGradJob {
  wasm: BackendWasm;
  x: Info;
  dy: Info;
  g: ConvGeometry;
  filterShape: number[];
}

/** dW = colsᵀ·dy straight into the result, reusing the forward pass's patches. */
function filterGradSimd({ wasm, x, dy, g, filterShape }: FilterGradJob): Info {
  const { positions, patch } = patchMatrixShape(g);
  const kernels = simdKernels(wasm);
  const cached = cachedPatches(x, g);
  const cols = cached ?? wasm.makeOutput([positions, patch], "float32");
  const out = wasm.makeOutput(filterShape, "float32");
  if (!cached) kernels.im2col({ x: ptr(wasm, x), out: ptr(wasm, cols) }, g);
  kernels.gemm({
    a: ptr(wasm, cols),
    b: ptr(wasm, dy),
    c: ptr(wasm, out),
    m: patch,
    n: filterShape[3],
    k: positions,
    // colsᵀ: row i of the product walks column i of cols.
    rowStride: 1,
    kStride: patch,
    accumulate: 0,
  });
  // An empty sum never reaches the kernel's loops.
  if (positions === 0) heap(wasm, out).fill(0);
  if (!cached) wasm.disposeData(cols.dataId);
  return out;
}

/** dWᵀ = dyᵀ·cols on XNNPACK, then one transpose. */
function filterGradXnnpack({ wasm, x, dy, g, filterShape }: FilterGradJob): Info {
  const { positions, patch } = patchMatrixShape(g);
  const cols = wasm.makeOutput([1, positions, patch], "float32");
  // Views are taken after the allocation: malloc may grow the heap.
  im2col(heap(wasm, x), g, heap(wasm, cols));
  const dy3: Info = { dataId: dy.dataId, shape: [1, positions, filterShape[3]], dtype: dy.dtype };
  const dyT = swapLastTwo(wasm, dy3);
  const gradT = callKernel("BatchMatMul", wasm, { a: dyT, b: cols }, {
    transposeA: false,
    transposeB: false,
  });
  const grad = swapLastTwo(wasm, gradT);
  for (const t of [cols, dyT, gradT]) wasm.disposeData(t.dataId);
  return { ...grad, shape: filterShape };
}
