/**
 * What a receiver counts, as pure code: distinct ids answered, predictions
 * and error replies apart, duplicates, accuracy over labelled predictions,
 * latencies and throughput. The receiver feeds it; tests feed it directly.
 */
import { LatencyHistogram } from "../shared/stats/latency_histogram.ts";
import { isErrorReply, type Response } from "../shared/protocol/schema.ts";
import { RECENT_IDS, RecentIds } from "./received_ids.ts";

/** How a {@linkcode ReceiveTally} remembers ids. */
export interface TallyOptions {
  /** Keep every answered id (memory grows with them) and detect duplicates exactly. */
  keepIds: boolean;
  /** Without keepIds: how many recent ids duplicate detection remembers. */
  window?: number;
}

/** One answer as the tally saw it. */
export interface Tallied {
  /** Its id was answered before (and is still remembered). */
  duplicate: boolean;
  /** End to end, sent_at to received; NaN for an error reply (it carries no sent_at). */
  latencyMs: number;
}

/** The counts, and what follows from them. */
export interface TallySummary {
  /** Distinct request ids answered by anything: a prediction or an error reply. */
  received: number;
  /** Distinct request ids answered with a prediction. */
  predictions: number;
  /** Distinct request ids answered with an error reply. */
  errors: number;
  /** Response messages, duplicates and undecodable ones included. */
  messages: number;
  duplicates: number;
  undecodable: number;
  /** Predictions whose true label was known. */
  labelled: number;
  /** Labelled predictions that were right. */
  correct: number;
  /** correct / labelled; NaN with no labelled prediction. */
  accuracy: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** Distinct answers per second from the first prediction's sent_at to the last answer; NaN without predictions. */
  throughput: number;
  /** Answered ids, for callers that check completeness; empty unless keepIds. */
  ids: Set<string>;
}

/** Counts answers in bounded memory (unless asked to keep every id). */
export class ReceiveTally {
  readonly #ids = new Set<string>();
  readonly #recent: RecentIds | undefined;
  readonly #latency = new LatencyHistogram();
  #counts = {
    received: 0,
    predictions: 0,
    errors: 0,
    messages: 0,
    duplicates: 0,
    undecodable: 0,
    labelled: 0,
    correct: 0,
  };
  #firstSentAt = Infinity;
  #lastAnswerAt = -Infinity;

  constructor(o: TallyOptions) {
    this.#recent = o.keepIds ? undefined : new RecentIds(o.window ?? RECENT_IDS);
  }

  /** Distinct ids answered so far. */
  get received(): number {
    return this.#counts.received;
  }

  /** Counts a message that was not a response at all. */
  undecodable(): void {
    this.#counts.messages++;
    this.#counts.undecodable++;
  }

  /**
   * Counts response `r` received at `receivedAt` (epoch ms) whose request
   * had `trueLabel`, if known. A duplicate is counted as such and scored
   * no further.
   */
  record(r: Response, receivedAt: number, trueLabel?: number): Tallied {
    const c = this.#counts;
    c.messages++;
    const latencyMs = isErrorReply(r) ? NaN : receivedAt - r.sent_at;
    if (!this.#remember(r.id)) {
      c.duplicates++;
      return { duplicate: true, latencyMs };
    }
    c.received++;
    this.#lastAnswerAt = Math.max(this.#lastAnswerAt, receivedAt);
    if (isErrorReply(r)) {
      c.errors++;
      return { duplicate: false, latencyMs };
    }
    c.predictions++;
    this.#firstSentAt = Math.min(this.#firstSentAt, r.sent_at);
    this.#latency.record(latencyMs);
    if (trueLabel !== undefined) {
      c.labelled++;
      if (trueLabel === r.index) c.correct++;
    }
    return { duplicate: false, latencyMs };
  }

  /** The counts so far. */
  summary(): TallySummary {
    const c = this.#counts;
    const span = (this.#lastAnswerAt - this.#firstSentAt) / 1000;
    return {
      ...c,
      accuracy: c.labelled ? c.correct / c.labelled : NaN,
      latencyMs: this.#latency.summary(),
      throughput: c.predictions ? c.received / Math.max(0.001, span) : NaN,
      ids: new Set(this.#ids),
    };
  }

  /** False when `id` was answered before. */
  #remember(id: string): boolean {
    if (this.#recent) return this.#recent.add(id);
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    return true;
  }
}
