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
  f32x4_add: 0xe4,
  f32x4_mul: 0xe6,
} as const;
const F32_ADD = 0x92;

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
 * out[K, N] += Aᵀ·B for A [P, K] and B [P, N], N a multiple of 4: the
 * filter gradient from a patch matrix and dy. Positions go in blocks of 128
 * so the rows of B stay in cache across the K passes; 16 columns at a time
 * live in four SIMD accumulators.
 */
function gemmAtB(): Fn {
  const f = new Fn("gemm_at_b", ["A", "B", "out", "P", "K", "N"]);
  for (const l of ["p0", "p1", "k", "n", "n16", "p", "o", "ap", "bp", "t"]) f.local(l, "i32");
  for (const l of ["a", "acc0", "acc1", "acc2", "acc3"]) f.local(l, "v128");
  const zero = () => f.i32(0);
  f.get("N").i32(-16).op(I32.and).set("n16");
  f.for("p0", zero, () => f.get("P"), 128, () => {
    f.get("p0").i32(128).op(I32.add).set("t");
    f.min("t", "P").set("p1");
    f.for("k", zero, () => f.get("K"), 1, () => {
      const columns = (from: () => void, to: () => void, width: 1 | 4) => {
        const accs = ["acc0", "acc1", "acc2", "acc3"].slice(0, width);
        f.for("n", from, to, 4 * width, () => {
          f.get("k").get("N").op(I32.mul).get("n").op(I32.add).i32(2).op(I32.shl).get("out").op(
            I32.add,
          )
            .set("o");
          accs.forEach((acc, j) => f.get("o").v128load(16 * j).set(acc));
          // ap = A + (p0*K + k)*4; bp = B + (p0*N + n)*4
          f.get("p0").get("K").op(I32.mul).get("k").op(I32.add).i32(2).op(I32.shl).get("A").op(
            I32.add,
          )
            .set("ap");
          f.get("p0").get("N").op(I32.mul).get("n").op(I32.add).i32(2).op(I32.shl).get("B").op(
            I32.add,
          )
            .set("bp");
          f.for("p", () => f.get("p0"), () => f.get("p1"), 1, () => {
            f.get("ap").f32load().simd(V.f32x4_splat).set("a");
            accs.forEach((acc, j) => {
              f.get(acc).get("a").get("bp").v128load(16 * j).simd(V.f32x4_mul).simd(V.f32x4_add)
                .set(acc);
            });
            f.get("ap").get("K").i32(2).op(I32.shl).op(I32.add).set("ap");
            f.get("bp").get("N").i32(2).op(I32.shl).op(I32.add).set("bp");
          });
          accs.forEach((acc, j) => f.get("o").get(acc).v128store(16 * j));
        });
      };
      columns(zero, () => f.get("n16"), 4);
      columns(() => f.get("n16"), () => f.get("N"), 1);
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

/** Exports of the assembled kernel module; pointers are byte offsets. */
export interface SimdKernels {
  max_pool_grad(...args: number[]): void;
  im2col(...args: number[]): void;
  gemm_at_b(...args: number[]): void;
  sum_rows(...args: number[]): void;
  relu_grad(...args: number[]): void;
}

/** Assembles the kernels and binds them to `memory` (TF.js's wasm heap). */
export function instantiateSimdKernels(memory: WebAssembly.Memory): SimdKernels {
  const module = new WebAssembly.Module(
    assemble([maxPoolGrad(), im2col(), gemmAtB(), sumRows(), reluGrad()]),
  );
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
}
