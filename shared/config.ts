/** A bad environment setting: scripts print it as one line and exit 1. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export type SaslMechanism = "plain" | "scram-sha-256" | "scram-sha-512";

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** TLS on; `caFile` adds a CA bundle, `rejectUnauthorized` false allows self-signed. */
  ssl?: { caFile?: string; rejectUnauthorized: boolean };
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
}

export interface Topics {
  requests: string;
  responses: string;
  dlq: string;
}

export interface Config {
  kafka: KafkaSettings;
  topics: Topics;
  /** Consumer group of the workers. */
  workerGroup: string;
  /** The compacted topic models are announced on (KAFKA_MODEL_TOPIC). */
  modelTopic: string;
  /** FASHION_MNIST_DIR, when set. */
  dataDir?: string;
}

/** Every variable the project reads; tasks grant --allow-env for these only. */
export const ENV_NAMES = [
  "KAFKA_BROKERS",
  "KAFKA_CLIENT_ID",
  "KAFKA_SSL",
  "KAFKA_SSL_CA_FILE",
  "KAFKA_SSL_REJECT_UNAUTHORIZED",
  "KAFKA_SASL_MECHANISM",
  "KAFKA_SASL_USERNAME",
  "KAFKA_SASL_PASSWORD",
  "KAFKA_REQUEST_TOPIC",
  "KAFKA_RESPONSE_TOPIC",
  "KAFKA_DLQ_TOPIC",
  "KAFKA_WORKER_GROUP",
  "KAFKA_MODEL_TOPIC",
  "FASHION_MNIST_DIR",
] as const;

export type EnvName = typeof ENV_NAMES[number];
export type Env = Partial<Record<EnvName, string>>;

const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const BROKER = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/;

function bool(env: Env, name: EnvName, fallback: boolean): boolean {
  const v = env[name]?.trim().toLowerCase();
  if (v === undefined || v === "") return fallback;
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ConfigError(`${name} expects true or false, got '${env[name]}'`);
}

function topic(env: Env, name: EnvName, fallback: string): string {
  const v = env[name]?.trim() || fallback;
  if (!TOPIC.test(v)) {
    throw new ConfigError(
      `${name} expects a Kafka topic name (letters, digits, '.', '_', '-'), got '${v}'`,
    );
  }
  return v;
}

/**
 * Builds the configuration from environment values, with defaults and
 * validation. Pure: pass `readEnv()` for the real environment.
 *
 * @example
 * ```ts
 * const config = parseConfig({ KAFKA_BROKERS: "a:9092,b:9092" });
 * config.kafka.brokers; // ["a:9092", "b:9092"]
 * ```
 */
export function parseConfig(env: Env): Config {
  const brokers = (env.KAFKA_BROKERS?.trim() || "localhost:9092")
    .split(",").map((b) => b.trim()).filter(Boolean);
  for (const b of brokers) {
    const port = Number(b.slice(b.lastIndexOf(":") + 1));
    if (!BROKER.test(b) || port < 1 || port > 65535) {
      throw new ConfigError(`KAFKA_BROKERS expects host:port[,host:port...], got '${b}'`);
    }
  }
  const kafka: KafkaSettings = {
    brokers,
    clientId: env.KAFKA_CLIENT_ID?.trim() || "fashion-mnist",
  };
  if (bool(env, "KAFKA_SSL", false) || env.KAFKA_SSL_CA_FILE) {
    kafka.ssl = {
      caFile: env.KAFKA_SSL_CA_FILE?.trim() || undefined,
      rejectUnauthorized: bool(env, "KAFKA_SSL_REJECT_UNAUTHORIZED", true),
    };
  }
  const mechanism = env.KAFKA_SASL_MECHANISM?.trim().toLowerCase();
  if (mechanism) {
    if (mechanism !== "plain" && mechanism !== "scram-sha-256" && mechanism !== "scram-sha-512") {
      throw new ConfigError(
        `KAFKA_SASL_MECHANISM expects plain, scram-sha-256 or scram-sha-512, got '${env.KAFKA_SASL_MECHANISM}'`,
      );
    }
    const username = env.KAFKA_SASL_USERNAME ?? "";
    const password = env.KAFKA_SASL_PASSWORD ?? "";
    if (!username || !password) {
      throw new ConfigError(
        `KAFKA_SASL_MECHANISM=${mechanism} expects KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD to be set`,
      );
    }
    kafka.sasl = { mechanism, username, password };
  }
  return {
    kafka,
    topics: {
      requests: topic(env, "KAFKA_REQUEST_TOPIC", "analysis-requests"),
      responses: topic(env, "KAFKA_RESPONSE_TOPIC", "analysis-responses"),
      dlq: topic(env, "KAFKA_DLQ_TOPIC", "analysis-requests-dlq"),
    },
    workerGroup: env.KAFKA_WORKER_GROUP?.trim() || "read-ml-requests",
    modelTopic: topic(env, "KAFKA_MODEL_TOPIC", "model-updates"),
    dataDir: env.FASHION_MNIST_DIR?.trim() || undefined,
  };
}

/**
 * Reads the project's variables from the process environment. A variable
 * the task has no permission to read counts as unset.
 */
export function readEnv(): Env {
  const env: Env = {};
  for (const name of ENV_NAMES) {
    try {
      const v = Deno.env.get(name);
      if (v !== undefined) env[name] = v;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotCapable)) throw e;
    }
  }
  return env;
}

/** The configuration of this process: `parseConfig(readEnv())`. */
export function loadConfig(): Config {
  return parseConfig(readEnv());
}
