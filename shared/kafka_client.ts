import {
  type Consumer,
  type ConsumerCrashEvent,
  type ConsumerRunConfig,
  type ISocketFactory,
  Kafka,
  type KafkaConfig,
  logLevel,
  Partitioners,
  type PartitionMetadata,
  type Producer,
  type ProducerRecord,
  type RecordMetadata,
  type SASLOptions,
} from "kafkajs";
import { Buffer } from "node:buffer";
import net from "node:net";
import tls from "node:tls";
import process from "node:process";
import type { KafkaSettings } from "./config.ts";

// kafkajs 2.2.4 sometimes schedules a negative timeout; Deno's Node layer then
// prints a TimeoutNegativeWarning (and runs it after 1 ms, which is what kafkajs
// wants). Other warnings still print.
process.removeAllListeners("warning");
process.on("warning", (w: Error) => {
  if (w.name !== "TimeoutNegativeWarning") console.error(`warning: ${w.name}: ${w.message}`);
});

const LEVEL_NAMES: Record<number, string> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

/**
 * kafkajs's own socket factory with Nagle's algorithm off: requests and
 * responses here are small and latency matters more than packet count.
 */
const noDelaySocket: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tls.connect(
      { host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl },
      onConnect,
    )
    : net.connect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  socket.setNoDelay(true);
  return socket;
};

const lastSeen = new Map<string, number>();

/** True for a log line already printed in the last 5 s: a broker outage repeats them. */
function repeated(key: string): boolean {
  const now = Date.now();
  const seen = lastSeen.get(key);
  if (seen !== undefined && now - seen < 5000) return true;
  lastSeen.set(key, now);
  if (lastSeen.size > 1000) lastSeen.clear();
  return false;
}

/**
 * Creates a kafkajs client from the project's settings: brokers, TLS (with
 * an optional CA file) and SASL PLAIN or SCRAM. kafkajs's JSON logs become
 * one short line each on stderr; `quiet` drops everything below errors,
 * which suits probes that expect refusals.
 *
 * @example
 * ```ts
 * const kafka = await createKafka(loadConfig().kafka, "worker-1");
 * ```
 */
export async function createKafka(
  settings: KafkaSettings,
  clientId = settings.clientId,
  options: { quiet?: boolean; connectionTimeout?: number; retries?: number } = {},
): Promise<Kafka> {
  const config: KafkaConfig = {
    clientId,
    socketFactory: noDelaySocket,
    brokers: settings.brokers,
    connectionTimeout: options.connectionTimeout ?? 3000,
    requestTimeout: 30_000,
    retry: { retries: options.retries ?? 8, initialRetryTime: 200, maxRetryTime: 5000 },
    logLevel: options.quiet ? logLevel.NOTHING : logLevel.WARN,
    logCreator: () => ({ namespace, level, log }) => {
      const { message, error } = log as { message: string; error?: string };
      if (repeated(`${namespace}${message}${error}`)) return;
      // Expected while a group rebalances or a broker restarts; kafkajs retries them.
      if (
        /coordinator is (loading|not available)|rebalanc|not the leader/i.test(
          `${message} ${error}`,
        )
      ) return;
      console.error(
        `kafka ${LEVEL_NAMES[level] ?? level}: ${namespace}: ${message}${
          error ? `: ${error}` : ""
        }`,
      );
    },
  };
  if (settings.ssl) {
    config.ssl = {
      rejectUnauthorized: settings.ssl.rejectUnauthorized,
      ...(settings.ssl.caFile ? { ca: [await Deno.readTextFile(settings.ssl.caFile)] } : {}),
    };
  }
  if (settings.sasl) {
    config.sasl = {
      mechanism: settings.sasl.mechanism,
      username: settings.sasl.username,
      password: settings.sasl.password,
    } as SASLOptions;
  }
  return new Kafka(config);
}

/**
 * True when a broker answers a metadata request within `timeoutMs`.
 *
 * @example
 * ```ts
 * if (!(await brokerAnswers(settings))) console.error("no broker");
 * ```
 */
export async function brokerAnswers(settings: KafkaSettings, timeoutMs = 3000): Promise<boolean> {
  const kafka = await createKafka(settings, "probe", {
    quiet: true,
    connectionTimeout: timeoutMs,
    retries: 0,
  });
  const admin = kafka.admin();
  try {
    await withTimeout(admin.connect().then(() => admin.describeCluster()), timeoutMs);
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** kafkajs writes Buffers as bytes but would stringify a plain Uint8Array. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function newIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5000 },
  });
}

const PRODUCER_STATE_LOST = new Set([
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "INVALID_PRODUCER_EPOCH",
  "UNKNOWN_PRODUCER_ID",
]);

function producerStateLost(e: unknown): boolean {
  for (
    let err = e as { type?: string; cause?: unknown; originalError?: unknown } | undefined;
    err;
  ) {
    if (err.type && PRODUCER_STATE_LOST.has(err.type)) return true;
    err = (err.cause ?? err.originalError) as typeof err;
  }
  return false;
}

/** The part of a kafkajs producer the project uses. */
export type Sender = Pick<Producer, "connect" | "disconnect" | "send" | "sendBatch">;

type Message = ProducerRecord["messages"][number];

