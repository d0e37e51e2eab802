import { Fn, I32 } from "../wasm_asm.ts";
import type { ConvGeometry } from "../im2col.ts";

/**
 * Patch matrix [batch*outH*outW, fh*fw*inC] of NHWC `x`, zeros over the
 * padding; the same layout as im2col() in im2col.ts.
 */
export function im2colBody(): Fn {
  const f = new Fn("im2col", [
    "x",
    "out",
    "batch",
    "inH",
    "inW",
    "inC",
    "outH",
    "outW",
    "fh",
    "fw",
    "sh",
    "sw",
    "dh",
    "dw",
    "pt",
    "pl",
  ]);
  for (const l of ["b", "oh", "ow", "fr", "fc", "ic", "ih", "iw", "iw0", "run", "ok", "src", "o"]) {
    f.local(l, "i32");
  }
  const zero = () => f.i32(0);
  /** Copies `count` floats from src to o, advancing both. */
  const copy = (count: string) =>
    f.for("ic", zero, () => f.get(count), 1, () => {
      f.get("o").get("src").f32load().f32store();
      f.get("o").i32(4).op(I32.add).set("o");
      f.get("src").i32(4).op(I32.add).set("src");
    });
  f.get("out").set("o");
  f.for("b", zero, () => f.get("batch"), 1, () => {
    f.for("oh", zero, () => f.get("outH"), 1, () => {
      f.for("ow", zero, () => f.get("outW"), 1, () => {
        f.for("fr", zero, () => f.get("fh"), 1, () => {
          f.get("oh").get("sh").op(I32.mul).get("pt").op(I32.sub).get("fr").get("dh").op(I32.mul)
            .op(I32.add).set("ih");
          f.get("ow").get("sw").op(I32.mul).get("pl").op(I32.sub).set("iw0");
          // Fast path: the whole filter row lies inside the image and is contiguous.
          const inside = () =>
            f.get("ih").i32(0).op(I32.ge_s).get("ih").get("inH").op(I32.lt_s).op(I32.and)
              .get("iw0").i32(0).op(I32.ge_s).op(I32.and)
              .get("iw0").get("fw").op(I32.add).get("inW").op(I32.le_s).op(I32.and)
              .get("dw").i32(1).op(I32.eq).op(I32.and);
          f.if(inside, () => {
            f.get("b").get("inH").op(I32.mul).get("ih").op(I32.add).get("inW").op(I32.mul)
              .get("iw0").op(I32.add).get("inC").op(I32.mul).i32(2).op(I32.shl).get("x").op(I32.add)
              .set("src");
            f.get("fw").get("inC").op(I32.mul).set("run");
            copy("run");
          }, () => {
            f.for("fc", zero, () => f.get("fw"), 1, () => {
              f.get("iw0").get("fc").get("dw").op(I32.mul).op(I32.add).set("iw");
              f.get("ih").i32(0).op(I32.ge_s).get("ih").get("inH").op(I32.lt_s).op(I32.and)
                .get("iw").i32(0).op(I32.ge_s).op(I32.and).get("iw").get("inW").op(I32.lt_s)
                .op(I32.and).set("ok");
              f.if(() => f.get("ok"), () => {
                f.get("b").get("inH").op(I32.mul).get("ih").op(I32.add).get("inW").op(I32.mul)
                  .get("iw").op(I32.add).get("inC").op(I32.mul).i32(2).op(I32.shl).get("x")
                  .op(I32.add).set("src");
                copy("inC");
              }, () => {
                f.for("ic", zero, () => f.get("inC"), 1, () => {
                  f.get("o").op(0x43, 0, 0, 0, 0).f32store(); // f32.const 0
                  f.get("o").i32(4).op(I32.add).set("o");
                });
              });
            });
          });
        });
      });
    });
  });
  return f;
}

/** im2col's arguments (byte offsets, then geometry), in the order its body declares them. */
export function im2colArgs(p: { x: number; out: number }, g: ConvGeometry): number[] {
  return [
    p.x,
    p.out,
    g.batch,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.outHeight,
    g.outWidth,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.dilationHeight,
    g.dilationWidth,
    g.padTop,
    g.padLeft,
  ];
}
