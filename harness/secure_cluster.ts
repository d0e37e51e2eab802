/**
 * The secure local cluster for tests, the demo and benchmarks: started
 * through `deno task kafka:start --secure` when it does not answer, and
 * per-run topics with the environment of each principal.
 */
import { type Config, parseConfig, readSecretFile } from "../shared/config.ts";
import { brokerAnswers, createKafka } from "../shared/kafka/connection.ts";
import { applyAcls, revokeAcls } from "../security/acls.ts";
import type { PlanInput } from "../security/acl_plan.ts";
import { type Principal, secureEnv } from "../local_broker/secure_config.ts";
import { runTask } from "./deno_task.ts";
import type { Service } from "./service.ts";

/** Consumer groups of the client principal start with this (deno task acls's default). */
export const CLIENT_GROUP_PREFIX = "fashion-receiver";

let started = false;

/** The admin's configuration of the secure cluster (reads the admin password file). */
export function secureAdminConfig(): Config {
  return parseConfig(secureEnv("admin"), readSecretFile);
}

/** Makes sure the secure cluster answers (as admin), starting it if needed; true if it did. */
export async function ensureSecureBroker(): Promise<boolean> {
  const answers = await Deno.stat(secureEnv("admin").KAFKA_SASL_PASSWORD_FILE).then(
    () => brokerAnswers(secureAdminConfig().kafka),
    () => false,
  );
  if (answers) return false;
  await runTask("kafka:start", ["--secure"]);
  started = true;
  return true;
}

/** Stops the secure cluster if ensureSecureBroker() started it. */
export async function releaseSecureBroker(): Promise<void> {
  if (started) await runTask("kafka:stop", ["--secure"]);
  started = false;
}

/** Topics, groups and the reply prefix of one run on the secure cluster. */
export interface SecureService {
  /** Names shared by every principal (topics, worker group, reply prefix). */
  names: Record<string, string>;
  /** The environment of a process that runs as `principal`. */
  env(principal: Principal): Record<string, string>;
  /** The configuration of `principal`, for the test process itself. */
  config(principal: Principal): Config;
}

/** Unique names for this run, as environment and configuration per principal. */
export function secureService(name: string): SecureService {
  const tag = `${name.replace(/[^A-Za-z0-9-]+/g, "-")}-${crypto.randomUUID().slice(0, 8)}`;
  const names = {
    KAFKA_REQUEST_TOPIC: `sec-${tag}-requests`,
    KAFKA_RESPONSE_TOPIC: `sec-${tag}-responses`,
    KAFKA_DLQ_TOPIC: `sec-${tag}-dlq`,
    KAFKA_WORKER_GROUP: `sec-${tag}-workers`,
    KAFKA_REPLY_TOPIC_PREFIX: `sec-${tag}-replies.`,
    KAFKA_MODEL_TOPIC: `sec-${tag}-models`,
  };
  const env = (principal: Principal) => ({ ...secureEnv(principal), ...names });
  return { names, env, config: (p) => parseConfig(env(p), readSecretFile) };
}

/**
 * The secure twin of uniqueService() with createTopics(): this run's topics
 * and the roles' ACLs, made by the admin; the Service's config is the
 * client's (for this process's sends and receives) and its env the
 * worker's (for worker processes).
 */
export async function openSecureService(tag: string): Promise<Service> {
  const svc = secureService(tag);
  const admin = (await createKafka(secureAdminConfig().kafka, "harness-admin")).admin();
  await admin.connect();
  try {
    await applyAcls(admin, servicePlan(svc.config("client")), 6);
  } finally {
    await admin.disconnect();
  }
  return { config: svc.config("client"), env: svc.env("worker") };
}

/** The ACL plan of a service's names, for the roles the bench and demo run. */
function servicePlan(config: Config): PlanInput {
  return {
    topics: config.topics,
    workerGroup: config.workerGroup,
    replyTopicPrefix: config.replyTopicPrefix,
    modelTopic: config.modelTopic,
    clientGroupPrefix: CLIENT_GROUP_PREFIX,
    tenants: [],
  };
}

/** Deletes the topics and ACLs of an openSecureService(), as the admin. */
export async function closeSecureService(service: Service): Promise<void> {
  const admin = (await createKafka(secureAdminConfig().kafka, "harness-admin")).admin();
  await admin.connect();
  try {
    const { requests, responses, dlq } = service.config.topics;
    const topics = [requests, responses, dlq, service.config.modelTopic];
    await admin.deleteTopics({ topics }).catch(() => {});
    await revokeAcls(admin, servicePlan(service.config));
  } finally {
    await admin.disconnect();
  }
}
