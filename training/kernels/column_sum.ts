/**
 * Sums a row-major [rows, cols] matrix over its rows into `out` (length
 * cols). This is a reduction over all leading axes of a tensor, the shape of
 * every bias gradient.
 */
export function sumRows(
  x: Float32Array,
  rows: number,
  cols: number,
  out: Float32Array,
): void {
  if (x.length < rows * cols || out.length < cols) {
    throw new RangeError(
      `sumRows expects ${
        rows * cols
      } inputs and ${cols} outputs, got ${x.length} and ${out.length}`,
    );
  }
  // Float64 accumulators: 135,200 rows of float32 lose digits otherwise.
  const acc = new Float64Array(cols);
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) acc[c] += x[i++];
  }
  for (let c = 0; c < cols; c++) out[c] = acc[c];
}
