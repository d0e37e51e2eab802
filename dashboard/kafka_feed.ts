/**
 * Feeds a StreamState from Kafka: one consumer group of the dashboard's own
 * on the request, response and dead-letter topics, and an admin client that
 * polls the workers' group for members, partitions and lag.
 */
import { AssignerProtocol, type Consumer, type EachBatchPayload, type Kafka } from "kafkajs";
import type { EventLog, TextFormats } from "../shared/cli/event_log.ts";
import type { Topics } from "../shared/config.ts";
import { type KeptAlive, runKeptAlive } from "../shared/kafka/consumer.ts";
import { decodeRequest, decodeResponse } from "../shared/protocol/schema.ts";
import { type GroupInput, type GroupView, groupView } from "./group_view.ts";
import type { StreamState } from "./stream_state.ts";

export interface FeedOptions {
  topics: Topics;
  /** The workers' group, observed through the admin API (never joined). */
  workerGroup: string;
  /** The dashboard's own group: unique per run, so it never takes partitions from anyone. */
  groupId: string;
  state: StreamState;
  /** Milliseconds between admin polls. */
  pollMs: number;
  /** Aborting it ends a wait for missing topics (startFeed then rejects). */
  signal?: AbortSignal;
  /** Where the feed's events go (the dashboard's event log). */
  log: EventLog<FeedEvents>;
}

/** The events of a feed, with their fields. */
export type FeedEvents = {
  /** The dashboard's consumer joined its group (again, after a rebalance or reconnect). */
  joined: { group: string; topics: string[] };
  waiting_for_topics: { missing: string[] };
  poll_failed: { group: string; error: string };
  consumer_restart: { error: string };
};

/** Text lines of the feed's events, for a text-mode event log. */
export const FEED_TEXT: TextFormats<FeedEvents> = {
  joined: (f) => `dashboard joined group ${f.group} on ${f.topics.join(", ")}`,
  waiting_for_topics: (f) =>
    `waiting for topic(s) ${f.missing.join(", ")}: a worker or \`deno task topics\` creates them`,
  poll_failed: (f) => `admin poll of ${f.group} failed: ${f.error}`,
  consumer_restart: (f) => `dashboard consumer crashed, reconnecting: ${f.error}`,
};

/** A running feed. */
export interface Feed {
  /** The workers' group at the last successful poll; null before the first. */
  group(): GroupView | null;
  /** Why the last admin poll failed; null after a good one. */
  groupError(): string | null;
  /** Stops polling, then the consumer: idempotent. */
  stop(): Promise<void>;
}

const DLQ_CODE_HEADER = "dlq-error-code";

/** Hands one batch of any of the three topics to the state. */
function feedBatch(o: FeedOptions, { batch }: EachBatchPayload): void {
  const now = Date.now();
  const { topics, state } = o;
  for (const m of batch.messages) {
    if (batch.topic === topics.requests) {
      // Malformed requests reach the page as dead letters; nothing to join here.
      const r = decodeRequest(m.value);
      if (r.ok) state.addRequest(r.value);
    } else if (batch.topic === topics.responses) {
      const r = decodeResponse(m.value);
      if (r.ok) state.addResponse(r.value, now);
    } else if (batch.topic === topics.dlq) {
      const code = m.headers?.[DLQ_CODE_HEADER];
      state.addDeadLetter(code === undefined ? "unknown" : String(code));
    }
  }
}

/** Reads the workers' group, its committed offsets and the request topic's ends. */
async function pollGroup(
  admin: ReturnType<Kafka["admin"]>,
  o: FeedOptions,
): Promise<GroupView> {
  const topic = o.topics.requests;
  const [described, committed, ends] = await Promise.all([
    admin.describeGroups([o.workerGroup]),
    admin.fetchOffsets({ groupId: o.workerGroup, topics: [topic] }),
    admin.fetchTopicOffsets(topic),
  ]);
  const g = described.groups[0];
  const input: GroupInput = {
    group: o.workerGroup,
    state: g?.state ?? "Unknown",
    members: (g?.members ?? []).map((m) => ({
      clientId: m.clientId,
      clientHost: m.clientHost,
      partitions: m.memberAssignment.length === 0
        ? []
        : AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? [],
    })),
    committed: committed[0]?.partitions ?? [],
    ends,
  };
  return groupView(input);
}

/**
 * Waits until the three topics exist, saying once what it waits for: a
 * dashboard may well start before the first worker, which creates them.
 */
async function waitForTopics(admin: ReturnType<Kafka["admin"]>, o: FeedOptions): Promise<void> {
  const wanted = [o.topics.requests, o.topics.responses, o.topics.dlq];
  let told = false;
  while (true) {
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    if (missing.length === 0) return;
    if (!told) o.log("waiting_for_topics", { missing });
    told = true;
    await new Promise((r) => setTimeout(r, o.pollMs));
    if (o.signal?.aborted) throw new Error("stopped while waiting for topics");
  }
}

/**
 * Starts the dashboard's consumer (at the latest offsets: a group with no
 * commits starts there, and it never commits, so nothing of it outlives the
 * run) and the admin poll. Resolves once the consumer runs.
 *
 * @example
 * ```ts
 * const feed = await startFeed(kafka, { topics, workerGroup, groupId, state, pollMs: 2000, log });
 * await feed.stop();
 * ```
 */
export async function startFeed(kafka: Kafka, o: FeedOptions): Promise<Feed> {
  const consumer: Consumer = kafka.consumer({
    groupId: o.groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 2_000,
    maxWaitTimeInMs: 200,
    // Topics are the workers' to create, with their partition count.
    allowAutoTopicCreation: false,
  });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    o.log("joined", { group: payload.groupId, topics: Object.keys(payload.memberAssignment) });
  });
  const admin = kafka.admin();
  let view: GroupView | null = null;
  let error: string | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let polling: Promise<void> | undefined;
  let stopped = false;
  const poll = async () => {
    try {
      view = await pollGroup(admin, o);
      error = null;
    } catch (e) {
      if (error === null) o.log("poll_failed", { group: o.workerGroup, error: String(e) });
      error = String(e);
    }
    if (!stopped) timer = setTimeout(() => (polling = poll()), o.pollMs);
  };
  await admin.connect();
  await waitForTopics(admin, o);
  await consumer.connect();
  await consumer.subscribe({
    topics: [o.topics.requests, o.topics.responses, o.topics.dlq],
    fromBeginning: false,
  });
  const alive: KeptAlive = await runKeptAlive(consumer, {
    autoCommit: false,
    eachBatch: (payload) => Promise.resolve(feedBatch(o, payload)),
  }, (e) => o.log("consumer_restart", { error: String(e) }));
  polling = poll();
  let stopping: Promise<void> | undefined;
  return {
    group: () => view,
    groupError: () => error,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearTimeout(timer);
        await polling;
        await alive.stop();
        await consumer.disconnect();
        await admin.disconnect();
      })();
      return stopping;
    },
  };
}
