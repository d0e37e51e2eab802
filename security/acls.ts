/**
 * Creates the service's topics (and the tenants' reply topics) and grants
 * each role its ACLs, connected as the super user. Run
 * `deno task acls --help`.
 */
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  type Admin,
  ResourcePatternTypes,
} from "kafkajs";
import { parseCli } from "../shared/cli/flags.ts";
import { runMain, UsageError } from "../shared/cli/run_main.ts";
import { loadConfig } from "../shared/config.ts";
import { createKafka } from "../shared/kafka/connection.ts";
import { ensureTopics } from "../server/topics.ts";
import { ensureModelTopic } from "../shared/kafka/model_topic.ts";
import {
  aclPlan,
  describeGrant,
  type Grant,
  type PlanInput,
  tenantReplyTopic,
} from "./acl_plan.ts";

const CLI = {
  summary: `
Secure cluster: create the request, response, dead-letter and tenant reply topics, and
grant each role (worker, client, tenants) the ACLs of docs/security.md. Runs as the
super user; idempotent.`,
  usage: "deno task acls [options]",
  flags: {
    tenants: {
      type: "string",
      arg: "A,B",
      help: "tenant principals, each with its own reply topic",
      default: "tenant-a,tenant-b",
    },
    "client-group-prefix": {
      type: "string",
      arg: "PREFIX",
      help: "consumer groups the client principal may use start with this",
      default: "fashion-receiver",
    },
    partitions: { type: "int", help: "partitions of topics it creates", default: 6, min: 1 },
  },
  notes: `
Environment: the admin's connection, e.g. for the local secure cluster
  KAFKA_BROKERS=127.0.0.1:9192 KAFKA_SSL=true KAFKA_SSL_CA_FILE=.kafka/secure/ca.pem
  KAFKA_SASL_MECHANISM=scram-sha-512 KAFKA_SASL_USERNAME=admin
  KAFKA_SASL_PASSWORD_FILE=.kafka/secure/credentials/admin.password
Topic names, KAFKA_WORKER_GROUP and KAFKA_REPLY_TOPIC_PREFIX as for the worker.`,
} as const;

const TENANT = /^[A-Za-z0-9._-]{1,100}$/;

/** kafkajs's ACL binding for a grant: ALLOW from any host. */
function binding(g: Grant) {
  return {
    resourceType: g.resource === "topic" ? AclResourceTypes.TOPIC : AclResourceTypes.GROUP,
    resourceName: g.name,
    resourcePatternType: g.pattern === "literal"
      ? ResourcePatternTypes.LITERAL
      : ResourcePatternTypes.PREFIXED,
    principal: `User:${g.principal}`,
    host: "*",
    operation: g.operation === "read" ? AclOperationTypes.READ : AclOperationTypes.WRITE,
    permissionType: AclPermissionTypes.ALLOW,
  };
}

/**
 * Creates missing topics, tenant reply topics included, then the ACLs of
 * the plan; returns the plan.
 */
export async function applyAcls(
  admin: Admin,
  plan: PlanInput,
  partitions: number,
): Promise<Grant[]> {
  await createTopics(admin, plan, partitions).catch(async (e) => {
    // Seen once on a just-formatted broker: kafkajs's wait for the new
    // topics' leaders gave up with "does not host this topic-partition".
    // The topics were made; a second pass finds them and goes on.
    console.error(`topic creation: ${(e as Error).message}; trying once more`);
    await new Promise((r) => setTimeout(r, 1000));
    await createTopics(admin, plan, partitions);
  });
  const grants = aclPlan(plan);
  await admin.createAcls({ acl: grants.map(binding) });
  return grants;
}

/**
 * Removes exactly the ACLs of `plan` (what applyAcls granted for it), so
 * that runs with names of their own leave no bindings behind.
 */
export async function revokeAcls(admin: Admin, plan: PlanInput): Promise<void> {
  await admin.deleteAcls({ filters: aclPlan(plan).map(binding) });
}

async function createTopics(admin: Admin, plan: PlanInput, partitions: number): Promise<void> {
  await ensureTopics(admin, plan.topics, { partitions });
  await ensureModelTopic(admin, plan.modelTopic);
  const existing = new Set(await admin.listTopics());
  const replies = plan.tenants.map((t) => tenantReplyTopic(plan.replyTopicPrefix, t))
    .filter((t) => !existing.has(t));
  if (replies.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: replies.map((topic) => ({ topic, numPartitions: partitions })),
    });
  }
}

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, CLI);
  if (!flags) return;
  const tenants = flags.tenants.split(",").map((t) => t.trim()).filter(Boolean);
  for (const t of tenants) {
    if (!TENANT.test(t)) {
      throw new UsageError(`--tenants expects names of letters, digits, '.', '_', '-', got '${t}'`);
    }
  }
  const config = loadConfig();
  const admin = (await createKafka(config.kafka, "acls")).admin();
  await admin.connect();
  try {
    const grants = await applyAcls(admin, {
      topics: config.topics,
      workerGroup: config.workerGroup,
      replyTopicPrefix: config.replyTopicPrefix,
      modelTopic: config.modelTopic,
      clientGroupPrefix: flags["client-group-prefix"],
      tenants,
    }, flags.partitions);
    for (const g of grants) console.log(describeGrant(g));
  } finally {
    await admin.disconnect();
  }
}

if (import.meta.main) await runMain(main);
