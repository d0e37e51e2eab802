import {
  Kafka,
  Partitioners,
  type PartitionMetadata,
  type Producer,
  type ProducerRecord,
  type RecordMetadata,
} from "kafkajs";

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
