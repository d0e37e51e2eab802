import assert from "node:assert/strict";
import { aclPlan, describeGrant, tenantReplyTopic } from "../security/acl_plan.ts";

const plan = aclPlan({
  topics: { requests: "req", responses: "resp", dlq: "dlq" },
  workerGroup: "workers",
  replyTopicPrefix: "resp.",
  modelTopic: "models",
  clientGroupPrefix: "fashion-receiver",
  tenants: ["tenant-a", "tenant-b"],
});
const lines = (principal: string) =>
  plan.filter((g) => g.principal === principal).map(describeGrant);

Deno.test("aclPlan() grants each role only what its process does", async (t) => {
  await t.step("worker: read requests in its group, write answers and dead letters", () => {
    assert.deepEqual(lines("worker"), [
      "User:worker READ topic req",
      "User:worker READ group workers",
      "User:worker WRITE topic resp",
      "User:worker WRITE topic dlq",
      "User:worker WRITE topic resp.*",
      "User:worker READ topic models",
      "User:worker WRITE topic models",
      "User:worker READ group model-follow-*",
    ]);
  });
  await t.step("client: write requests, read the shared answers in its own groups", () => {
    assert.deepEqual(lines("client"), [
      "User:client WRITE topic req",
      "User:client READ topic resp",
      "User:client READ group fashion-receiver*",
    ]);
  });
  await t.step("a tenant: write requests, read only its own reply topic", () => {
    assert.deepEqual(lines("tenant-b"), [
      "User:tenant-b WRITE topic req",
      "User:tenant-b READ topic resp.tenant-b",
      "User:tenant-b READ group tenant-b-*",
    ]);
  });
  await t.step(
    "nobody but the worker reads requests or writes answers; nobody gets admin rights",
    () => {
      for (const g of plan) {
        if (g.principal === "worker") continue;
        assert.ok(!(g.operation === "read" && g.name === "req"), describeGrant(g));
        assert.ok(!(g.operation === "write" && g.name.startsWith("resp")), describeGrant(g));
      }
      assert.deepEqual(new Set(plan.map((g) => g.operation)), new Set(["read", "write"]));
      assert.deepEqual(new Set(plan.map((g) => g.resource)), new Set(["topic", "group"]));
    },
  );
});

Deno.test("tenantReplyTopic() is the reply prefix followed by the tenant", () => {
  assert.equal(tenantReplyTopic("analysis-responses.", "tenant-a"), "analysis-responses.tenant-a");
});
