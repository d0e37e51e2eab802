/** Width of one bucket, in milliseconds. */
export const LATENCY_RESOLUTION_MS = 0.1;
/** Latencies from 0 up to this many milliseconds get a bucket of their own. */
export const LATENCY_RANGE_MS = 60_000;

const BUCKETS_PER_MS = 1 / LATENCY_RESOLUTION_MS;
const BUCKETS = LATENCY_RANGE_MS * BUCKETS_PER_MS;

/**
 * Latency percentiles in fixed memory: 600,000 buckets of 0.1 ms from 0 to
 * 60 s (2.4 MB), plus one bucket below 0 (clocks of two hosts disagree) and
 * one at or above 60 s. A receiver left running for days would otherwise
 * keep every latency it ever saw. A percentile is the middle of the bucket
 * that holds the exact nearest-rank value, so it is within half a bucket
 * (0.05 ms) of it; below 0 it is the smallest value seen and from 60 s up
 * the largest.
 *
 * @example
 * ```ts
 * const h = new LatencyHistogram();
 * for (const ms of [3.2, 4.1, 250]) h.record(ms);
 * h.percentile(50); // 4.15, within 0.05 ms of 4.1
 * ```
 */
export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #below = 0;
  #above = 0;
  #count = 0;
  #min = Infinity;
  #max = -Infinity;

  /** How many latencies were recorded. */
  get count(): number {
    return this.#count;
  }

  /** Records one latency in milliseconds; NaN (no latency) is ignored. */
  record(ms: number): void {
    if (Number.isNaN(ms)) return;
    this.#count++;
    this.#min = Math.min(this.#min, ms);
    this.#max = Math.max(this.#max, ms);
    // ms * 10, not ms / 0.1: 0.3 / 0.1 is 2.9999999999999996.
    const i = Math.floor(ms * BUCKETS_PER_MS);
    if (i < 0) this.#below++;
    else if (i >= BUCKETS) this.#above++;
    else this.#counts[i]++;
  }

  /**
   * The p-th percentile (0-100) by the nearest-rank method, to within
   * {@linkcode LATENCY_RESOLUTION_MS}/2; NaN when nothing was recorded.
   *
   * @example
   * ```ts
   * new LatencyHistogram().percentile(99); // NaN
   * ```
   */
  percentile(p: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.min(this.#count, Math.max(1, Math.ceil((p / 100) * this.#count)));
    let seen = this.#below;
    if (seen >= rank) return this.#min;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen >= rank) {
        const middle = (i + 0.5) / BUCKETS_PER_MS;
        return Math.min(this.#max, Math.max(this.#min, middle));
      }
    }
    return this.#max;
  }

  /**
   * p50, p95 and p99 in milliseconds.
   *
   * @example
   * ```ts
   * const { p50, p99 } = histogram.summary();
   * ```
   */
  summary(): { p50: number; p95: number; p99: number } {
    return { p50: this.percentile(50), p95: this.percentile(95), p99: this.percentile(99) };
  }
}
