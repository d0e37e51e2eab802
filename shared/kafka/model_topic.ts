import type { Admin, Consumer, Kafka } from "kafkajs";
import { runKeptAlive } from "./consumer.ts";

/**
 * The topic's largest record. The broker's default message.max.bytes is
 * 1 MB and one announcement of the CNN is 2.2 MB; a topic-level
 * max.message.bytes overrides the broker's.
 */
export const MODEL_TOPIC_MAX_BYTES = 8 * 1024 * 1024;
/** Fetch sizes of model-topic consumers: one whole record and then some. */
const FETCH_BYTES = MODEL_TOPIC_MAX_BYTES + 1024 * 1024;

/** One record of the model topic. */
export interface ModelRecord {
  key: string;
  value: Uint8Array | null;
  offset: string;
}

/**
 * Creates the compacted model-updates topic when missing: one partition (the
 * order of announcements matters), max.message.bytes 8 MiB, min(3, brokers)
 * replicas. Returns true when it created it.
 *
 * @example
 * ```ts
 * await ensureModelTopic(admin, "model-updates");
 * ```
 */
export async function ensureModelTopic(admin: Admin, topic: string): Promise<boolean> {
  if ((await admin.listTopics()).includes(topic)) return false;
  const { brokers } = await admin.describeCluster();
  return await admin.createTopics({
    waitForLeaders: true,
    topics: [{
      topic,
      numPartitions: 1,
      replicationFactor: Math.min(3, brokers.length),
      configEntries: [
        { name: "cleanup.policy", value: "compact" },
        { name: "max.message.bytes", value: String(MODEL_TOPIC_MAX_BYTES) },
      ],
    }],
  });
}

/** A running reader of the model topic; see followModelTopic(). */
export interface ModelTopicReader {
  /** Settles once every record present at the start was handed over. */
  caughtUp: Promise<void>;
  /** Stops, disconnects and deletes the reader's consumer group. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Reads the model topic from the beginning with a consumer group of its own
 * (`groupId`, deleted at stop: kafkajs has no group-less assign()), hands
 * each record to `onRecord` in order, flagged `live` once the records that
 * were there at the start are all read, and keeps following until stop().
 *
 * @example
 * ```ts
 * const reader = await followModelTopic(kafka, topic, `model-follow-${id}`, (r, live) => {...});
 * await reader.caughtUp;
 * ```
 */
export async function followModelTopic(
  kafka: Kafka,
  topic: string,
  groupId: string,
  onRecord: (record: ModelRecord, live: boolean) => void | Promise<void>,
  onRestart: (e: Error) => void = (e) => console.error(`model topic reader restarts: ${e}`),
): Promise<ModelTopicReader> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  // Per partition, the offset the backlog ends at: caught up once every one is read.
  const pending = new Map(
    ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]),
  );
  let markCaughtUp!: () => void;
  const caughtUp = new Promise<void>((r) => (markCaughtUp = r));
  if (pending.size === 0) markCaughtUp();
  const consumer: Consumer = kafka.consumer({
    groupId,
    maxBytes: FETCH_BYTES,
    maxBytesPerPartition: FETCH_BYTES,
    maxWaitTimeInMs: 200,
    sessionTimeout: 30_000,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const alive = await runKeptAlive(consumer, {
    // Nothing committed: a reader always starts from the beginning, even
    // one whose group id outlived a crash (the backlog must be read whole).
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      const live = pending.size === 0;
      await onRecord({
        key: message.key?.toString() ?? "",
        value: message.value ? new Uint8Array(message.value) : null,
        offset: message.offset,
      }, live);
      const end = pending.get(partition);
      if (end !== undefined && BigInt(message.offset) + 1n >= end) {
        pending.delete(partition);
        if (pending.size === 0) markCaughtUp();
      }
    },
  }, onRestart);
  let stopping: Promise<void> | undefined;
  return {
    caughtUp,
    stop() {
      stopping ??= (async () => {
        await alive.stop();
        await consumer.disconnect();
        await admin.deleteGroups([groupId]).catch(() => {});
        await admin.disconnect();
      })();
      return stopping;
    },
  };
}

/**
 * Every record of the model topic present now, in order: a reader that
 * stops once caught up. For model:list, rollback and promote.
 *
 * @example
 * ```ts
 * const records = await readModelTopic(kafka, "model-updates");
 * ```
 */
export async function readModelTopic(kafka: Kafka, topic: string): Promise<ModelRecord[]> {
  const records: ModelRecord[] = [];
  const reader = await followModelTopic(
    kafka,
    topic,
    `model-read-${crypto.randomUUID()}`,
    (r, live) => {
      if (!live) records.push(r);
    },
  );
  try {
    await reader.caughtUp;
  } finally {
    await reader.stop();
  }
  return records;
}
