import { assemble, Fn, I32 } from "../wasm_asm.ts";
import { V } from "./opcodes.ts";

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
export function gemmBody(fma: boolean): Fn {
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
export function hasRelaxedSimd(): boolean {
  const probe = new Fn("probe", []).local("v", "v128");
  probe.get("v").get("v").get("v").simd(V.relaxed_madd).set("v");
  return WebAssembly.validate(assemble([probe]));
}

/**
 * One product for gemmBody(): a, b and c are byte offsets, the strides are
 * A's (in floats) and `accumulate` is 1 to add into C instead of writing it.
 */
export interface GemmJob {
  a: number;
  b: number;
  c: number;
  m: number;
  n: number;
  k: number;
  rowStride: number;
  kStride: number;
  accumulate: 0 | 1;
}

/** gemm's parameters, in the order its body declares them (A, B, C, M, N, K, sAi, sAk, ...). */
const GEMM_ARGS = [
  "a",
  "b",
  "c",
  "m",
  "n",
  "k",
  "rowStride",
  "kStride",
  "accumulate",
] as const satisfies readonly (keyof GemmJob)[];

/** gemm's arguments; the helper thread's control block carries them as they are. */
export function gemmArgs(job: GemmJob): number[] {
  return GEMM_ARGS.map((key) => job[key]);
}

/** The job that gemmArgs() turned into `args`. */
export function gemmJobFromArgs(args: ArrayLike<number>): GemmJob {
  const job = Object.fromEntries(GEMM_ARGS.map((key, i) => [key, args[i]]));
  return job as unknown as GemmJob;
}
