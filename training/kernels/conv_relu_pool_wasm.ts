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

/** Bytes of the stack each instance gets. */
export const STACK_BYTES = 65_536;
/** Bytes before the stack: the geometry struct (9 int32), padded. */
export const GEOMETRY_BYTES = 64;
/** The block one instance needs: geometry, then its stack. */
export const CALL_BLOCK_BYTES = GEOMETRY_BYTES + STACK_BYTES;
/** The filter gradient keeps one register per tap: patches up to this size. */
export const MAX_PATCH = 64;

const modules: Partial<Record<"heap" | "shared", WebAssembly.Module>> = {};

/** The compiled module for a plain (TF.js's heap) or a shared memory. */
function compiled(kind: "heap" | "shared"): WebAssembly.Module {
  const file = kind === "heap" ? "conv_relu_pool.wasm" : "conv_relu_pool_shared.wasm";
  return modules[kind] ??= new WebAssembly.Module(
    Deno.readFileSync(new URL(`./c/${file}`, import.meta.url)),
  );
}

/**
 * The kernels on `memory`, with `block` (CALL_BLOCK_BYTES at that byte
 * offset, reserved for them) holding the geometry and the stack of each call.
 */
export function bindConvPoolKernels(memory: WebAssembly.Memory, block: number): ConvPoolKernels {
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const raw = new WebAssembly.Instance(compiled(shared ? "shared" : "heap"), { env: { memory } })
    .exports as unknown as RawExports;
  const call = (fn: Raw, g: ConvPoolGeometry, args: number[]): number => {
    new Int32Array(memory.buffer, block, 9).set(geometryArgs(g));
    raw.__stack_pointer.value = block + CALL_BLOCK_BYTES;
    return fn(block, ...args);
  };
  return {
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
}

/** The geometry as the C struct's 9 int32 fields, in order. */
export function geometryArgs(g: ConvPoolGeometry): number[] {
  return [
    g.batch,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.filterHeight,
    g.filterWidth,
    g.outChannels,
    g.poolHeight,
    g.poolWidth,
  ];
}

/** The geometry that geometryArgs() turned into `args`. */
export function geometryFromArgs(args: ArrayLike<number>): ConvPoolGeometry {
  return {
    batch: args[0],
    inHeight: args[1],
    inWidth: args[2],
    inChannels: args[3],
    filterHeight: args[4],
    filterWidth: args[5],
    outChannels: args[6],
    poolHeight: args[7],
    poolWidth: args[8],
  };
}

let bound: { backend: BackendWasm; kernels: ConvPoolKernels } | undefined;

/** The kernels bound to `backend`'s heap (instantiated once per backend). */
export function convPoolKernels(backend: BackendWasm): ConvPoolKernels {
  if (bound?.backend === backend) return bound.kernels;
  // Kept for the backend's lifetime: the heap grows in place, the block never moves.
  const block = backend.makeOutput([CALL_BLOCK_BYTES / 4], "float32");
  const kernels = bindConvPoolKernels(heapMemory(backend), ptr(backend, block));
  bound = { backend, kernels };
  return kernels;
}
