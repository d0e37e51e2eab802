/** Geometry of one 2-D max pool in NHWC layout. */
export interface PoolGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  channels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * Routes each output gradient in `dy` back to the input position that won
 * its pooling window, accumulating into `dx` (which this function zeroes).
 *
 * Ties go to the first position in window order (row, then column), the
 * rule of the CPU backend, so both backends train identically. The channel
 * loop is innermost because NHWC keeps channels contiguous.
 */
export function maxPoolGradNhwc(
  x: Float32Array,
  dy: Float32Array,
  g: PoolGeometry,
  dx: Float32Array,
): void {
  const c = g.channels;
  dx.fill(0);
  const best = new Float32Array(c);
  const bestAt = new Int32Array(c);
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        best.fill(-Infinity);
        bestAt.fill(-1);
        for (let wr = 0; wr < g.filterHeight; wr++) {
          const ih = oh * g.strideHeight - g.padTop + wr;
          if (ih < 0 || ih >= g.inHeight) continue;
          for (let wc = 0; wc < g.filterWidth; wc++) {
            const iw = ow * g.strideWidth - g.padLeft + wc;
            if (iw < 0 || iw >= g.inWidth) continue;
            const base = ((b * g.inHeight + ih) * g.inWidth + iw) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[base + ch];
              if (v > best[ch]) {
                best[ch] = v;
                bestAt[ch] = base + ch;
              }
            }
          }
        }
        const dyBase = ((b * g.outHeight + oh) * g.outWidth + ow) * c;
        for (let ch = 0; ch < c; ch++) {
          if (bestAt[ch] >= 0) dx[bestAt[ch]] += dy[dyBase + ch];
        }
      }
    }
  }
}
