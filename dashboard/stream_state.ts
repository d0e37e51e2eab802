/**
 * What the dashboard knows of the traffic, kept in bounded memory however
 * long it runs. Pure: the Kafka feed calls the `add*` methods with decoded
 * messages and the time, the server asks for snapshots.
 *
 * Memory bounds, with the defaults (DEFAULT_LIMITS):
 * - per-second buckets: `windowSeconds` (300) small records; raw latencies
 *   only for the current second, at most `latencySamples` (2,048) of them
 *   (reservoir-sampled beyond that); a past second keeps only p50/p95/p99;
 * - recent images: `recentImages` (24) + `recentMistakes` (12) of 784 bytes;
 * - requests and answers waiting for their other half (the two topics are
 *   read independently, so either may come first): `pending` (5,000) each,
 *   oldest dropped first: about 5 MB of pixels at most;
 * - workers seen in answers: `workers` (64), least recently seen dropped;
 * - error and dead-letter codes: `codes` (32) distinct codes, then "other".
 */
import { encodeImage } from "../shared/protocol/image_codec.ts";
import { CLASS_NAMES, NUM_CLASSES } from "../shared/protocol/classes.ts";
import type { ClassifyRequest, Prediction, Response } from "../shared/protocol/schema.ts";
import { latencySummary } from "../shared/stats/percentile.ts";

/** The bounds of a {@linkcode StreamState}. */
export interface StreamLimits {
  /** Seconds of history in the charts. */
  windowSeconds: number;
  /** Latencies kept for the current second's percentiles. */
  latencySamples: number;
  recentImages: number;
  recentMistakes: number;
  /** Requests, and answers, waiting to be joined by id. */
  pending: number;
  workers: number;
  codes: number;
}

export const DEFAULT_LIMITS: StreamLimits = {
  windowSeconds: 300,
  latencySamples: 2048,
  recentImages: 24,
  recentMistakes: 12,
  pending: 5000,
  workers: 64,
  codes: 32,
};

/** One second of the charts; percentiles in ms, null when nothing was answered. */
export interface SeriesPoint {
  /** Epoch seconds. */
  t: number;
  answers: number;
  errors: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** An answered image as the page draws it. */
export interface RecentImage {
  id: string;
  /** 784 grayscale bytes, base64. */
  pixels: string;
  predicted: string;
  probability: number;
  /** The true class name, when the request carried a label. */
  actual: string | null;
  wrong: boolean;
  worker: string;
}

/** A worker as seen in its answers. */
export interface SeenWorker {
  worker: string;
  model: string;
  answers: number;
  lastSeenMs: number;
}

/** Everything the page shows that comes from the streams. */
export interface StreamSnapshot {
  atMs: number;
  totals: {
    answers: number;
    errorReplies: number;
    deadLetters: number;
    labelled: number;
    correct: number;
    /** Answers whose request was never seen (sent before the dashboard started, or dropped). */
    unmatched: number;
  };
  accuracy: number | null;
  series: SeriesPoint[];
  /** confusion[actual][predicted]. */
  confusion: number[][];
  classes: readonly string[];
  errorsByCode: Record<string, number>;
  deadLettersByCode: Record<string, number>;
  recent: RecentImage[];
  mistakes: RecentImage[];
  workers: SeenWorker[];
}

interface Bucket {
  second: number;
  answers: number;
  errors: number;
  samples: number[];
  seen: number;
  summary: { p50: number; p95: number; p99: number } | null;
}

interface PendingRequest {
  image: Uint8Array;
  label?: number;
}

/** A fixed-size ring of the most recent items, newest first on read. */
export class Ring<T> {
  #items: T[] = [];
  #next = 0;
  readonly #capacity: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Ring capacity: expected an integer >= 1, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  push(item: T): void {
    if (this.#items.length < this.#capacity) this.#items.push(item);
    else this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.#capacity;
  }

  /** The items, newest first. */
  newestFirst(): T[] {
    const n = this.#items.length;
    return Array.from({ length: n }, (_, i) => this.#items[(this.#next - 1 - i + n * 2) % n]);
  }

  get size(): number {
    return this.#items.length;
  }
}

/** Sets `key` in an insertion-ordered map, dropping the oldest entries beyond `limit`. */
function setBounded<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > limit) map.delete(map.keys().next().value as K);
}

