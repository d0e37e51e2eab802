/** The fused Adam step on wasm, used by training/wasm_adam.ts. */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { AdamScalars } from "./simd/adam_simd.ts";
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

let calls = 0;

/**
 * Variable updates done by the fused kernel so far, in this process: tests
 * check it, since a silent fallback to stock Adam gives the same weights.
 */
export function fusedAdamCalls(): number {
  return calls;
}

/** Outputs [value', m', v'] of one Adam step; see adamBody() in simd/adam_simd.ts. */
export function adamKernel({ inputs, backend, attrs }: KernelArgs): Info[] {
  const wasm = backend as BackendWasm;
  const { value, gradient, m, v, c1, c2 } = inputs as Record<string, Info>;
  const a = attrs as unknown as AdamAttrs;
  const outs = [value, m, v].map((t) => wasm.makeOutput([...t.shape], "float32"));
  const scalars: AdamScalars = {
    b1: a.beta1,
    omb1: 1 - a.beta1,
    b2: a.beta2,
    omb2: 1 - a.beta2,
    c1: heap(wasm, c1)[0],
    c2: heap(wasm, c2)[0],
    eps: a.epsilon,
    nlr: -a.learningRate,
  };
  const n = tf.util.sizeFromShape(value.shape);
  const whole = n - (n % 4);
  const p = (t: Info) => ptr(wasm, t);
  const [outValue, outM, outV] = outs.map(p);
  const pointers = { value: p(value), gradient: p(gradient), m: p(m), v: p(v) };
  simdKernels(wasm).adam({ ...pointers, outValue, outM, outV }, whole, scalars);
  if (whole < n) adamTail(wasm, [value, gradient, m, v, ...outs], whole, n, scalars);
  calls++;
  return outs;
}

/** Elements whole..n-1: the same float32 operations as the SIMD loop, one at a time. */
function adamTail(wasm: BackendWasm, tensors: Info[], whole: number, n: number, s: AdamScalars) {
  const r = Math.fround;
  const [b1, omb1, b2, omb2, c1, c2, eps, nlr] = [
    s.b1,
    s.omb1,
    s.b2,
    s.omb2,
    s.c1,
    s.c2,
    s.eps,
    s.nlr,
  ].map(r);
  const [val, g, mm, vv, outVal, outM, outV] = tensors.map((t) => heap(wasm, t));
  for (let i = whole; i < n; i++) {
    const mi = r(r(mm[i] * b1) + r(g[i] * omb1));
    const vi = r(r(vv[i] * b2) + r(r(g[i] * g[i]) * omb2));
    const step = r(r(mi / c1) / r(r(Math.sqrt(r(vi / c2))) + eps));
    [outM[i], outV[i], outVal[i]] = [mi, vi, r(r(step * nlr) + val[i])];
  }
}
