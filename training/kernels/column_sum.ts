/** Sum over leading axes on wasm (bias gradients) as column sums; see withColumnSum(). */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { heap, type Info, ptr, simdKernels } from "./wasm_heap.ts";

/**
 * Bias gradients reduce over every leading axis: the column sums of a
 * [rows, cols] matrix, no transpose. Other reductions go to `original`.
 */
export function withColumnSum(original: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { x } = inputs as { x: Info };
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = axes.every((ax, i) => ax === i);
    if (x.dtype !== "float32" || !leading || axes.length === 0) {
      return original({ inputs, backend, attrs });
    }
    const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
    const rest = x.shape.slice(axes.length);
    const shape = keepDims ? [...axes.map(() => 1), ...rest] : rest;
    const out = wasm.makeOutput(shape, "float32");
    const cols = tf.util.sizeFromShape(rest);
    if (cols % 4 === 0) {
      const scratch = wasm.makeOutput([cols], "float32");
      heap(wasm, out).fill(0);
      const pointers = { x: ptr(wasm, x), out: ptr(wasm, out), scratch: ptr(wasm, scratch) };
      simdKernels(wasm).columnSum(pointers, { rows, cols });
      wasm.disposeData(scratch.dataId);
    } else {
      columnSum(heap(wasm, x), rows, cols, heap(wasm, out));
    }
    return out;
  };
}

/**
 * Sums a row-major [rows, cols] matrix over its rows into `out` (length
 * cols): one sum per column. This is a reduction over all leading axes of
 * a tensor, the shape of every bias gradient.
 */
export function columnSum(
  x: Float32Array,
  rows: number,
  cols: number,
  out: Float32Array,
): void {
  if (x.length < rows * cols || out.length < cols) {
    throw new RangeError(
      `columnSum expects ${
        rows * cols
      } inputs and ${cols} outputs, got ${x.length} and ${out.length}`,
    );
  }
  // Float64 accumulators: 135,200 rows of float32 lose digits otherwise.
  const acc = new Float64Array(cols);
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) acc[c] += x[i++];
  }
  for (let c = 0; c < cols; c++) out[c] = acc[c];
}
