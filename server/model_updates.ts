import { decodeAnnouncement } from "../shared/model/announcement.ts";
import { checkModel, ModelCheckError, type ServingModel } from "../shared/model/model_check.ts";
import { announcementArtifacts } from "../shared/model/model_artifacts.ts";
import type { EventLog } from "../shared/cli/event_log.ts";
import type { ModelEvents } from "./model_events.ts";
import type { ModelSlot } from "./model_slot.ts";

/** Where a worker's metrics learn what it serves and what it refused. */
export interface ModelHooks {
  /** A version now serves (at start and after each swap). */
  loaded(version: string): void;
  /** An announcement was refused with `code` (model_refused_total). */
  refused(code: string): void;
}

const NO_HOOKS: ModelHooks = { loaded() {}, refused() {} };

/** What became of one offered announcement. */
export type Outcome = "swapped" | "refused" | "unchanged";

/**
 * Checks an announcement and, when it passes, loads it and makes it serve.
 * The decode checks (framing, SHA-256 of each file, version, weight and
 * input shapes) run first, then checkModel() loads the model beside the
 * serving one and runs the smoke batch that also warms it up; only then is
 * it swapped in. Any failure is refused with one log line and counted, and
 * the old model keeps serving: a bad announcement never stops the worker.
 *
 * @example
 * ```ts
 * const updates = new ModelUpdates(slot, log);
 * await updates.offer(record.value);
 * ```
 */
export class ModelUpdates {
  readonly #slot: ModelSlot;
  readonly #log: EventLog<ModelEvents>;
  readonly #hooks: ModelHooks;
  /** One announcement at a time: two loads side by side would hold three models. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Announcements refused so far, as in the model_refused events. */
  refused = 0;
  swaps = 0;

  constructor(slot: ModelSlot, log: EventLog<ModelEvents>, hooks: ModelHooks = NO_HOOKS) {
    this.#slot = slot;
    this.#log = log;
    this.#hooks = hooks;
  }

  /** Settles once every offered announcement has been applied or refused. */
  idle(): Promise<unknown> {
    return this.#queue;
  }

  /** Offers one record value; resolves once it is swapped in, refused or found current. */
  offer(value: Uint8Array | null): Promise<Outcome> {
    const next = this.#queue.then(() => this.#apply(value));
    this.#queue = next.catch(() => {});
    return next;
  }

  async #apply(value: Uint8Array | null): Promise<Outcome> {
    const decoded = await decodeAnnouncement(value);
    if (!decoded.ok) return this.#refuse(decoded.error.code, decoded.error.message, undefined);
    const a = decoded.value;
    const from = this.#slot.current().version;
    if (a.version === from) return "unchanged";
    let next: ServingModel;
    try {
      next = await checkModel(announcementArtifacts(a), a.version);
    } catch (e) {
      const code = e instanceof ModelCheckError ? e.code : "load_failed";
      return this.#refuse(code, (e as Error).message, a.version);
    }
    const started = performance.now();
    const switchedAt = Date.now();
    try {
      await this.#slot.swap(next);
    } catch (e) {
      next.model.dispose(); // the slot closed while `next` loaded: nothing will serve it
      throw e;
    }
    // The answers of the old model's last batch are stamped a few microtasks
    // after it ends: once this event is logged, no answer carries `from`.
    await new Promise((r) => setTimeout(r, 0));
    this.swaps++;
    this.#hooks.loaded(a.version);
    this.#log("model_swapped", {
      name: a.name,
      from,
      to: a.version,
      switchedAt,
      swappedAt: Date.now(),
      drainMs: performance.now() - started,
    });
    return "swapped";
  }

  #refuse(code: string, message: string, version: string | undefined): Outcome {
    this.refused++;
    this.#hooks.refused(code);
    this.#log("model_refused", { code, message, version, refused: this.refused });
    return "refused";
  }
}
