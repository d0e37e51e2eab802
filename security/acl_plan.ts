/**
 * Who may do what on the secure cluster: one principal per role, each
 * granted only the operations its process performs. Pure: acls.ts applies
 * the plan through kafkajs's admin API. The brokers deny everything else
 * (allow.everyone.if.no.acl.found=false); `admin` is the super user and
 * needs no grant.
 */
import type { Topics } from "../shared/config.ts";
import { MODEL_FOLLOW_GROUP_PREFIX } from "../shared/model/catalog.ts";

export type AclOperation = "read" | "write";

/** One ALLOW binding: `principal` may `operation` on a topic or group. */
export interface Grant {
  principal: string;
  resource: "topic" | "group";
  /** `prefixed` matches every name that starts with `name`. */
  pattern: "literal" | "prefixed";
  name: string;
  operation: AclOperation;
}

export interface PlanInput {
  topics: Topics;
  workerGroup: string;
  /** Every reply_to starts with this (KAFKA_REPLY_TOPIC_PREFIX). */
  replyTopicPrefix: string;
  /** The compacted topic models are announced on (KAFKA_MODEL_TOPIC). */
  modelTopic: string;
  /** The `client` principal's consumer groups start with this. */
  clientGroupPrefix: string;
  /** Tenant principals; each gets the reply topic `<replyTopicPrefix><tenant>`. */
  tenants: string[];
}

/** The reply topic of `tenant`: only that tenant may read it. */
export function tenantReplyTopic(replyTopicPrefix: string, tenant: string): string {
  return `${replyTopicPrefix}${tenant}`;
}

/**
 * The grants of every role. READ on a topic or group implies DESCRIBE, and
 * WRITE on a topic implies IDEMPOTENT_WRITE (Kafka 3+), which is all the
 * idempotent producers, consumers and offset commits need.
 *
 * - worker: reads requests in the worker group; writes responses, dead
 *   letters and replies under the reply prefix; reads the model topic in
 *   groups `model-follow-...` and writes what it serves there. Publishing
 *   models (model:publish, rollback, promote) is the admin's.
 * - client: writes requests; reads the shared responses in groups of its prefix.
 * - each tenant: writes requests; reads only its own reply topic, in groups
 *   named `<tenant>-...`.
 */
export function aclPlan(p: PlanInput): Grant[] {
  const topic = (principal: string, name: string, operation: AclOperation): Grant => ({
    principal,
    resource: "topic",
    pattern: "literal",
    name,
    operation,
  });
  const groups = (principal: string, prefix: string): Grant => ({
    principal,
    resource: "group",
    pattern: "prefixed",
    name: prefix,
    operation: "read",
  });
  const grants: Grant[] = [
    topic("worker", p.topics.requests, "read"),
    { ...topic("worker", p.workerGroup, "read"), resource: "group" },
    topic("worker", p.topics.responses, "write"),
    topic("worker", p.topics.dlq, "write"),
    { ...topic("worker", p.replyTopicPrefix, "write"), pattern: "prefixed" },
    topic("worker", p.modelTopic, "read"),
    topic("worker", p.modelTopic, "write"),
    groups("worker", MODEL_FOLLOW_GROUP_PREFIX),
    topic("client", p.topics.requests, "write"),
    topic("client", p.topics.responses, "read"),
    groups("client", p.clientGroupPrefix),
  ];
  for (const tenant of p.tenants) {
    grants.push(
      topic(tenant, p.topics.requests, "write"),
      topic(tenant, tenantReplyTopic(p.replyTopicPrefix, tenant), "read"),
      groups(tenant, `${tenant}-`),
    );
  }
  return grants;
}

/** One line per grant, for the task's output and the docs. */
export function describeGrant(g: Grant): string {
  const name = g.pattern === "prefixed" ? `${g.name}*` : g.name;
  return `User:${g.principal} ${g.operation.toUpperCase()} ${g.resource} ${name}`;
}
