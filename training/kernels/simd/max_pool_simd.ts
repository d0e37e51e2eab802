import { Fn, I32 } from "../wasm_asm.ts";
import { F32_ADD, V } from "./opcodes.ts";
import type { PoolGeometry } from "../pool_geometry.ts";

/**
 * MaxPoolGrad for NHWC with channels a multiple of 4, four channels per
 * SIMD lane group. `dx` must be zeroed. Ties go to the first position in
 * window order, as on the cpu backend. Pointers are byte offsets.
 */
export function maxPoolGradBody(): Fn {
  const f = new Fn("max_pool_grad", [
    "x",
    "dy",
    "dx",
    "batch",
    "inH",
    "inW",
    "C",
    "outH",
    "outW",
    "fh",
    "fw",
    "sh",
    "sw",
    "pt",
    "pl",
  ]);
  for (
    const l of [
      "b",
      "oh",
      "ow",
      "ih0",
      "r0",
      "r1",
      "iw0",
      "c0",
      "c1",
      "ch",
      "ih",
      "iw",
      "e",
      "first",
      "dyBase",
      "t",
      "z",
    ]
  ) {
    f.local(l, "i32");
  }
  for (const l of ["best", "bestIdx", "v", "m", "lanes", "g"]) f.local(l, "v128");
  f.simd(V.const, ...new Uint8Array(new Int32Array([0, 1, 2, 3]).buffer)).set("lanes");
  f.i32(0).set("z");
  const zero = () => f.i32(0);
  f.for("b", zero, () => f.get("batch"), 1, () => {
    f.for("oh", zero, () => f.get("outH"), 1, () => {
      f.get("oh").get("sh").op(I32.mul).get("pt").op(I32.sub).set("ih0");
      f.max("ih0", "z").set("r0");
      f.get("ih0").get("fh").op(I32.add).set("t");
      f.min("t", "inH").set("r1");
      f.for("ow", zero, () => f.get("outW"), 1, () => {
        f.get("ow").get("sw").op(I32.mul).get("pl").op(I32.sub).set("iw0");
        f.max("iw0", "z").set("c0");
        f.get("iw0").get("fw").op(I32.add).set("t");
        f.min("t", "inW").set("c1");
        f.if(
          () => f.get("r0").get("r1").op(I32.lt_s).get("c0").get("c1").op(I32.lt_s).op(I32.and),
          () => {
            f.get("b").get("inH").op(I32.mul).get("r0").op(I32.add).get("inW").op(I32.mul)
              .get("c0").op(I32.add).get("C").op(I32.mul).set("first");
            f.get("b").get("outH").op(I32.mul).get("oh").op(I32.add).get("outW").op(I32.mul)
              .get("ow").op(I32.add).get("C").op(I32.mul).set("dyBase");
            f.for("ch", zero, () => f.get("C"), 4, () => {
              f.get("first").get("ch").op(I32.add).set("e");
              f.addr("x", "e").v128load().set("best");
              f.get("e").simd(V.i32x4_splat).get("lanes").simd(V.i32x4_add).set("bestIdx");
              f.for("ih", () => f.get("r0"), () => f.get("r1"), 1, () => {
                // e walks the row by C: no index arithmetic in the inner loop.
                f.get("b").get("inH").op(I32.mul).get("ih").op(I32.add).get("inW").op(I32.mul)
                  .get("c0").op(I32.add).get("C").op(I32.mul).get("ch").op(I32.add).set("e");
                f.for("iw", () => f.get("c0"), () => f.get("c1"), 1, () => {
                  f.addr("x", "e").v128load().set("v");
                  f.get("v").get("best").simd(V.f32x4_gt).set("m");
                  f.get("v").get("best").get("m").simd(V.bitselect).set("best");
                  f.get("e").simd(V.i32x4_splat).get("lanes").simd(V.i32x4_add)
                    .get("bestIdx").get("m").simd(V.bitselect).set("bestIdx");
                  f.get("e").get("C").op(I32.add).set("e");
                });
              });
              f.get("dyBase").get("ch").op(I32.add).set("t");
              f.addr("dy", "t").v128load().set("g");
              for (let lane = 0; lane < 4; lane++) {
                f.get("bestIdx").simd(V.i32x4_extract, lane).set("t");
                f.addr("dx", "t").addr("dx", "t").f32load().get("g").simd(V.f32x4_extract, lane)
                  .op(F32_ADD).f32store();
              }
            });
          },
        );
      });
    });
  });
  return f;
}

