/**
 * What the integration tests and the benches set up around the service: a
 * real broker (started through `deno task kafka:start` when none answers),
 * a small trained model, and topics and a worker group of their own.
 */
import type { Kafka } from "kafkajs";
import { type Config, parseConfig } from "../shared/config.ts";
import { loadFashionMnist, SYSTEM_DATA_DIR } from "../shared/data/dataset_files.ts";
import type { ImageSet } from "../shared/data/idx.ts";
import { runTask } from "./deno_task.ts";
import { brokerAnswers, createKafka } from "../shared/kafka/connection.ts";
import { ensureTopics } from "../server/topics.ts";
import { train } from "../train.ts";

/** Where the integration tests and benches keep the small model they train and serve. */
export const MODEL_DIR = ".tmp/service-model";

/** Topics and a worker group, as config for this process and as env for its children. */
export interface Service {
  config: Config;
  env: Record<string, string>;
}

let startedBroker = false;

/** Makes sure a broker answers at localhost:9092, starting one if needed. */
export async function ensureBroker(): Promise<void> {
  if (await brokerAnswers(parseConfig({}).kafka)) return;
  await runTask("kafka:start");
  startedBroker = true;
}

/** Stops the broker if ensureBroker() started it. */
export async function releaseBroker(): Promise<void> {
  if (startedBroker) await runTask("kafka:stop");
  startedBroker = false;
}

/** Trains (once per checkout) the model the integration tests serve. */
export async function ensureModel(): Promise<void> {
  try {
    await Deno.stat(`${MODEL_DIR}/model/model.json`);
  } catch {
    await train({
      epochs: 3,
      batchSize: 200,
      patience: 3,
      validationSplit: 0,
      seed: 5,
      limit: 30_000,
      backend: "wasm",
      threads: 2,
      out: MODEL_DIR,
    });
  }
}

let testSet: ImageSet | undefined;

/** The Fashion-MNIST test split. */
export async function testImages(): Promise<ImageSet> {
  testSet ??= await loadFashionMnist(SYSTEM_DATA_DIR, "test");
  return testSet;
}

/**
 * Topics and a worker group of one test, bench run or fault case only, so
 * that runs sharing a broker never read each other's messages.
 */
export function uniqueService(tag: string, o: { brokers?: string } = {}): Service {
  const id = `${tag.replace(/[^A-Za-z0-9-]+/g, "-")}-${crypto.randomUUID().slice(0, 8)}`;
  const env = {
    KAFKA_BROKERS: o.brokers ?? "localhost:9092",
    KAFKA_REQUEST_TOPIC: `${id}-requests`,
    KAFKA_RESPONSE_TOPIC: `${id}-responses`,
    KAFKA_DLQ_TOPIC: `${id}-dlq`,
    KAFKA_WORKER_GROUP: `${id}-workers`,
  };
  return { config: parseConfig(env), env };
}

/** A kafkajs client for this process on the service's brokers. */
export async function serviceKafka(service: Service, clientId = "harness"): Promise<Kafka> {
  return await createKafka(service.config.kafka, `${clientId}-${crypto.randomUUID().slice(0, 6)}`);
}

/** Creates the service's request, response and dead-letter topics. */
export async function createTopics(service: Service, partitions = 6): Promise<void> {
  const admin = (await serviceKafka(service, "harness-admin")).admin();
  await admin.connect();
  try {
    await ensureTopics(admin, service.config.topics, { partitions });
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the service's topics; ones already gone are no error. */
export async function deleteTopics(service: Service): Promise<void> {
  const admin = (await serviceKafka(service, "harness-admin")).admin();
  await admin.connect();
  const { requests, responses, dlq } = service.config.topics;
  await admin.deleteTopics({ topics: [requests, responses, dlq] }).catch(() => {});
  await admin.disconnect();
}
