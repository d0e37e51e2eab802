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
  replyIdOf,
} from "../shared/protocol/schema.ts";
import { CodecError } from "../shared/protocol/codec_error.ts";
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
  /** Answers for the shared response topic. */
  responses: OutMessage[];
  /** Answers for requests that named a valid `reply_to`, by topic. */
  replies: Map<string, OutMessage[]>;
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

/** An image's class probabilities and the version of the model that computed them. */
export interface Scored {
  probabilities: Float32Array;
  model: string;
}

export interface ServeContext {
  topic: string;
  partition: number;
  worker: string;
  /** A valid request's `reply_to` must start with this (KAFKA_REPLY_TOPIC_PREFIX). */
  replyTopicPrefix?: string;
  /**
   * Classifies images, in order; e.g. a MicroBatcher's submit. Each answer
   * names its model: a model swap may fall between the batches of one call.
   */
  classify(items: ClassifyItem[]): Promise<Scored[]>;
  /**
   * Which of these reply topics exist. A send to a missing topic is retried
   * without end (kafkajs takes UNKNOWN_TOPIC_OR_PARTITION for a passing
   * state), so a request naming one is refused instead of stalling every
   * partition's publish behind it. Absent: every topic is taken to exist.
   */
  existingReplyTopics?(topics: string[]): Promise<ReadonlySet<string>>;
}

const round6 = (p: number) => Math.round(p * 1e6) / 1e6;

/** A Served with nothing in it yet. */
export function emptyServed(): Served {
  return { responses: [], replies: new Map(), deadLetters: [], errors: [], outcomes: [] };
}

/** Builds a prediction from an image's class probabilities and their model. */
export function prediction(
  request: ClassifyRequest,
  scored: Scored,
  worker: string,
  receivedAt: number,
): Prediction {
  const probs = scored.probabilities;
  const index = argMax(probs);
  return {
    v: 1,
    id: request.id,
    label: CLASS_NAMES[index],
    index,
    probability: round6(probs[index]),
    probabilities: Array.from(probs, round6),
    model: scored.model,
    worker,
    sent_at: request.sent_at,
    received_at: receivedAt,
    completed_at: Date.now(),
  };
}

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
  let good: { request: ClassifyRequest; message: Omit<Source, "topic" | "partition"> }[] = [];
  const served = emptyServed();
  for (const m of messages) {
    const r = decodeRequest(m.value, ctx.replyTopicPrefix);
    if (r.ok) {
      good.push({ request: r.value, message: m });
      continue;
    }
    const id = replyIdOf(r.error.code, r.id, m.key);
    refuse(served, m, r.error, id, ctx);
  }
  good = await withoutMissingReplyTopics(good, served, ctx);
  if (good.length > 0) {
    const scored = await ctx.classify(
      good.map((g) => ({ id: g.request.id, image: g.request.image })),
    );
    good.forEach((g, i) => {
      const p = prediction(g.request, scored[i], ctx.worker, receivedAt);
      const answer = { key: g.request.id, value: asBuffer(encodeResponse(p)) };
      const to = g.request.reply_to;
      if (to === undefined) served.responses.push(answer);
      else served.replies.set(to, [...(served.replies.get(to) ?? []), answer]);
      served.outcomes.push({
        outcome: "prediction",
        endToEndSeconds: (p.completed_at - p.sent_at) / 1000,
      });
    });
  }
  return served;
}

/** `good` less the requests whose `reply_to` topic does not exist, which are refused. */
async function withoutMissingReplyTopics<
  G extends { request: ClassifyRequest; message: Omit<Source, "topic" | "partition"> },
>(good: G[], served: Served, ctx: ServeContext): Promise<G[]> {
  const named = [...new Set(good.flatMap((g) => g.request.reply_to ?? []))];
  if (named.length === 0 || !ctx.existingReplyTopics) return good;
  const existing = await ctx.existingReplyTopics(named);
  return good.filter((g) => {
    const to = g.request.reply_to;
    if (to === undefined || existing.has(to)) return true;
    const error = new CodecError(
      "invalid_reply_to",
      `reply_to names topic '${to}', which does not exist`,
    );
    refuse(served, g.message, error, g.request.id, ctx);
    return false;
  });
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
