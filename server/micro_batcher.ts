/**
 * Gathers items submitted from concurrent callers into batches of at most
 * `maxBatch`, waiting at most `maxWaitMs` after the first item of a batch,
 * and runs `run` once per batch. Each caller gets the results of its own
 * items, in order. Batches run one at a time.
 *
 * @example
 * ```ts
 * const batcher = new MicroBatcher(256, 5, (images) => predictor.predict(images));
 * const probabilities = await batcher.submit(images);
 * ```
 */
export class MicroBatcher<In, Out> {
  readonly #maxBatch: number;
  readonly #maxWaitMs: number;
  readonly #run: (items: In[]) => Out[] | Promise<Out[]>;
  #queue: { item: In; resolve: (o: Out) => void; reject: (e: unknown) => void }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> = Promise.resolve();
  /** Sizes of the batches run so far, for statistics. */
  batches = 0;
  items = 0;

  constructor(maxBatch: number, maxWaitMs: number, run: (items: In[]) => Out[] | Promise<Out[]>) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    }
    if (!(maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be >= 0, got ${maxWaitMs}`);
    this.#maxBatch = maxBatch;
    this.#maxWaitMs = maxWaitMs;
    this.#run = run;
  }

  /** Queues `items` and resolves with their results, in order. */
  submit(items: readonly In[]): Promise<Out[]> {
    const results = items.map((item) =>
      new Promise<Out>((resolve, reject) => this.#queue.push({ item, resolve, reject }))
    );
    while (this.#queue.length >= this.#maxBatch) this.#flush();
    if (this.#queue.length > 0 && this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), this.#maxWaitMs);
    }
    return Promise.all(results);
  }

  /**
   * Runs what is queued now instead of waiting out maxWaitMs: for callers
   * that know no more input can arrive soon.
   */
  flush(): void {
    if (this.#queue.length > 0) this.#flush();
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue.splice(0, this.#maxBatch);
    if (batch.length === 0) return;
    if (this.#queue.length > 0) this.#timer = setTimeout(() => this.#flush(), this.#maxWaitMs);
    this.#running = this.#running.then(async () => {
      try {
        const out = await this.#run(batch.map((b) => b.item));
        if (out.length !== batch.length) {
          throw new Error(
            `batch function returned ${out.length} results for ${batch.length} items`,
          );
        }
        this.batches++;
        this.items += batch.length;
        batch.forEach((b, i) => b.resolve(out[i]));
      } catch (e) {
        batch.forEach((b) => b.reject(e));
      }
    });
  }
}
