import { assemble, Fn, I32 } from "./wasm_asm.ts";

/** SIMD opcodes (after the 0xfd prefix) the kernels use. */
const V = {
  const: 0x0c,
  i32x4_splat: 0x11,
  f32x4_splat: 0x13,
  i32x4_extract: 0x1b,
  f32x4_extract: 0x1f,
  f32x4_gt: 0x44,
  bitselect: 0x52,
  i32x4_add: 0xae,
  i32x4_eq: 0x37,
  and: 0x4e,
  f32x4_add: 0xe4,
  f32x4_mul: 0xe6,
  f32x4_div: 0xe7,
  f32x4_sqrt: 0xe3,
  load32_splat: 0x09,
  relaxed_madd: 0x105,
} as const;
const F32_ADD = 0x92;
const F32_REINTERPRET_I32 = 0xbe;

/**
 * MaxPoolGrad for NHWC with channels a multiple of 4, four channels per
 * SIMD lane group. `dx` must be zeroed. Ties go to the first position in
 * window order, as on the cpu backend. Pointers are byte offsets.
 */
function maxPoolGrad(): Fn {
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
function maxPool2x2(kind: "forward" | "grad"): Fn {
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

/**
 * Patch matrix [batch*outH*outW, fh*fw*inC] of NHWC `x`, zeros over the
 * padding; the same layout as im2col() in im2col.ts.
 */
function im2col(): Fn {
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

/**
 * out[c] = Σ_r x[r, c] for x [rows, cols], cols a multiple of 4: bias
 * gradients. Rows go in blocks of 1024 into `scratch` (cols floats) before
 * joining `out`, which keeps float32 rounding error near that of pairwise
 * summation. `out` must be zeroed.
 */
function sumRows(): Fn {
  const f = new Fn("sum_rows", ["x", "out", "scratch", "rows", "cols"]);
  for (const l of ["r0", "r1", "r", "c", "t", "xp"]) f.local(l, "i32");
  const zero = () => f.i32(0);
  f.get("x").set("xp");
  f.for("r0", zero, () => f.get("rows"), 1024, () => {
    f.get("r0").i32(1024).op(I32.add).set("t");
    f.min("t", "rows").set("r1");
    f.for("c", zero, () => f.get("cols"), 4, () => {
      f.addr("scratch", "c").simd(V.const, ...new Uint8Array(16)).v128store();
    });
    f.for("r", () => f.get("r0"), () => f.get("r1"), 1, () => {
      f.for("c", zero, () => f.get("cols"), 4, () => {
        f.addr("scratch", "c").addr("scratch", "c").v128load().addr("xp", "c").v128load()
          .simd(V.f32x4_add).v128store();
      });
      f.get("xp").get("cols").i32(2).op(I32.shl).op(I32.add).set("xp");
    });
    f.for("c", zero, () => f.get("cols"), 4, () => {
      f.addr("out", "c").addr("out", "c").v128load().addr("scratch", "c").v128load()
        .simd(V.f32x4_add).v128store();
    });
  });
  return f;
}

/** out[r, c] = x[r, c] + bias[c] for x [rows, cols], cols a multiple of 4. */
function addRows(): Fn {
  const f = new Fn("add_rows", ["x", "bias", "out", "rows", "cols"]);
  for (const l of ["r", "c", "xp", "op"]) f.local(l, "i32");
  f.get("x").set("xp");
  f.get("out").set("op");
  f.for("r", () => f.i32(0), () => f.get("rows"), 1, () => {
    f.for("c", () => f.i32(0), () => f.get("cols"), 4, () => {
      f.addr("op", "c").addr("xp", "c").v128load().addr("bias", "c").v128load()
        .simd(V.f32x4_add).v128store();
    });
    f.get("xp").get("cols").i32(2).op(I32.shl).op(I32.add).set("xp");
    f.get("op").get("cols").i32(2).op(I32.shl).op(I32.add).set("op");
  });
  return f;
}

/** dx = dy where x > 0, else 0: the gradient of relu, for n a multiple of 4. */
function reluGrad(): Fn {
  const f = new Fn("relu_grad", ["dy", "x", "dx", "n"]);
  f.local("i", "i32");
  f.for("i", () => f.i32(0), () => f.get("n"), 4, () => {
    f.addr("dx", "i");
    f.addr("dy", "i").v128load();
    f.simd(V.const, ...new Uint8Array(16));
    f.addr("x", "i").v128load().simd(V.const, ...new Uint8Array(16)).simd(V.f32x4_gt);
    f.simd(V.bitselect).v128store();
  });
  return f;
}

/**
 * One Adam step over n elements (n a multiple of 4), with TF.js's own
 * float32 operations in TF.js's order, so the result is bit-identical to
 * tf.train.adam: m' = m*b1 + g*(1-b1); v' = v*b2 + g²*(1-b2);
 * value' = (m'/c1) / (sqrt(v'/c2) + eps) * -lr + value, where c1 and c2
 * are 1 - beta^t. Scalars come as float32 bit patterns.
 */
function adam(): Fn {
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

/** Rows and columns of one register tile of gemm(), and its K block. */
const TILE_ROWS = 4;
const TILE_VECTORS = 2;
const K_BLOCK = 256;

/**
 * C[M, N] = A·B (or += when `accumulate` is 1) for B [K, N] row-major, N a
 * multiple of 4; K = 0 gives zeros. A's element
 * (i, k) sits at A + 4*(i*sAi + k*sAk), so a transposed A needs no copy.
 * B is read in place: XNNPACK packs its right operand on every call, and
 * the Dense weights change every step. Tiles of 4 rows by 8 columns live in
 * eight SIMD accumulators; K goes in blocks of 256 so a block of B stays in
 * L2. `fma` uses relaxed-SIMD fused multiply-add (about 20% faster here).
 */
function gemm(fma: boolean): Fn {
  const f = new Fn("gemm", ["A", "B", "C", "M", "N", "K", "sAi", "sAk", "accumulate"]);
  const ints = ["k0", "k1", "i", "n", "k", "t", "mMain", "nMain", "cp", "ap", "bp", "fresh"];
  for (const l of [...ints, "stepA", "stepB", "rowA1", "rowA2", "rowA3"]) f.local(l, "i32");
  for (const l of ["rowC1", "rowC2", "rowC3", "a"]) f.local(l, l === "a" ? "v128" : "i32");
  const acc = (r: number, v: number) => `c${r}_${v}`;
  for (let r = 0; r < TILE_ROWS; r++) {
    for (let v = 0; v < TILE_VECTORS; v++) f.local(acc(r, v), "v128");
  }
  for (let v = 0; v < TILE_VECTORS; v++) f.local(`b${v}`, "v128");
  const rowA = ["", "rowA1", "rowA2", "rowA3"];
  const rowC = ["", "rowC1", "rowC2", "rowC3"];
  const bytes = (name: string) => f.get(name).i32(2).op(I32.shl);
  bytes("sAi").set("rowA1");
  bytes("sAk").set("stepA");
  bytes("N").set("stepB");
  bytes("N").set("rowC1");
  for (const rows of [rowA, rowC]) {
    f.get(rows[1]).get(rows[1]).op(I32.add).set(rows[2]);
    f.get(rows[2]).get(rows[1]).op(I32.add).set(rows[3]);
  }
  f.get("M").i32(-TILE_ROWS).op(I32.and).set("mMain");
  f.get("N").i32(-4 * TILE_VECTORS).op(I32.and).set("nMain");
  /** Pushes base + the byte offset of tile row r. */
  const row = (base: string, offsets: string[], r: number) => {
    f.get(base);
    if (r > 0) f.get(offsets[r]).op(I32.add);
  };
  const tiles = (
    rows: number,
    vectors: number,
    i: [() => void, () => void],
    n: [() => void, () => void],
  ) =>
    f.for("i", i[0], i[1], rows, () => {
      f.for("n", n[0], n[1], 4 * vectors, () => {
        f.get("i").get("N").op(I32.mul).get("n").op(I32.add).i32(2).op(I32.shl).get("C")
          .op(I32.add).set("cp");
        f.get("i").get("sAi").op(I32.mul).get("k0").get("sAk").op(I32.mul).op(I32.add).i32(2)
          .op(I32.shl).get("A").op(I32.add).set("ap");
        f.get("k0").get("N").op(I32.mul).get("n").op(I32.add).i32(2).op(I32.shl).get("B")
          .op(I32.add).set("bp");
        f.if(() => f.get("fresh"), () => {
          for (let r = 0; r < rows; r++) {
            for (let v = 0; v < vectors; v++) f.simd(V.const, ...new Uint8Array(16)).set(acc(r, v));
          }
        }, () => {
          for (let r = 0; r < rows; r++) {
            for (let v = 0; v < vectors; v++) {
              row("cp", rowC, r);
              f.v128load(16 * v).set(acc(r, v));
            }
          }
        });
        f.for("k", () => f.get("k0"), () => f.get("k1"), 1, () => {
          for (let v = 0; v < vectors; v++) f.get("bp").v128load(16 * v).set(`b${v}`);
          for (let r = 0; r < rows; r++) {
            row("ap", rowA, r);
            f.simd(V.load32_splat, 0x02, 0x00).set("a");
            for (let v = 0; v < vectors; v++) {
              if (fma) f.get("a").get(`b${v}`).get(acc(r, v)).simd(V.relaxed_madd);
              else f.get(acc(r, v)).get("a").get(`b${v}`).simd(V.f32x4_mul).simd(V.f32x4_add);
              f.set(acc(r, v));
            }
          }
          f.get("ap").get("stepA").op(I32.add).set("ap");
          f.get("bp").get("stepB").op(I32.add).set("bp");
        });
        for (let r = 0; r < rows; r++) {
          for (let v = 0; v < vectors; v++) {
            row("cp", rowC, r);
            f.get(acc(r, v)).v128store(16 * v);
          }
        }
      });
    });
  const zero = () => f.i32(0);
  const get = (name: string) => () => f.get(name);
  f.for("k0", zero, get("K"), K_BLOCK, () => {
    f.get("k0").i32(K_BLOCK).op(I32.add).set("t");
    f.min("t", "K").set("k1");
    f.get("k0").op(I32.eqz).get("accumulate").op(I32.eqz).op(I32.and).set("fresh");
    tiles(TILE_ROWS, TILE_VECTORS, [zero, get("mMain")], [zero, get("nMain")]);
    tiles(TILE_ROWS, 1, [zero, get("mMain")], [get("nMain"), get("N")]);
    tiles(1, TILE_VECTORS, [get("mMain"), get("M")], [zero, get("nMain")]);
    tiles(1, 1, [get("mMain"), get("M")], [get("nMain"), get("N")]);
  });
  return f;
}

/** Whether this engine validates relaxed SIMD (f32x4.relaxed_madd). */
function hasRelaxedSimd(): boolean {
  const probe = new Fn("probe", []).local("v", "v128");
  probe.get("v").get("v").get("v").simd(V.relaxed_madd).set("v");
  return WebAssembly.validate(assemble([probe]));
}

/** Exports of the assembled kernel module; pointers are byte offsets. */
export interface SimdKernels {
  max_pool_grad(...args: number[]): void;
  max_pool_2x2(...args: number[]): void;
  max_pool_grad_2x2(...args: number[]): void;
  im2col(...args: number[]): void;
  sum_rows(...args: number[]): void;
  relu_grad(...args: number[]): void;
  add_rows(...args: number[]): void;
  gemm(...args: number[]): void;
  adam(...args: number[]): void;
}

/**
 * Assembles the kernels and binds them to `memory`: TF.js's wasm heap, or
 * the shared memory of the helper thread (see gemm_helper.ts).
 */
export function instantiateSimdKernels(memory: WebAssembly.Memory): SimdKernels {
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const module = new WebAssembly.Module(
    assemble([
      maxPoolGrad(),
      maxPool2x2("forward"),
      maxPool2x2("grad"),
      im2col(),
      sumRows(),
      reluGrad(),
      addRows(),
      gemm(hasRelaxedSimd()),
      adam(),
    ], shared),
  );
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
}
