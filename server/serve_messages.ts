import type { Buffer } from "node:buffer";
import { asBuffer } from "../shared/protocol/bytes.ts";
import { argMax } from "../shared/model/argmax.ts";
import { CLASS_NAMES } from "../shared/protocol/classes.ts";
import {
  type ClassifyRequest,
  decodeRequest,
  encodeResponse,
  idFromKey,
  INTERNAL_ERROR,
  type Prediction,
} from "../shared/protocol/schema.ts";
import { deadLetter, type Source } from "./dead_letter.ts";
import type { Outcome } from "./worker_metrics.ts";

/** A Kafka message to publish. */
export interface OutMessage {
  key: Buffer | string | null;
  value: Buffer | null;
  headers?: Record<string, string | Buffer | (string | Buffer)[] | undefined>;
}

/** What serving a batch of requests produced. */
export interface Served {
  responses: OutMessage[];
  deadLetters: OutMessage[];
  errors: { code: string; message: string }[];
  /** One per request, for the metrics: what became of it. */
  outcomes: RequestOutcome[];
}

/** What became of one request: a prediction (with its latency) or an error code. */
export type RequestOutcome =
  | { outcome: "prediction"; endToEndSeconds: number }
  | { outcome: Exclude<Outcome, "prediction">; code: string };

/** An image to classify and the id of its request (for the worker's fault-test hook). */
export interface ClassifyItem {
  id: string;
  image: Uint8Array;
}

export interface ServeContext {
  topic: string;
  partition: number;
  model: string;
  worker: string;
  /** Classifies images, in order; e.g. a MicroBatcher's submit. */
  classify(items: ClassifyItem[]): Promise<Float32Array[]>;
}

const round6 = (p: number) => Math.round(p * 1e6) / 1e6;

/** A Served with nothing in it yet. */
export function emptyServed(): Served {
  return { responses: [], deadLetters: [], errors: [], outcomes: [] };
}

/** Builds a prediction from an image's class probabilities. */
export function prediction(
  request: ClassifyRequest,
  probs: Float32Array,
  ctx: Pick<ServeContext, "model" | "worker">,
  receivedAt: number,
): Prediction {
  const index = argMax(probs);
  return {
    v: 1,
    id: request.id,
    label: CLASS_NAMES[index],
    index,
    probability: round6(probs[index]),
    probabilities: Array.from(probs, round6),
    model: ctx.model,
    worker: ctx.worker,
    sent_at: request.sent_at,
    received_at: receivedAt,
    completed_at: Date.now(),
  };
}

/** Decoding errors found before the JSON is read: the key is then the only id there is. */
const UNREAD: ReadonlySet<string> = new Set(["too_large", "invalid_utf8"]);

function errorReply(id: string, error: { code: string; message: string }): OutMessage {
  return {
    key: id,
    value: asBuffer(
      encodeResponse({ v: 1, id, error: { code: error.code, message: error.message } }),
    ),
  };
}

/** Adds a message's dead letter and, when `id` is known, its error reply. */
function refuse(
  served: Served,
  m: Omit<Source, "topic" | "partition">,
  error: { code: string; message: string },
  id: string | undefined,
  ctx: Pick<ServeContext, "topic" | "partition" | "worker">,
): void {
  served.errors.push(error);
  served.deadLetters.push(
    deadLetter({ ...m, topic: ctx.topic, partition: ctx.partition }, error, ctx.worker),
  );
  served.outcomes.push({
    outcome: id === undefined ? "dead_letter" : "error_reply",
    code: error.code,
  });
  if (id !== undefined) served.responses.push(errorReply(id, error));
}

/**
 * Serves one batch of request messages: valid ones are classified together
 * and answered; each malformed one becomes a dead-letter record and, when
 * its id can be read (from the JSON, or from the key when the value was
 * refused before its JSON was read), an error reply. Never throws for bad
 * input; only a failure of `classify` propagates.
 */
export async function serveMessages(
  messages: Omit<Source, "topic" | "partition">[],
  ctx: ServeContext,
): Promise<Served> {
  const receivedAt = Date.now();
  const good: { request: ClassifyRequest; key: Buffer | null }[] = [];
  const served = emptyServed();
  for (const m of messages) {
    const r = decodeRequest(m.value);
    if (r.ok) {
      good.push({ request: r.value, key: m.key as Buffer | null });
      continue;
    }
    const id = r.id ?? (UNREAD.has(r.error.code) ? idFromKey(m.key) : undefined);
    refuse(served, m, r.error, id, ctx);
  }
  if (good.length > 0) {
    const probs = await ctx.classify(
      good.map((g) => ({ id: g.request.id, image: g.request.image })),
    );
    good.forEach((g, i) => {
      const p = prediction(g.request, probs[i], ctx, receivedAt);
      served.responses.push({ key: g.request.id, value: asBuffer(encodeResponse(p)) });
      served.outcomes.push({
        outcome: "prediction",
        endToEndSeconds: (p.completed_at - p.sent_at) / 1000,
      });
    });
  }
  return served;
}

/**
 * What a batch the worker could not serve or publish, however often it
 * tried, leaves behind: each message an `internal_error` dead letter naming
 * `cause`, and an error reply when its id can be read (from the request,
 * else the key), so the partition can move on and no client waits forever.
 */
export function unservable(
  messages: Omit<Source, "topic" | "partition">[],
  ctx: Pick<ServeContext, "topic" | "partition" | "worker">,
  cause: unknown,
): Served {
  const served = emptyServed();
  const error = { code: INTERNAL_ERROR, message: `Cannot serve request: ${describe(cause)}` };
  for (const m of messages) {
    const r = decodeRequest(m.value);
    const id = r.ok ? r.value.id : r.id ?? idFromKey(m.key);
    refuse(served, m, error, id, ctx);
  }
  return served;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
