import type { Buffer } from "node:buffer";
import { asBuffer } from "../shared/protocol/bytes.ts";
import { argMax } from "../shared/model/argmax.ts";
import { CLASS_NAMES } from "../shared/protocol/classes.ts";
import type { CodecError } from "../shared/protocol/codec_error.ts";
import {
  type ClassifyRequest,
  decodeRequest,
  encodeResponse,
  type Prediction,
} from "../shared/protocol/schema.ts";
import { deadLetter, type Source } from "./dead_letter.ts";

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
  errors: CodecError[];
}

export interface ServeContext {
  topic: string;
  partition: number;
  model: string;
  worker: string;
  /** A valid request's `reply_to` must start with this (KAFKA_REPLY_TOPIC_PREFIX). */
  replyTopicPrefix?: string;
  /** Classifies images, in order; e.g. a MicroBatcher's submit. */
  classify(images: Uint8Array[]): Promise<Float32Array[]>;
}

const round6 = (p: number) => Math.round(p * 1e6) / 1e6;

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

/**
 * Serves one batch of request messages: valid ones are classified together
 * and answered; each malformed one becomes a dead-letter record and, when
 * its id can be read, an error reply. Never throws for bad input; only a
 * failure of `classify` propagates.
 */
export async function serveMessages(
  messages: Omit<Source, "topic" | "partition">[],
  ctx: ServeContext,
): Promise<Served> {
  const receivedAt = Date.now();
  const good: { request: ClassifyRequest; key: Buffer | null }[] = [];
  const served: Served = { responses: [], replies: new Map(), deadLetters: [], errors: [] };
  for (const m of messages) {
    const r = decodeRequest(m.value, ctx.replyTopicPrefix);
    if (r.ok) {
      good.push({ request: r.value, key: m.key as Buffer | null });
      continue;
    }
    served.errors.push(r.error);
    served.deadLetters.push(
      deadLetter({ ...m, topic: ctx.topic, partition: ctx.partition }, r.error, ctx.worker),
    );
    if (r.id !== undefined) {
      served.responses.push({
        key: r.id,
        value: asBuffer(encodeResponse({
          v: 1,
          id: r.id,
          error: { code: r.error.code, message: r.error.message },
        })),
      });
    }
  }
  if (good.length > 0) {
    const probs = await ctx.classify(good.map((g) => g.request.image));
    good.forEach((g, i) => {
      const answer = {
        key: g.request.id,
        value: asBuffer(encodeResponse(prediction(g.request, probs[i], ctx, receivedAt))),
      };
      const to = g.request.reply_to;
      if (to === undefined) served.responses.push(answer);
      else served.replies.set(to, [...(served.replies.get(to) ?? []), answer]);
    });
  }
  return served;
}