/**
 * 2x2 pooling with stride 2 and no padding (the model's pool), unrolled.
 * "forward" writes the window maxima to y. "grad" reads dy from y and
 * writes dx whole: each dy to its window's first maximum, zeros elsewhere,
 * as max_pool_grad does. C is a multiple of 4; rows and columns past
 * the last window are left to the caller.
 */
export function maxPool2x2Body(kind: "forward" | "grad"): Fn {
  const f = new Fn(kind === "forward" ? "max_pool_2x2" : "max_pool_grad_2x2", [
    "x",
    "y",
    "dx",
    "batch",
    "inH",
    "inW",
    "C",
    "outH",
    "outW",
  ]);
  const offsets = ["o0", "o1", "o2", "o3"];
  for (const l of ["b", "oh", "ow", "ch", "w", "e", "d", "yp", ...offsets]) f.local(l, "i32");
  for (const l of ["best", "bestIdx", "v", "m", "g"]) f.local(l, "v128");
  const zero = () => f.i32(0);
  const lanes = (p: number) => f.simd(V.const, ...new Uint8Array(new Int32Array(4).fill(p).buffer));
  // Byte offsets of the window's positions from its first element.
  f.i32(0).set("o0");
  f.get("C").i32(2).op(I32.shl).set("o1");
  f.get("inW").get("C").op(I32.mul).i32(2).op(I32.shl).set("o2");
  f.get("o2").get("o1").op(I32.add).set("o3");
  f.get("y").set("yp");
  f.for("b", zero, () => f.get("batch"), 1, () => {
    f.for("oh", zero, () => f.get("outH"), 1, () => {
      // w: byte address of the current window's first element in x.
      f.get("b").get("inH").op(I32.mul).get("oh").i32(1).op(I32.shl).op(I32.add).get("inW")
        .op(I32.mul).get("C").op(I32.mul).i32(2).op(I32.shl).get("x").op(I32.add).set("w");
      f.for("ow", zero, () => f.get("outW"), 1, () => {
        f.for("ch", zero, () => f.get("C"), 4, () => {
          f.get("w").get("ch").i32(2).op(I32.shl).op(I32.add).set("e");
          f.get("e").v128load().set("best");
          if (kind === "grad") lanes(0).set("bestIdx");
          for (let p = 1; p < 4; p++) {
            f.get("e").get(offsets[p]).op(I32.add).v128load().set("v");
            f.get("v").get("best").simd(V.f32x4_gt).set("m");
            f.get("v").get("best").get("m").simd(V.bitselect).set("best");
            if (kind === "grad") {
              lanes(p).get("bestIdx").get("m").simd(V.bitselect).set("bestIdx");
            }
          }
          if (kind === "forward") {
            f.get("yp").get("best").v128store();
          } else {
            f.get("yp").v128load().set("g");
            // dx's element sits as far from dx as x's from x.
            f.get("e").get("x").op(I32.sub).get("dx").op(I32.add).set("d");
            for (let p = 0; p < 4; p++) {
              f.get("d").get(offsets[p]).op(I32.add).get("g").get("bestIdx");
              lanes(p).simd(V.i32x4_eq).simd(V.and).v128store();
            }
          }
          f.get("yp").i32(16).op(I32.add).set("yp");
        });
        f.get("w").get("o1").op(I32.add).get("o1").op(I32.add).set("w");
      });
    });
  });
  return f;
}

/** Byte offsets of a max-pool gradient's tensors in the heap. */
export interface PoolGradPointers {
  x: number;
  dy: number;
  dx: number;
}

/** max_pool_grad's arguments, in the order its body declares them. */
export function maxPoolGradArgs(p: PoolGradPointers, g: PoolGeometry): number[] {
  return [
    p.x,
    p.dy,
    p.dx,
    g.batch,
    g.inHeight,
    g.inWidth,
    g.channels,
    g.outHeight,
    g.outWidth,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.padTop,
    g.padLeft,
  ];
}

/**
 * max_pool_2x2's and max_pool_grad_2x2's arguments, in the order their body
 * declares them: `y` is the pooled output (forward) or dy (grad), and `dx`
 * is 0 for the forward pass, which does not use it.
 */
export function maxPool2x2Args(p: { x: number; y: number; dx: number }, g: PoolGeometry): number[] {
  return [p.x, p.y, p.dx, g.batch, g.inHeight, g.inWidth, g.channels, g.outHeight, g.outWidth];
}
