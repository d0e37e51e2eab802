/**
 * BatchMatMul on wasm for training: our SIMD gemm (split across two threads
 * when the helper runs) and, for the shapes it does not take, XNNPACK with
 * the operands oriented to keep it on its fast path.
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { splitGemm } from "./gemm_helper.ts";
import type { GemmJob } from "./simd/gemm_simd.ts";
import { callKernel, heap, heapMemory, type Info, ptr, simdKernels } from "./wasm_heap.ts";

/** `t` with its last two axes swapped, by the wasm Transpose kernel. */
export function swapLastTwo(wasm: BackendWasm, t: Info): Info {
  const perm = t.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return callKernel("Transpose", wasm, { x: t }, { perm });
}

function product(
  wasm: BackendWasm,
  plain: tf.KernelFunc,
  a: Info,
  b: Info,
): Info {
  return plain({
    inputs: { a, b },
    backend: wasm,
    attrs: { transposeA: false, transposeB: false },
  }) as Info;
}

/**
 * The wasm BatchMatMul leaves XNNPACK for a scalar loop whenever an operand
 * is transposed, and XNNPACK repacks its right operand on every call. So a
 * transposed product becomes explicit transposes plus a plain product,
 * oriented so the operand that gets packed is the small one:
 * a·bᵀ is either a·(bᵀ) or (b·aᵀ)ᵀ; aᵀ·b is either (aᵀ)·b or (bᵀ·a)ᵀ.
 */
export function withPlainMatMul(plain: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { a, b } = inputs as { a: Info; b: Info };
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    const batched = a.shape.length > 2 && tf.util.sizeFromShape(a.shape.slice(0, -2)) > 1;
    if ((!transposeA && !transposeB) || batched) {
      return plain({ inputs, backend, attrs });
    }
    const temps: Info[] = [];
    const t = (x: Info) => {
      const y = swapLastTwo(wasm, x);
      temps.push(y);
      return y;
    };
    const [m, k] = transposeA
      ? [a.shape.at(-1)!, a.shape.at(-2)!]
      : [a.shape.at(-2)!, a.shape.at(-1)!];
    const n = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
    // Costs in element moves; packing runs about 5x slower than a transpose.
    const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + 5 * k * n;
    const flipped = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + 5 * k * m + m * n;
    let out: Info;
    if (direct <= flipped) {
      out = product(wasm, plain, transposeA ? t(a) : a, transposeB ? t(b) : b);
    } else {
      const left = transposeB ? b : t(b);
      const right = transposeA ? a : t(a);
      const outT = product(wasm, plain, left, right);
      temps.push(outT);
      out = swapLastTwo(wasm, outT);
    }
    for (const x of temps) wasm.disposeData(x.dataId);
    return out;
  };
}

/**
 * BatchMatMul through our SIMD gemm, which reads both operands in place:
 * XNNPACK packs its right operand on every call, and in training that
 * operand is a weight matrix that changes every step. A transposed left
 * operand costs nothing (strides); a transposed right one costs one
 * transpose. Batched products and column counts that are not a multiple of
 * 4 go to `fallback`.
 */
export function withSimdMatMul(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const wasm = args.backend as BackendWasm;
    const { a, b } = args.inputs as { a: Info; b: Info };
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    const batch = tf.broadcast_util.assertAndGetBroadcastShape(
      a.shape.slice(0, -2),
      b.shape.slice(0, -2),
    );
    const [m, k] = transposeA
      ? [a.shape.at(-1)!, a.shape.at(-2)!]
      : [a.shape.at(-2)!, a.shape.at(-1)!];
    const n = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
    if (
      tf.util.sizeFromShape(batch) > 1 || n % 4 !== 0 || a.dtype !== "float32" ||
      b.dtype !== "float32"
    ) {
      return fallback(args);
    }
    const right = transposeB ? swapLastTwo(wasm, b) : b;
    const out = wasm.makeOutput([...batch, m, n], "float32");
    const [rowStride, kStride] = transposeA ? [1, m] : [k, 1];
    const job: GemmJob = {
      a: ptr(wasm, a),
      b: ptr(wasm, right),
      c: ptr(wasm, out),
      m,
      n,
      k,
      rowStride,
      kStride,
      accumulate: 0,
    };
    const { gemm } = simdKernels(wasm);
    if (!splitGemm(heapMemory(wasm), job, gemm)) gemm(job);
    // An empty sum never reaches the kernel's loops.
    if (k === 0) heap(wasm, out).fill(0);
    if (transposeB) wasm.disposeData(right.dataId);
    return out;
  };
}
