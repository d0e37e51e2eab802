import { DEFAULT_REPLY_TOPIC_PREFIX } from "./protocol/schema.ts";
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
  /**
   * A request's `reply_to` must start with this (KAFKA_REPLY_TOPIC_PREFIX,
   * default `analysis-responses.`), so that clients can only direct answers
   * to topics meant for answers, where ACLs give each tenant its own.
   */
  replyTopicPrefix: string;
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
  "KAFKA_SASL_PASSWORD_FILE",
  "KAFKA_REQUEST_TOPIC",
  "KAFKA_RESPONSE_TOPIC",
  "KAFKA_DLQ_TOPIC",
  "KAFKA_REPLY_TOPIC_PREFIX",
  "KAFKA_WORKER_GROUP",
  "KAFKA_MODEL_TOPIC",
  "FASHION_MNIST_DIR",
] as const;

export type EnvName = typeof ENV_NAMES[number];
export type Env = Partial<Record<EnvName, string>>;

/** Where answers may be directed by a request's `reply_to` unless configured otherwise. */

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

/** Reads a secret file (KAFKA_SASL_PASSWORD_FILE); see {@linkcode readSecretFile}. */
export type SecretReader = (path: string, name: EnvName) => string;

const noSecretFiles: SecretReader = (_path, name) => {
  throw new ConfigError(`${name} is set but this caller reads no files: use loadConfig()`);
};

/**
 * Reads a secret from a file that only its owner may read, without a
 * trailing newline. Refuses, in one line that names the file but never its
 * content, a file that group or others can read, or an empty one.
 *
 * @example
 * ```ts
 * const password = readSecretFile(".kafka/secure/credentials/worker.password", "KAFKA_SASL_PASSWORD_FILE");
 * ```
 */
export function readSecretFile(path: string, name: EnvName): string {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    throw new ConfigError(`${name} expects a readable file, got '${path}' (${(e as Error).name})`);
  }
  const mode = info.mode ?? 0;
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      `${name} expects a file only its owner can access (chmod 600), got '${path}' with mode ${
        (mode & 0o777).toString(8).padStart(4, "0")
      }`,
    );
  }
  const secret = Deno.readTextFileSync(path).replace(/\r?\n$/, "");
  if (!secret) throw new ConfigError(`${name} expects a non-empty file, got an empty '${path}'`);
  return secret;
}

/** The SASL settings, or undefined without KAFKA_SASL_MECHANISM. Never puts a password in an error. */
function sasl(env: Env, readSecret: SecretReader): KafkaSettings["sasl"] {
  const mechanism = env.KAFKA_SASL_MECHANISM?.trim().toLowerCase();
  if (!mechanism) return undefined;
  if (mechanism !== "plain" && mechanism !== "scram-sha-256" && mechanism !== "scram-sha-512") {
    throw new ConfigError(
      `KAFKA_SASL_MECHANISM expects plain, scram-sha-256 or scram-sha-512, got '${env.KAFKA_SASL_MECHANISM}'`,
    );
  }
  const file = env.KAFKA_SASL_PASSWORD_FILE?.trim();
  if (file && env.KAFKA_SASL_PASSWORD) {
    throw new ConfigError(
      "KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE expect one of them to be set, got both",
    );
  }
  const username = env.KAFKA_SASL_USERNAME ?? "";
  const password = file
    ? readSecret(file, "KAFKA_SASL_PASSWORD_FILE")
    : env.KAFKA_SASL_PASSWORD ?? "";
  if (!username || !password) {
    throw new ConfigError(
      `KAFKA_SASL_MECHANISM=${mechanism} expects KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) to be set`,
    );
  }
  return { mechanism, username, password };
}

/**
 * Builds the configuration from environment values, with defaults and
 * validation. Pure: pass `readEnv()` for the real environment, and
 * `readSecretFile` when KAFKA_SASL_PASSWORD_FILE may be set.
 *
 * @example
 * ```ts
 * const config = parseConfig({ KAFKA_BROKERS: "a:9092,b:9092" });
 * config.kafka.brokers; // ["a:9092", "b:9092"]
 * ```
 */
export function parseConfig(env: Env, readSecret: SecretReader = noSecretFiles): Config {
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
  const credentials = sasl(env, readSecret);
  if (credentials) kafka.sasl = credentials;
  return {
    kafka,
    topics: {
      requests: topic(env, "KAFKA_REQUEST_TOPIC", "analysis-requests"),
      responses: topic(env, "KAFKA_RESPONSE_TOPIC", "analysis-responses"),
      dlq: topic(env, "KAFKA_DLQ_TOPIC", "analysis-requests-dlq"),
    },
    workerGroup: env.KAFKA_WORKER_GROUP?.trim() || "read-ml-requests",
    modelTopic: topic(env, "KAFKA_MODEL_TOPIC", "model-updates"),
    replyTopicPrefix: topic(env, "KAFKA_REPLY_TOPIC_PREFIX", DEFAULT_REPLY_TOPIC_PREFIX),
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

/** The configuration of this process: `parseConfig(readEnv(), readSecretFile)`. */
export function loadConfig(): Config {
  return parseConfig(readEnv(), readSecretFile);
}
