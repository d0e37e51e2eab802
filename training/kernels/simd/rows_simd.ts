import { Fn, I32 } from "../wasm_asm.ts";
import { V } from "./opcodes.ts";

/**
 * out[c] = Σ_r x[r, c] for x [rows, cols], cols a multiple of 4: bias
 * gradients. Rows go in blocks of 1024 into `scratch` (cols floats) before
 * joining `out`, which keeps float32 rounding error near that of pairwise
 * summation. `out` must be zeroed.
 */
export function columnSumBody(): Fn {
  const f = new Fn("column_sum", ["x", "out", "scratch", "rows", "cols"]);
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
export function addRowsBody(): Fn {
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
export function reluGradBody(): Fn {
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

/** The shape of a row-major matrix the row kernels walk. */
export interface RowsGeometry {
  rows: number;
  cols: number;
}

/** column_sum's arguments, in the order its body declares them. */
export function columnSumArgs(
  p: { x: number; out: number; scratch: number },
  g: RowsGeometry,
): number[] {
  return [p.x, p.out, p.scratch, g.rows, g.cols];
}

/** add_rows's arguments, in the order its body declares them. */
export function addRowsArgs(
  p: { x: number; bias: number; out: number },
  g: RowsGeometry,
): number[] {
  return [p.x, p.bias, p.out, g.rows, g.cols];
}

/** relu_grad's arguments, in the order its body declares them. */
export function reluGradArgs(p: { dy: number; x: number; dx: number }, n: number): number[] {
  return [p.dy, p.x, p.dx, n];
}
