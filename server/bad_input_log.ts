/**
 * Rate-limits the log of bad input, so that a client sending malformed
 * requests as fast as it can cannot flood the worker's output: within each
 * interval, the first error of each code is logged in full and the rest are
 * only counted; the counts come out as one summary per interval. At most
 * (codes + 1) lines an interval, whatever the input rate.
 *
 * Pure apart from the clock it is given: the worker calls `summary()` on a
 * timer.
 */
export class BadInputLog {
  readonly #intervalMs: number;
  #counts = new Map<string, number>();
  #since: number;

  constructor(intervalMs: number, now: number) {
    if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
    this.#intervalMs = intervalMs;
    this.#since = now;
  }

  /** Counts an error of `code`; true when it is the first of its code this interval (log it in full). */
  note(code: string): boolean {
    const n = this.#counts.get(code) ?? 0;
    this.#counts.set(code, n + 1);
    return n === 0;
  }

  /**
   * The counts per code of the interval that ended, once `now` is past its
   * end and anything was counted (undefined otherwise); a new interval
   * starts then.
   */
  summary(now: number): { seconds: number; counts: Record<string, number> } | undefined {
    if (now - this.#since < this.#intervalMs) return undefined;
    const seconds = (now - this.#since) / 1000;
    const counts = Object.fromEntries(this.#counts);
    this.#counts = new Map();
    this.#since = now;
    return Object.keys(counts).length ? { seconds, counts } : undefined;
  }
}
