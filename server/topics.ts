/** Creates the service's topics when missing. Run `deno task topics --help`. */
import type { Admin, Kafka } from "kafkajs";
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { loadConfig, type Topics } from "../shared/config.ts";
import { createKafka } from "../shared/kafka/connection.ts";

const TOPICS_CLI = {
  summary: "Create the request, response and dead-letter topics if they are missing.",
  usage: "deno task topics [options]",
  flags: {
    partitions: {
      type: "int",
      arg: "N",
      default: 6,
      min: 1,
      max: 10_000,
      help: "partitions per topic: at most this many workers share the load",
    },
    replication: {
      type: "int",
      arg: "N",
      min: 1,
      max: 16,
      help: "copies of each partition (default min(3, brokers))",
    },
  },
  notes: `
Topic names come from KAFKA_REQUEST_TOPIC, KAFKA_RESPONSE_TOPIC, KAFKA_DLQ_TOPIC;
brokers from KAFKA_BROKERS (default localhost:9092).`,
} as const satisfies CliSpec;

/** Partitions of a topic, or 0 when it does not exist. */
export async function partitionCount(admin: Admin, topic: string): Promise<number> {
  const meta = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => null);
  return meta?.topics[0]?.partitions.length ?? 0;
}

/** What {@linkcode ensureTopics} creates. */
export interface TopicOptions {
  /** Partitions of each topic created (6 by default). */
  partitions?: number;
  /** Copies of each partition; min(3, brokers) by default. */
  replication?: number;
}

/**
 * Creates whichever of `topics` are missing, with `o.partitions` partitions
 * and min(3, brokers) replicas unless told otherwise; returns the names it
 * created. Existing topics are left as they are.
 *
 * The request topic keeps the broker's max.message.bytes (about 1 MB)
 * rather than the schema's 4 KiB request limit plus record overhead: Kafka
 * applies that setting to a whole record batch, not to a record, and a
 * producer sends all the records of a partition in one batch. Measured on
 * our broker with max.message.bytes 5,120: sends of one and of four 1.1 KB
 * records were accepted, a send of ten refused with MESSAGE_TOO_LARGE; the
 * client sends up to 500 requests a call, so a 5 KB limit would refuse
 * most of its sends. Oversized requests are instead refused by the worker
 * (too_large, with an error reply by key), and its dead letters are bounded
 * (dead_letter.ts), so they cannot stall a partition.
 */
export async function ensureTopics(
  admin: Admin,
  topics: Topics,
  o: TopicOptions = {},
): Promise<string[]> {
  const { brokers } = await admin.describeCluster();
  const replicationFactor = o.replication ?? Math.min(3, brokers.length);
  if (replicationFactor > brokers.length) {
    throw new Error(
      `--replication ${replicationFactor} needs as many brokers; the cluster has ${brokers.length}`,
    );
  }
  const existing = new Set(await admin.listTopics());
  const missing = [topics.requests, topics.responses, topics.dlq].filter((t) => !existing.has(t));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: o.partitions ?? 6,
        replicationFactor,
      })),
    });
  }
  return missing;
}

/**
 * Creates the service's missing topics with `partitions` partitions and
 * returns their names with the request topic's partition count (which may
 * differ from `partitions` when it existed already).
 */
export async function prepareTopics(
  kafka: Kafka,
  topics: Topics,
  partitions: number,
): Promise<{ created: string[]; requestPartitions: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await ensureTopics(admin, topics, { partitions });
    return { created, requestPartitions: await partitionCount(admin, topics.requests) };
  } finally {
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, TOPICS_CLI);
  if (!flags) return;
  const { partitions, replication } = flags;
  const config = loadConfig();
  const admin = (await createKafka(config.kafka, "topics")).admin();
  await admin.connect();
  try {
    const created = await ensureTopics(admin, config.topics, { partitions, replication });
    for (const t of [config.topics.requests, config.topics.responses, config.topics.dlq]) {
      const state = created.includes(t) ? "created" : "exists";
      console.log(`${t}: ${state}, ${await partitionCount(admin, t)} partitions`);
    }
  } finally {
    await admin.disconnect();
  }
}

if (import.meta.main) await runMain(main);
