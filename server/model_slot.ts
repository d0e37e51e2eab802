import type { ServingModel } from "../shared/model/model_check.ts";

/**
 * The one place the serving model is held. The serve loop takes the model
 * once per batch through use(), so a batch runs on one model from start to
 * end and its answers carry that model's version; swap() installs the next
 * model between two batches and disposes the old one only after the
 * batches still using it finish (TensorFlow Serving's "availability
 * preserving" order: load and warm the new one, swap, then unload).
 *
 * @example
 * ```ts
 * const slot = new ModelSlot(initial);
 * const answers = await slot.use(({ model, version }) => classify(model, version, images));
 * const old = await slot.swap(next); // old is disposed by now
 * ```
 */
export class ModelSlot {
  #current: ServingModel;
  /** Uses in progress per model: a model is disposed only once its count is 0. */
  readonly #inFlight = new Map<ServingModel, number>();
  readonly #idle = new Map<ServingModel, () => void>();
  #closed = false;

  constructor(initial: ServingModel) {
    this.#current = initial;
  }

  /** The model new batches run on. */
  current(): ServingModel {
    return this.#current;
  }

  /** Runs `fn` on the current model, which stays undisposed until `fn` settles. */
  async use<T>(fn: (m: ServingModel) => T | Promise<T>): Promise<T> {
    if (this.#closed) throw new Error("Expected an open model slot, got a closed one");
    const m = this.#current;
    this.#inFlight.set(m, (this.#inFlight.get(m) ?? 0) + 1);
    try {
      return await fn(m);
    } finally {
      const left = this.#inFlight.get(m)! - 1;
      if (left > 0) {
        this.#inFlight.set(m, left);
      } else {
        this.#inFlight.delete(m);
        this.#idle.get(m)?.();
      }
    }
  }

  /**
   * Makes `next` current at once, then waits for the batches still on the
   * old model, disposes it and resolves with it.
   */
  async swap(next: ServingModel): Promise<ServingModel> {
    if (this.#closed) throw new Error("Expected an open model slot, got a closed one");
    const old = this.#current;
    this.#current = next;
    await this.#retire(old);
    return old;
  }

  /** Disposes the current model once its batches finish; use() and swap() then throw. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#retire(this.#current);
  }

  async #retire(m: ServingModel): Promise<void> {
    if (this.#inFlight.has(m)) {
      await new Promise<void>((resolve) => this.#idle.set(m, resolve));
      this.#idle.delete(m);
    }
    m.model.dispose();
  }
}

/**
 * Wraps a partition batch's `serve` so that the batch holds the model that
 * was current when it started until it is served and published. A batch's
 * images may span two predicts, and a swap can fall between them: without
 * this the old model's answers of such a batch could be stamped after the
 * swap's event; with it, the old model is retired (and model_swapped
 * logged) only once every batch begun on it is done.
 *
 * @example
 * ```ts
 * const serve = holdingModel(slot, strategy.serve);
 * ```
 */
export function holdingModel<A extends unknown[]>(
  slot: ModelSlot,
  serve: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return (...args) => slot.use(() => serve(...args));
}
