/**
 * How many of the most recent distinct ids the receiver remembers to spot
 * duplicates when it does not keep every id. Redeliveries (at-least-once)
 * come within one uncommitted batch or one rebalance of the original,
 * thousands of answers apart, not a hundred thousand. A window of a
 * million ids made the receiver's RSS grow to 715 MB over a stream of a
 * million answers (bench:receiver); 100,000 ids take about 10 MB.
 */
export const RECENT_IDS = 100_000;

/**
 * The last `capacity` distinct ids, oldest evicted first: duplicate
 * detection in bounded memory for a receiver that runs without an end.
 * An id seen again after it was evicted counts as new.
 */
export class RecentIds {
  readonly #capacity: number;
  readonly #ids = new Set<string>();
  readonly #ring: string[] = [];
  #oldest = 0;

  constructor(capacity = RECENT_IDS) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`RecentIds: expected a capacity of at least 1, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** How many ids are remembered now (at most the capacity). */
  get size(): number {
    return this.#ids.size;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Remembers `id`; false when it is already remembered (a duplicate). */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    if (this.#ring.length < this.#capacity) {
      this.#ring.push(id);
    } else {
      this.#ids.delete(this.#ring[this.#oldest]);
      this.#ring[this.#oldest] = id;
      this.#oldest = (this.#oldest + 1) % this.#capacity;
    }
    this.#ids.add(id);
    return true;
  }
}
