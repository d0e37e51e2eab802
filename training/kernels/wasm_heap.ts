/**
 * Access to the TF.js wasm backend's heap for our kernels: tensor data as
 * views and byte offsets, and the SIMD kernels bound to the same memory.
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { instantiateSimdKernels, type SimdKernels } from "./simd_kernels.ts";

export type KernelArgs = Parameters<tf.KernelFunc>[0];
export type Info = tf.TensorInfo;

/** A float view of a tensor's data; take it after any allocation (the heap may grow). */
export function heap(backend: BackendWasm, info: Info): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Byte offset of a tensor's data in the wasm heap. */
export function ptr(backend: BackendWasm, info: Info): number {
  return backend.dataIdMap.get(info.dataId)!.memoryOffset;
}

let simd: SimdKernels | undefined;

/** The wasm backend's heap. */
export function heapMemory(backend: BackendWasm): WebAssembly.Memory {
  const memory = (backend.wasm as unknown as { asm?: { memory?: WebAssembly.Memory } }).asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) {
    throw new Error("Expected the TF.js wasm module to export its memory");
  }
  return memory;
}

/** Our SIMD kernels, bound to the wasm backend's own memory. */
export function simdKernels(backend: BackendWasm): SimdKernels {
  simd ??= instantiateSimdKernels(heapMemory(backend));
  return simd;
}

/** Runs another wasm kernel directly, outside the engine (no tape, no profiling). */
export function callKernel(
  name: string,
  backend: BackendWasm,
  inputs: Record<string, Info>,
  attrs: Record<string, unknown>,
): Info {
  const kernel = tf.getKernel(name, "wasm");
  if (!kernel) {
    throw new Error(`Expected the wasm backend to have kernel '${name}'`);
  }
  return kernel.kernelFunc({
    inputs,
    backend,
    attrs: attrs as tf.NamedAttrMap,
  }) as Info;
}