/**
 * An idempotent producer (no duplicates from its own retries) that retries
 * without limit, as kafkajs requires for idempotence, so a send rides out a
 * broker restart instead of failing. Two kafkajs 2.2.4 failover bugs are
 * worked around, both seen losing acknowledged requests when one of three
 * brokers was killed:
 *
 * - a send spanning several partition leaders, retried after one of them
 *   died, skips the partitions that moved to a leader that had already
 *   answered, and still reports success. On a cluster of several brokers,
 *   each send therefore covers one partition;
 * - sequence numbers can fall out of step with a new leader
 *   (OUT_OF_ORDER_SEQUENCE_NUMBER, fatal to a kafkajs producer, which keeps
 *   its producer id across reconnects): the send goes again through a new
 *   producer, with a new id.
 *
 * A resend may duplicate what a failed attempt wrote: delivery stays
 * at-least-once. One send at a time.
 *
 * @example
 * ```ts
 * const producer = idempotentProducer(kafka);
 * await producer.connect();
 * await producer.send({ topic, acks: -1, messages });
 * ```
 */
export function idempotentProducer(
  kafka: Kafka,
  onReset: (e: unknown) => void = (e) => console.error(`kafka: new producer after ${e}`),
): Sender {
  let producer = newIdempotentProducer(kafka);
  const admin = kafka.admin();
  const partitioner = Partitioners.DefaultPartitioner();
  let brokers = 1;
  const metadata = new Map<string, { at: number; partitions: PartitionMetadata[] }>();

  async function recovering<T>(send: (p: Producer) => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await send(producer);
      } catch (e) {
        if (!producerStateLost(e) || attempt >= 5) throw e;
        onReset(e);
        await producer.disconnect().catch(() => {});
        producer = newIdempotentProducer(kafka);
        await producer.connect();
      }
    }
  }

  async function partitionsOf(topic: string): Promise<PartitionMetadata[]> {
    const known = metadata.get(topic);
    if (known && Date.now() - known.at < 10_000) return known.partitions;
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = topics[0].partitions;
    metadata.set(topic, { at: Date.now(), partitions });
    return partitions;
  }

  /** The sends of a record, one per partition on a cluster of several brokers. */
  async function split(topic: string, messages: Message[]): Promise<Message[][]> {
    if (brokers < 2) return [messages];
    const partitionMetadata = await partitionsOf(topic);
    const byPartition = new Map<number, Message[]>();
    for (const message of messages) {
      const partition = message.partition ?? partitioner({ topic, partitionMetadata, message });
      const group = byPartition.get(partition) ?? [];
      group.push({ ...message, partition });
      byPartition.set(partition, group);
    }
    return [...byPartition.values()];
  }

  async function sendAll(record: ProducerRecord): Promise<RecordMetadata[]> {
    const out: RecordMetadata[] = [];
    for (const messages of await split(record.topic, record.messages)) {
      out.push(...await recovering((p) => p.send({ ...record, messages })));
    }
    return out;
  }

  return {
    async connect() {
      await producer.connect();
      await admin.connect();
      brokers = (await admin.describeCluster()).brokers.length;
    },
    async disconnect() {
      await admin.disconnect();
      await producer.disconnect();
    },
    send: (record) => sendAll(record),
    async sendBatch(batch) {
      const { topicMessages = [], ...rest } = batch;
      const out: RecordMetadata[] = [];
      for (const { topic, messages } of topicMessages) {
        out.push(...await sendAll({ ...rest, topic, messages }));
      }
      return out;
    },
  };
}

/**
 * Gives a consumer group with no committed offsets on `topic` the topic's
 * current end offsets, so it starts at "now" like a fresh group does, but
 * durably: a consumer that crashes before its first commit would otherwise
 * restart at the then-latest offsets and skip what arrived meanwhile.
 * Call before the group's first consumer joins.
 */
export async function pinGroupStart(kafka: Kafka, groupId: string, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const partitions = committed[0]?.partitions ?? [];
    if (partitions.some((p) => p.offset !== "-1")) return;
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({
      groupId,
      topic,
      partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** What {@linkcode runKeptAlive} returns. */
export interface KeptAlive {
  /** Ends the restarts, waiting for one in progress. Call before pausing or stopping. */
  stop(): Promise<void>;
  /** False while the consumer is down after a crash kafkajs did not restart. */
  running(): boolean;
}

/**
 * consumer.run() that stays running. kafkajs restarts a crashed consumer only
 * after errors it calls retriable, and it takes some passing broker states
 * for final ones: "Failed to find group coordinator" while the broker
 * restarts is one, and the consumer then stops for good. After such a
 * crash this connects and runs it again (its subscriptions are kept), every
 * `retryMs`, until stop().
 */
export async function runKeptAlive(
  consumer: Consumer,
  config: ConsumerRunConfig,
  onRestart: (error: Error) => void,
  retryMs = 1000,
): Promise<KeptAlive> {
  let stopped = false;
  let down = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let restarting: Promise<void> | undefined;
  const restart = async () => {
    timer = undefined;
    if (stopped) return;
    try {
      await consumer.connect();
      await consumer.run(config);
      down = false;
    } catch {
      if (!stopped) timer = setTimeout(() => (restarting = restart()), retryMs);
    }
  };
  const removeListener = consumer.on(consumer.events.CRASH, ({ payload }: ConsumerCrashEvent) => {
    if (payload.restart || stopped) return;
    down = true;
    onRestart(payload.error);
    timer = setTimeout(() => (restarting = restart()), retryMs);
  });
  await consumer.run(config);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      removeListener();
      await restarting;
    },
    running: () => !down,
  };
}
