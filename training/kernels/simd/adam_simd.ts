import { Fn } from "../wasm_asm.ts";
import { F32_REINTERPRET_I32, V } from "./opcodes.ts";

/**
 * One Adam step over n elements (n a multiple of 4), with TF.js's own
 * float32 operations in TF.js's order, so the result is bit-identical to
 * tf.train.adam: m' = m*b1 + g*(1-b1); v' = v*b2 + g²*(1-b2);
 * value' = (m'/c1) / (sqrt(v'/c2) + eps) * -lr + value, where c1 and c2
 * are 1 - beta^t. Scalars come as float32 bit patterns.
 */
export function adamBody(): Fn {
  const scalars = ["b1", "omb1", "b2", "omb2", "c1", "c2", "eps", "nlr"];
  const f = new Fn("adam", ["value", "g", "m", "v", "outValue", "outM", "outV", "n", ...scalars]);
  f.local("i", "i32");
  for (const l of [...scalars.map((s) => `${s}x4`), "gi", "mi", "vi"]) f.local(l, "v128");
  for (const s of scalars) f.get(s).op(F32_REINTERPRET_I32).simd(V.f32x4_splat).set(`${s}x4`);
  f.for("i", () => f.i32(0), () => f.get("n"), 4, () => {
    f.addr("g", "i").v128load().set("gi");
    f.addr("m", "i").v128load().get("b1x4").simd(V.f32x4_mul)
      .get("gi").get("omb1x4").simd(V.f32x4_mul).simd(V.f32x4_add).set("mi");
    f.addr("v", "i").v128load().get("b2x4").simd(V.f32x4_mul)
      .get("gi").get("gi").simd(V.f32x4_mul).get("omb2x4").simd(V.f32x4_mul)
      .simd(V.f32x4_add).set("vi");
    f.addr("outM", "i").get("mi").v128store();
    f.addr("outV", "i").get("vi").v128store();
    f.addr("outValue", "i");
    f.get("mi").get("c1x4").simd(V.f32x4_div);
    f.get("vi").get("c2x4").simd(V.f32x4_div).simd(V.f32x4_sqrt).get("epsx4").simd(V.f32x4_add);
    f.simd(V.f32x4_div).get("nlrx4").simd(V.f32x4_mul);
    f.addr("value", "i").v128load().simd(V.f32x4_add).v128store();
  });
  return f;
}

/** Byte offsets of the tensors of one Adam step: inputs, then outputs. */
export interface AdamPointers {
  value: number;
  gradient: number;
  m: number;
  v: number;
  outValue: number;
  outM: number;
  outV: number;
}

/** The scalars of one Adam step, as adam's body names them. */
export interface AdamScalars {
  b1: number;
  omb1: number;
  b2: number;
  omb2: number;
  c1: number;
  c2: number;
  eps: number;
  nlr: number;
}

function f32Bits(x: number): number {
  return new Int32Array(Float32Array.of(x).buffer)[0];
}

/** adam's arguments, in the order its body declares them; scalars as float32 bits. */
export function adamArgs(p: AdamPointers, n: number, s: AdamScalars): number[] {
  const scalars = [s.b1, s.omb1, s.b2, s.omb2, s.c1, s.c2, s.eps, s.nlr];
  return [p.value, p.gradient, p.m, p.v, p.outValue, p.outM, p.outV, n, ...scalars.map(f32Bits)];
}
