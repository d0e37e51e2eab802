/** Creates the service's topics when missing. Run `deno task topics --help`. */
import type { Admin } from "kafkajs";
import { intFlag, parseFlags } from "../shared/cli/legacy_flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { loadConfig, type Topics } from "../shared/config.ts";
import { createKafka } from "../shared/kafka/connection.ts";

const USAGE = `
Create the request, response and dead-letter topics if they are missing.

Usage: deno task topics [--partitions N] [--replication N]
  --partitions N    partitions per topic (default 6): at most this many workers share the load
  --replication N   copies of each partition (default min(3, brokers))

Topic names come from KAFKA_REQUEST_TOPIC, KAFKA_RESPONSE_TOPIC, KAFKA_DLQ_TOPIC;
brokers from KAFKA_BROKERS (default localhost:9092).
`;

/** Partitions of a topic, or 0 when it does not exist. */
export async function partitionCount(admin: Admin, topic: string): Promise<number> {
  const meta = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => null);
  return meta?.topics[0]?.partitions.length ?? 0;
}

/**
 * Creates whichever of `topics` are missing, with `partitions` partitions
 * and min(3, brokers) replicas unless told otherwise; returns the names it
 * created. Existing topics are left as they are.
 */
export async function ensureTopics(
  admin: Admin,
  topics: Topics,
  partitions = 6,
  replication?: number,
): Promise<string[]> {
  const { brokers } = await admin.describeCluster();
  const replicationFactor = replication ?? Math.min(3, brokers.length);
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
      topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
    });
  }
  return missing;
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    partitions: { type: "string" },
    replication: { type: "string" },
  }, USAGE);
  if (!flags) return;
  const partitions = intFlag(flags.partitions, "partitions", 6, 1, 10_000);
  const replication = flags.replication === undefined
    ? undefined
    : intFlag(flags.replication, "replication", 1, 1, 16);
  const config = loadConfig();
  const admin = (await createKafka(config.kafka, "topics")).admin();
  await admin.connect();
  try {
    const created = await ensureTopics(admin, config.topics, partitions, replication);
    for (const t of [config.topics.requests, config.topics.responses, config.topics.dlq]) {
      const state = created.includes(t) ? "created" : "exists";
      console.log(`${t}: ${state}, ${await partitionCount(admin, t)} partitions`);
    }
  } finally {
    await admin.disconnect();
  }
}

if (import.meta.main) await runMain(main);
