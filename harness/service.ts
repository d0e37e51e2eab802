/**
 * Shared setup of the integration tests: a real broker (started through
 * `deno task kafka:start` when none answers), a small trained model, and
 * unique topics and groups per test.
 */
import type { Kafka } from "kafkajs";
import { type Config, parseConfig } from "../shared/config.ts";
import { loadFashionMnist, SYSTEM_DATA_DIR } from "../shared/data/dataset_files.ts";
import type { ImageSet } from "../shared/data/idx.ts";
import { runTask, startTaskUntil, type TaskProcess } from "./deno_task.ts";
import { brokerAnswers, createKafka } from "../shared/kafka/connection.ts";
import { train } from "../train.ts";
/** Where the integration tests and benches keep the small model they train and serve. */
export const MODEL_DIR = ".tmp/service-model";

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

/** Topics and a group of this test only, as config and as env for children. */
export function uniqueService(name: string): { config: Config; env: Record<string, string> } {
  const tag = `${name}-${crypto.randomUUID().slice(0, 8)}`;
  const env = {
    KAFKA_BROKERS: "localhost:9092",
    KAFKA_REQUEST_TOPIC: `test-${tag}-requests`,
    KAFKA_RESPONSE_TOPIC: `test-${tag}-responses`,
    KAFKA_DLQ_TOPIC: `test-${tag}-dlq`,
    KAFKA_WORKER_GROUP: `test-${tag}-workers`,
  };
  return { config: parseConfig(env), env };
}

/** Starts a worker process on the test's topics and waits until it serves. */
export async function startWorker(
  env: Record<string, string>,
  args: string[] = [],
): Promise<TaskProcess> {
  return await startTaskUntil(
    "worker",
    ["--model", `${MODEL_DIR}/model`, "--status-interval", "0", ...args],
    /^worker .* serving /,
    { env },
  );
}

/** A connected kafkajs client for the test process itself. */
export async function testKafka(config: Config): Promise<Kafka> {
  return await createKafka(config.kafka, `test-${crypto.randomUUID().slice(0, 6)}`);
}

/** Deletes the test's topics. */
export async function deleteTopics(kafka: Kafka, config: Config): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({
    topics: [config.topics.requests, config.topics.responses, config.topics.dlq],
  })
    .catch(() => {});
  await admin.disconnect();
}
