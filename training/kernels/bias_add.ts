/** Add of a bias vector on wasm; see withBiasAdd(). */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { type Info, ptr, simdKernels } from "./wasm_heap.ts";

/**
 * Add of a bias vector to every row (the layers' bias add): one SIMD pass.
 * The stock kernel computes a broadcast index per element, at 1.5x the
 * cost of a same-shape Add. Other shapes go to `original`.
 */
export function withBiasAdd(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const wasm = args.backend as BackendWasm;
    const { a, b } = args.inputs as { a: Info; b: Info };
    const [x, bias] = b.shape.length > a.shape.length ? [b, a] : [a, b];
    const cols = tf.util.sizeFromShape(bias.shape);
    const trailing = x.shape.slice(x.shape.length - bias.shape.length);
    const isBias = x.dtype === "float32" && bias.dtype === "float32" && cols % 4 === 0 &&
      cols > 0 && bias.shape.length < x.shape.length &&
      tf.util.arraysEqual(trailing, bias.shape);
    if (!isBias) return original(args);
    const out = wasm.makeOutput([...x.shape], "float32");
    const rows = tf.util.sizeFromShape(x.shape) / cols;
    const pointers = { x: ptr(wasm, x), bias: ptr(wasm, bias), out: ptr(wasm, out) };
    simdKernels(wasm).addRows(pointers, { rows, cols });
    return out;
  };
}