function countCode(counts: Map<string, number>, code: string, limit: number): void {
  const key = counts.has(code) || counts.size < limit ? code : "other";
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** The dashboard's view of the request, response and dead-letter streams. */
export class StreamState {
  readonly #limits: StreamLimits;
  readonly #random: () => number;
  readonly #buckets: Bucket[];
  readonly #pendingRequests = new Map<string, PendingRequest>();
  readonly #pendingAnswers = new Map<string, Prediction>();
  readonly #recent: Ring<RecentImage>;
  readonly #mistakes: Ring<RecentImage>;
  readonly #workers = new Map<string, SeenWorker>();
  readonly #errorsByCode = new Map<string, number>();
  readonly #deadLettersByCode = new Map<string, number>();
  readonly #confusion: number[][] = Array.from(
    { length: NUM_CLASSES },
    () => new Array(NUM_CLASSES).fill(0),
  );
  #totals = { answers: 0, errorReplies: 0, deadLetters: 0, labelled: 0, correct: 0, unmatched: 0 };

  /** `random` picks which latencies a busy second keeps; pass a seeded one in tests. */
  constructor(limits: Partial<StreamLimits> = {}, random: () => number = Math.random) {
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
    for (const [name, v] of Object.entries(this.#limits)) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`StreamState limit ${name}: expected an integer >= 1, got ${v}`);
      }
    }
    this.#random = random;
    this.#buckets = Array.from({ length: this.#limits.windowSeconds }, () => emptyBucket(-1));
    this.#recent = new Ring(this.#limits.recentImages);
    this.#mistakes = new Ring(this.#limits.recentMistakes);
  }

  /** A request read from the request topic: kept until its answer joins it. */
  addRequest(request: ClassifyRequest): void {
    const answer = this.#pendingAnswers.get(request.id);
    if (answer) {
      this.#pendingAnswers.delete(request.id);
      this.#join(answer, request);
      return;
    }
    setBounded(
      this.#pendingRequests,
      request.id,
      { image: request.image, label: request.label },
      this.#limits.pending,
    );
  }

  /** A response read from the response topic at `nowMs`. */
  addResponse(response: Response, nowMs: number): void {
    const bucket = this.#bucket(nowMs);
    if ("error" in response) {
      this.#totals.errorReplies++;
      bucket.errors++;
      countCode(this.#errorsByCode, response.error.code, this.#limits.codes);
      this.#pendingRequests.delete(response.id);
      return;
    }
    this.#totals.answers++;
    bucket.answers++;
    this.#sample(bucket, response.completed_at - response.sent_at);
    const seen = this.#workers.get(response.worker);
    setBounded(this.#workers, response.worker, {
      worker: response.worker,
      model: response.model,
      answers: (seen?.answers ?? 0) + 1,
      lastSeenMs: nowMs,
    }, this.#limits.workers);
    const request = this.#pendingRequests.get(response.id);
    if (request) {
      this.#pendingRequests.delete(response.id);
      this.#join(response, request);
    } else {
      setBounded(this.#pendingAnswers, response.id, response, this.#limits.pending);
    }
  }

  /** A dead letter read from the dead-letter topic, by its `dlq-error-code` header. */
  addDeadLetter(code: string): void {
    this.#totals.deadLetters++;
    countCode(this.#deadLettersByCode, code, this.#limits.codes);
  }

  /** The state at `nowMs`: the series covers the last `windowSeconds` seconds up to now. */
  snapshot(nowMs: number): StreamSnapshot {
    const now = Math.floor(nowMs / 1000);
    const series: SeriesPoint[] = [];
    for (let t = now - this.#limits.windowSeconds + 1; t <= now; t++) {
      const b = this.#buckets[slot(t, this.#limits.windowSeconds)];
      if (b.second !== t) {
        series.push({ t, answers: 0, errors: 0, p50: null, p95: null, p99: null });
        continue;
      }
      const s = summarize(b, t < now);
      series.push({ t, answers: b.answers, errors: b.errors, ...s });
    }
    const { labelled, correct } = this.#totals;
    return {
      atMs: nowMs,
      totals: { ...this.#totals, unmatched: this.#totals.unmatched + this.#pendingAnswers.size },
      accuracy: labelled === 0 ? null : correct / labelled,
      series,
      confusion: this.#confusion.map((row) => [...row]),
      classes: CLASS_NAMES,
      errorsByCode: Object.fromEntries(this.#errorsByCode),
      deadLettersByCode: Object.fromEntries(this.#deadLettersByCode),
      recent: this.#recent.newestFirst(),
      mistakes: this.#mistakes.newestFirst(),
      workers: [...this.#workers.values()].reverse(),
    };
  }

  #join(answer: Prediction, request: PendingRequest): void {
    const labelled = request.label !== undefined;
    const wrong = labelled && request.label !== answer.index;
    if (labelled) {
      this.#totals.labelled++;
      if (!wrong) this.#totals.correct++;
      this.#confusion[request.label!][answer.index]++;
    }
    const image: RecentImage = {
      id: answer.id,
      pixels: encodeImage(request.image),
      predicted: answer.label,
      probability: answer.probability,
      actual: labelled ? CLASS_NAMES[request.label!] : null,
      wrong,
      worker: answer.worker,
    };
    this.#recent.push(image);
    if (wrong) this.#mistakes.push(image);
  }

  #bucket(nowMs: number): Bucket {
    const second = Math.floor(nowMs / 1000);
    const i = slot(second, this.#limits.windowSeconds);
    const b = this.#buckets[i];
    // A second seen again after the clock stepped back keeps its bucket.
    if (b.second === second || b.second > second) return b;
    return (this.#buckets[i] = emptyBucket(second));
  }

  /** Reservoir sampling: every latency of the second has the same chance to be kept. */
  #sample(b: Bucket, latencyMs: number): void {
    b.seen++;
    b.summary = null;
    if (b.samples.length < this.#limits.latencySamples) {
      b.samples.push(latencyMs);
      return;
    }
    const j = Math.floor(this.#random() * b.seen);
    if (j < b.samples.length) b.samples[j] = latencyMs;
  }
}

function emptyBucket(second: number): Bucket {
  return { second, answers: 0, errors: 0, samples: [], seen: 0, summary: null };
}

function slot(second: number, size: number): number {
  return ((second % size) + size) % size;
}

/** p50/p95/p99 of a bucket; a past second (`sealed`) keeps them and frees its samples. */
function summarize(b: Bucket, sealed: boolean): Pick<SeriesPoint, "p50" | "p95" | "p99"> {
  if (b.summary === null && b.samples.length > 0) {
    b.summary = latencySummary(b.samples);
  }
  if (sealed) b.samples = [];
  return b.summary ?? { p50: null, p95: null, p99: null };
}
