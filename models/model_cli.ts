/** What the model:* scripts share: the --name flag and their Kafka client. */
import type { Kafka } from "kafkajs";
import { UsageError } from "../shared/cli/run_main.ts";
import { type Config, loadConfig } from "../shared/config.ts";
import { createKafka } from "../shared/kafka/connection.ts";
import { DEFAULT_MODEL_NAME } from "../shared/model/catalog.ts";

/** The --name flag of every model:* script. */
export const NAME_FLAG = {
  type: "string",
  arg: "NAME",
  default: DEFAULT_MODEL_NAME,
  help: "the model's name: the announcements' key, as workers' --model-name",
} as const;

/** Notes printed after the flags of every model:* script. */
export const MODEL_NOTES = `
The topic is KAFKA_MODEL_TOPIC (default model-updates), created compacted with
max.message.bytes 8 MiB when missing; brokers from KAFKA_BROKERS. See docs/models.md.`;

/** The configuration and a Kafka client for a model:* script. */
export async function modelScriptKafka(tool: string): Promise<{ config: Config; kafka: Kafka }> {
  const config = loadConfig();
  return { config, kafka: await createKafka(config.kafka, `model-${tool}`) };
}

/**
 * Runs an operator action whose RangeError (nothing to roll back, an
 * unknown version) is the operator's to fix: a usage error, exit 2.
 */
export async function operatorAction<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
}
