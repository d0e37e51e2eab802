/**
 * The compiled conv + bias + relu + 2x2 max-pool kernels (c/conv_relu_pool.c,
 * built by `deno task kernels:build`), bound to TF.js's wasm heap. The C code
 * needs a stack, and the linker would put it at the bottom of the imported
 * memory, where TF.js keeps its own data: so each call points the module's
 * stack pointer at a block allocated for it in the heap, beside the geometry.
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { heapMemory, ptr } from "./wasm_heap.ts";

/** Shapes of one fused block: NHWC input, [fh, fw, inC, outC] filter, 2x2 pools. */
export interface ConvPoolGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  filterHeight: number;
  filterWidth: number;
  outChannels: number;
  poolHeight: number;
  poolWidth: number;
}

type Raw = (...args: number[]) => number;

interface RawExports {
  __stack_pointer: WebAssembly.Global;
  conv_relu_pool: Raw;
  conv_relu_pool_filter_grad: Raw;
  conv_relu_pool_bias_grad: Raw;
  conv_relu_pool_input_grad: Raw;
}

/** The kernels; pointers are byte offsets into the heap. */
export interface ConvPoolKernels {
  forward(
    g: ConvPoolGeometry,
    p: { x: number; w: number; bias: number; y: number; arg: number },
  ): void;
  filterGrad(g: ConvPoolGeometry, p: { x: number; dy: number; arg: number; dw: number }): void;
  biasGrad(g: ConvPoolGeometry, p: { dy: number; arg: number; db: number }): void;
  inputGrad(g: ConvPoolGeometry, p: { w: number; dy: number; arg: number; dx: number }): void;
}

const STACK_BYTES = 65_536;
/** Bytes before the stack: the geometry struct (9 int32), padded. */
const GEOMETRY_BYTES = 64;
/** The filter gradient keeps one register per tap: patches up to this size. */
export const MAX_PATCH = 64;

let module: WebAssembly.Module | undefined;
let bound: { backend: BackendWasm; kernels: ConvPoolKernels } | undefined;

/** The kernels bound to `backend`'s heap (instantiated once per backend). */
export function convPoolKernels(backend: BackendWasm): ConvPoolKernels {
  if (bound?.backend === backend) return bound.kernels;
  module ??= new WebAssembly.Module(
    Deno.readFileSync(new URL("./c/conv_relu_pool.wasm", import.meta.url)),
  );
  const raw = new WebAssembly.Instance(module, { env: { memory: heapMemory(backend) } })
    .exports as unknown as RawExports;
  // Kept for the backend's lifetime: the block never moves (the heap grows, it is not moved).
  const block = backend.makeOutput([(GEOMETRY_BYTES + STACK_BYTES) / 4], "float32");
  const base = ptr(backend, block);
  const call = (fn: Raw, g: ConvPoolGeometry, args: number[]): number => {
    new Int32Array(heapMemory(backend).buffer, base, 9).set([
      g.batch,
      g.inHeight,
      g.inWidth,
      g.inChannels,
      g.filterHeight,
      g.filterWidth,
      g.outChannels,
      g.poolHeight,
      g.poolWidth,
    ]);
    raw.__stack_pointer.value = base + GEOMETRY_BYTES + STACK_BYTES;
    return fn(base, ...args);
  };
  const kernels: ConvPoolKernels = {
    forward: (g, p) => call(raw.conv_relu_pool, g, [p.x, p.w, p.bias, p.y, p.arg]),
    filterGrad: (g, p) => {
      if (call(raw.conv_relu_pool_filter_grad, g, [p.x, p.dy, p.arg, p.dw]) !== 0) {
        throw new RangeError(
          `conv_relu_pool_filter_grad takes patches of at most ${MAX_PATCH} weights, got ${
            g.filterHeight * g.filterWidth * g.inChannels
          }`,
        );
      }
    },
    biasGrad: (g, p) => call(raw.conv_relu_pool_bias_grad, g, [p.dy, p.arg, p.db]),
    inputGrad: (g, p) => call(raw.conv_relu_pool_input_grad, g, [p.w, p.dy, p.arg, p.dx]),
  };
  bound = { backend, kernels };
  return kernels;
}
