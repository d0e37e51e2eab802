/**
 * The SIMD kernel module: every body in simd/ assembled into one module
 * bound to a memory, with calls that take named pointers and geometry. Each
 * body's file turns those into its positional arguments, beside the
 * parameter list they must match.
 */
import type { ConvGeometry } from "./im2col.ts";
import type { PoolGeometry } from "./pool_geometry.ts";
import { assemble } from "./wasm_asm.ts";
import { adamArgs, adamBody, type AdamPointers, type AdamScalars } from "./simd/adam_simd.ts";
import { gemmArgs, gemmBody, type GemmJob, hasRelaxedSimd } from "./simd/gemm_simd.ts";
import { im2colArgs, im2colBody } from "./simd/im2col_simd.ts";
import {
  maxPool2x2Args,
  maxPool2x2Body,
  maxPoolGradArgs,
  maxPoolGradBody,
  type PoolGradPointers,
} from "./simd/max_pool_simd.ts";
import {
  addRowsArgs,
  addRowsBody,
  columnSumArgs,
  columnSumBody,
  reluGradArgs,
  reluGradBody,
  type RowsGeometry,
} from "./simd/rows_simd.ts";

type Raw = (...args: number[]) => void;

/** The module's exports, by the names the bodies give them. */
interface RawKernels {
  max_pool_grad: Raw;
  max_pool_2x2: Raw;
  max_pool_grad_2x2: Raw;
  im2col: Raw;
  column_sum: Raw;
  relu_grad: Raw;
  add_rows: Raw;
  gemm: Raw;
  adam: Raw;
}

/** The assembled kernels; pointers are byte offsets into the bound memory. */
export interface SimdKernels {
  /** MaxPoolGrad, channels a multiple of 4; `dx` must be zeroed. */
  maxPoolGrad(p: PoolGradPointers, g: PoolGeometry): void;
  /** MaxPool of 2x2 windows with stride 2 (see isTiled2x2()). */
  maxPool2x2(p: { x: number; y: number }, g: PoolGeometry): void;
  /** MaxPoolGrad of 2x2 windows with stride 2; writes every window of `dx`. */
  maxPoolGrad2x2(p: PoolGradPointers, g: PoolGeometry): void;
  im2col(p: { x: number; out: number }, g: ConvGeometry): void;
  /** Sums over rows into `out`, which must be zeroed; cols a multiple of 4. */
  columnSum(p: { x: number; out: number; scratch: number }, g: RowsGeometry): void;
  /** Adds `bias` to every row; cols a multiple of 4. */
  addRows(p: { x: number; bias: number; out: number }, g: RowsGeometry): void;
  /** The relu gradient over n elements, n a multiple of 4. */
  reluGrad(p: { dy: number; x: number; dx: number }, n: number): void;
  gemm(job: GemmJob): void;
  /** One Adam step over n elements, n a multiple of 4. */
  adam(p: AdamPointers, n: number, s: AdamScalars): void;
}

/**
 * Assembles the kernels and binds them to `memory`: TF.js's wasm heap, or
 * the shared memory of the helper thread (see gemm_helper.ts).
 */
export function instantiateSimdKernels(memory: WebAssembly.Memory): SimdKernels {
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const module = new WebAssembly.Module(
    assemble([
      maxPoolGradBody(),
      maxPool2x2Body("forward"),
      maxPool2x2Body("grad"),
      im2colBody(),
      columnSumBody(),
      reluGradBody(),
      addRowsBody(),
      gemmBody(hasRelaxedSimd()),
      adamBody(),
    ], shared),
  );
  const raw = new WebAssembly.Instance(module, { env: { memory } })
    .exports as unknown as RawKernels;
  return {
    maxPoolGrad: (p, g) => raw.max_pool_grad(...maxPoolGradArgs(p, g)),
    maxPool2x2: (p, g) => raw.max_pool_2x2(...maxPool2x2Args({ ...p, dx: 0 }, g)),
    maxPoolGrad2x2: (p, g) => raw.max_pool_grad_2x2(...maxPool2x2Args({ ...p, y: p.dy }, g)),
    im2col: (p, g) => raw.im2col(...im2colArgs(p, g)),
    columnSum: (p, g) => raw.column_sum(...columnSumArgs(p, g)),
    addRows: (p, g) => raw.add_rows(...addRowsArgs(p, g)),
    reluGrad: (p, n) => raw.relu_grad(...reluGradArgs(p, n)),
    gemm: (job) => raw.gemm(...gemmArgs(job)),
    adam: (p, n, s) => raw.adam(...adamArgs(p, n, s)),
  };
}
