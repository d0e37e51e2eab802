import { isBrokerOutage } from "../shared/kafka/outage.ts";
import { type FailureKind, retrying, type RetryPolicy } from "./retry_policy.ts";
import type { PublicationSender } from "./publisher.ts";
import {
  type ClassifyItem,
  emptyServed,
  type Scored,
  type ServeContext,
  type Served,
  serveMessages,
  unservable,
} from "./serve_messages.ts";
import { type PartitionBatch, publication, type RequestMessage } from "./serve_strategy.ts";

/** What the guard tells the worker's log. */
export interface GuardEvents {
  onRetry(
    partition: number,
    r: { attempt: number; kind: FailureKind; delayMs: number; error: unknown },
  ): void;
  /** A batch failed on every attempt: its requests are served one at a time. */
  onPoison(partition: number, messages: number, attempts: number, error: unknown): void;
  /** Not even a bare dead letter of the message could be published: it is skipped. */
  onDropped(partition: number, offset: string, error: unknown): void;
}

/** What the guard needs beside the batch. */
export interface GuardDeps extends GuardEvents {
  policy: RetryPolicy;
  worker: string;
  /** What a request's `reply_to` must start with (KAFKA_REPLY_TOPIC_PREFIX). */
  replyTopicPrefix: string;
  /** Which reply topics exist (see ServeContext). */
  existingReplyTopics?(topics: string[]): Promise<ReadonlySet<string>>;
  /**
   * One predict: each image's class probabilities and the version of the
   * model that computed them (also the one-at-a-time fallback's).
   */
  predict(items: ClassifyItem[]): Promise<Scored[]>;
  send: PublicationSender;
}

const kindOf = (e: unknown): FailureKind => (isBrokerOutage(e) ? "outage" : "poison");

function merge(all: Served, one: Served): Served {
  all.responses.push(...one.responses);
  for (const [topic, messages] of one.replies) {
    all.replies.set(topic, [...(all.replies.get(topic) ?? []), ...messages]);
  }
  all.deadLetters.push(...one.deadLetters);
  all.errors.push(...one.errors);
  all.outcomes.push(...one.outcomes);
  return all;
}

/**
 * Serves and publishes a partition batch through `attempt`, retrying as
 * `deps.policy` says. A batch that fails for its own reasons on every
 * attempt is then served one message at a time (see serveOneByOne), so only
 * the messages that really fail become `internal_error` dead letters and
 * the partition moves on. Resolves with what was served and published, or
 * undefined when the partition was taken away meanwhile (nothing may be
 * committed then: its next owner serves the batch again).
 */
export async function serveGuarded(
  batch: PartitionBatch,
  attempt: () => Promise<Served>,
  deps: GuardDeps,
): Promise<{ served: Served; fallback: boolean } | undefined> {
  const active = () => batch.isRunning() && !batch.isStale();
  const r = await retrying(attempt, deps.policy, {
    classify: kindOf,
    onRetry: (x) => deps.onRetry(batch.partition, x),
    active,
  });
  if (r.outcome === "done") return { served: r.value, fallback: false };
  if (r.outcome === "abandoned") return undefined;
  deps.onPoison(batch.partition, batch.messages.length, r.attempts, r.error);
  const served = await serveOneByOne(batch, deps, active);
  return served && { served, fallback: true };
}

/**
 * The fallback for a poison batch: each message gets a predict of its own
 * (a predict that throws on one input then fails that input only, which
 * becomes an `internal_error` dead letter and error reply); then everything
 * is published in one send. If that send is refused for good, each
 * message's output goes alone, and a message whose output is refused still
 * gets a bare `internal_error` dead letter (value cut to the DLQ prefix).
 * Broker outages are waited out throughout.
 */
async function serveOneByOne(
  batch: PartitionBatch,
  deps: GuardDeps,
  active: () => boolean,
): Promise<Served | undefined> {
  const ctx: ServeContext = {
    topic: batch.topic,
    partition: batch.partition,
    worker: deps.worker,
    replyTopicPrefix: deps.replyTopicPrefix,
    existingReplyTopics: deps.existingReplyTopics,
    classify: (items) => Promise.resolve().then(() => deps.predict(items)),
  };
  const each: Served[] = [];
  for (const m of batch.messages) {
    each.push(await serveMessages([m], ctx).catch((e) => unservable([m], ctx, e)));
  }
  // Outages are waited out; anything else is final at once (the batch had its retries).
  const publish = async (messages: RequestMessage[], served: Served) => {
    const r = await retrying(
      () => deps.send([publication(batch, messages, served)]),
      { ...deps.policy, poisonDelaysMs: [] },
      { classify: kindOf, onRetry: (x) => deps.onRetry(batch.partition, x), active },
    );
    return r.outcome === "done" ? "sent" : r.outcome === "abandoned" ? "abandoned" : r.error;
  };
  const all = each.reduce(merge, emptyServed());
  const together = await publish(batch.messages, all);
  if (together === "sent") return all;
  if (together === "abandoned") return undefined;
  const published = emptyServed();
  for (const [i, m] of batch.messages.entries()) {
    let outcome = await publish([m], each[i]);
    let served = each[i];
    if (outcome !== "sent" && outcome !== "abandoned") {
      served = unservable([{ ...m, headers: undefined }], ctx, outcome);
      outcome = await publish([m], served);
    }
    if (outcome === "abandoned") return undefined;
    if (outcome === "sent") merge(published, served);
    else deps.onDropped(batch.partition, m.offset, outcome);
  }
  return published;
}
