/** The relu gradient on wasm as one fused kernel; see registerWasmReluGradient(). */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { heap, type Info, type KernelArgs, ptr, simdKernels } from "./wasm_heap.ts";

/** Kernel of the relu gradient on wasm. */
export const RELU_GRAD = "FashionWasmReluGrad";

/** dx = dy where x > 0, else 0: SIMD over whole groups of 4, the tail in JS. */
export function reluGradKernel({ inputs, backend }: KernelArgs): Info {
  const wasm = backend as BackendWasm;
  const { dy, x } = inputs as { dy: Info; x: Info };
  const dx = wasm.makeOutput([...x.shape], "float32");
  const n = tf.util.sizeFromShape(x.shape);
  const whole = n - (n % 4);
  simdKernels(wasm).reluGrad({ dy: ptr(wasm, dy), x: ptr(wasm, x), dx: ptr(wasm, dx) }, whole);
  if (whole < n) {
    const [dyv, xv, dxv] = [heap(wasm, dy), heap(wasm, x), heap(wasm, dx)];
    for (let i = whole; i < n; i++) dxv[i] = xv[i] > 0 ? dyv[i] : 0;
  }
  return dx;
}

/**
 * Makes Relu's gradient run {@linkcode RELU_GRAD} on wasm: Step, Cast and
 * Multiply over every activation cost 4x one fused pass. Other backends
 * keep TF.js's own gradient.
 */
export function registerWasmReluGradient(): void {
  const reluGradient = tf.getGradient("Relu")!;
  tf.registerGradient({
    ...reluGradient,
    gradFunc: (dy, saved, attrs) =>
      tf.getBackend() === "wasm" && !Array.isArray(dy) && dy.dtype === "float32"
        ? { x: () => tf.engine().runKernel(RELU_GRAD, { dy, x: saved[0] }) as tf.Tensor }
        : reluGradient.gradFunc(dy, saved, attrs),
  });
}
