/**
 * The kernel registry of training on wasm: registerTrainingKernels() puts
 * each kernel of this folder in place of (or beside) TF.js's own.
 */
import * as tf from "@tensorflow/tfjs";
import { ADAM_KERNEL, adamKernel } from "./adam.ts";
import { withPlainMatMul, withSimdMatMul } from "./batch_matmul.ts";
import { withBiasAdd } from "./bias_add.ts";
import { withColumnSum } from "./column_sum.ts";
import { withIm2colConv } from "./conv2d.ts";
import { conv2dBackpropFilter } from "./conv2d_backprop_filter.ts";
import { sharedIdentity } from "./identity.ts";
import { withTiledMaxPool } from "./max_pool.ts";
import { maxPoolGrad } from "./max_pool_grad.ts";
import { registerWasmReluGradient, RELU_GRAD, reluGradKernel } from "./relu_grad.ts";

let registered = false;

/** Swaps a wasm kernel for `make(original)`; the original may be absent. */
function replaceKernel(name: string, make: (original?: tf.KernelFunc) => tf.KernelFunc): void {
  const original = tf.getKernel(name, "wasm");
  if (original) tf.unregisterKernel(name, "wasm");
  // No setupFunc: the original's already ran when the backend started.
  tf.registerKernel({
    kernelName: name,
    backendName: "wasm",
    kernelFunc: make(original?.kernelFunc),
  });
}

/**
 * Registers the kernels training needs on the wasm backend: the missing
 * Conv2DBackpropFilter; SIMD Conv2D, MaxPoolGrad, relu gradient, bias Add
 * and bias-gradient Sum; BatchMatMul through our own gemm; the fused Adam
 * step; and a copy-free Identity. Idempotent.
 *
 * @example
 * ```ts
 * await useBackend("wasm");
 * registerTrainingKernels();
 * ```
 */
export function registerTrainingKernels(): void {
  if (registered) return;
  if (!tf.getKernel("BatchMatMul", "wasm")) {
    throw new Error("Expected the wasm backend to be loaded before training");
  }
  replaceKernel("BatchMatMul", (original) => withSimdMatMul(withPlainMatMul(original!)));
  replaceKernel("MaxPoolGrad", () => maxPoolGrad);
  replaceKernel("MaxPool", (original) => withTiledMaxPool(original!));
  replaceKernel("Identity", () => sharedIdentity);
  replaceKernel("Sum", (original) => withColumnSum(original!));
  replaceKernel("Conv2D", (original) => withIm2colConv(original!));
  replaceKernel("Conv2DBackpropFilter", () => conv2dBackpropFilter);
  replaceKernel(RELU_GRAD, () => reluGradKernel);
  replaceKernel("Add", (original) => withBiasAdd(original!));
  replaceKernel(ADAM_KERNEL, () => adamKernel as tf.KernelFunc);
  registerWasmReluGradient();
  registered = true;
}
