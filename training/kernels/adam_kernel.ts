/** The fused Adam step on wasm, used by training/wasm_adam.ts. */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { heap, type Info, type KernelArgs, ptr, simdKernels } from "./wasm_heap.ts";

/** Kernel of one fused Adam step on wasm; see training/wasm_adam.ts. */
export const ADAM_KERNEL = "FashionWasmAdam";

/** Attributes of {@linkcode ADAM_KERNEL}; c1 and c2 (1 - beta^t) are inputs. */
export interface AdamAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
}

function f32Bits(x: number): number {
  return new Int32Array(Float32Array.of(x).buffer)[0];
}

/** Outputs [value', m', v'] of one Adam step; see adam() in simd_kernels.ts. */
export function adamKernel({ inputs, backend, attrs }: KernelArgs): Info[] {
  const wasm = backend as BackendWasm;
  const { value, gradient, m, v, c1, c2 } = inputs as Record<string, Info>;
  const a = attrs as unknown as AdamAttrs;
  const outs = [value, m, v].map((t) => wasm.makeOutput([...t.shape], "float32"));
  const scalars = [
    a.beta1,
    1 - a.beta1,
    a.beta2,
    1 - a.beta2,
    heap(wasm, c1)[0],
    heap(wasm, c2)[0],
    a.epsilon,
    -a.learningRate,
  ];
  const n = tf.util.sizeFromShape(value.shape);
  const whole = n - (n % 4);
  const pointers = [value, gradient, m, v, ...outs].map((t) => ptr(wasm, t));
  simdKernels(wasm).adam(...pointers, whole, ...scalars.map(f32Bits));
  if (whole < n) {
    // The same float32 operations as the SIMD loop, one element at a time.
    const r = Math.fround;
    const [b1, omb1, b2, omb2, cc1, cc2, eps, nlr] = scalars.map(r);
    const [val, g, mm, vv, outVal, outM, outV] = [value, gradient, m, v, ...outs].map((t) =>
      heap(wasm, t)
    );
    for (let i = whole; i < n; i++) {
      const mi = r(r(mm[i] * b1) + r(g[i] * omb1));
      const vi = r(r(vv[i] * b2) + r(r(g[i] * g[i]) * omb2));
      const step = r(r(mi / cc1) / r(r(Math.sqrt(r(vi / cc2))) + eps));
      [outM[i], outV[i], outVal[i]] = [mi, vi, r(r(step * nlr) + val[i])];
    }
  }
  return outs;
}
