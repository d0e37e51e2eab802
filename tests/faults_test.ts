import assert from "node:assert/strict";
import { badRequests } from "../harness/bad_requests.ts";
import { hasPermissions, needsPermissions } from "./_support.ts";
import { MODEL_DIR as SERVICE_MODEL_DIR } from "../harness/service.ts";

// Loaded only when the tests may run: see _kafka_deps.ts.
const {
  badInput,
  caseService,
  ensureBroker,
  ensureModel,
  killWorkers,
  releaseBroker,
  restartBroker,
  restartReceiver,
  testImages,
} = hasPermissions() ? await import("./_kafka_deps.ts") : ({} as typeof import("./_kafka_deps.ts"));

// The cheaper cases of `deno task chaos`, smaller; the 3-broker case runs there only.
const opts = { ...needsPermissions(), sanitizeOps: false, sanitizeResources: false };
const model = `${SERVICE_MODEL_DIR}/model`;

Deno.test({
  name: "setup: a real Kafka broker answers and a model is trained",
  ...opts,
  async fn() {
    await ensureBroker();
    await ensureModel();
  },
});

Deno.test({
  name: "a worker killed with SIGKILL mid-stream and replaced loses no request",
  ...opts,
  async fn() {
    const r = await killWorkers(caseService("kill", model), await testImages(), 2000, 500, 1);
    assert.equal(r.sent, 2000);
    assert.equal(r.lost, 0, JSON.stringify(r));
    assert.equal(r.answered, 2000);
    assert.equal(r.notes.length, 1, "one kill happened");
  },
});

Deno.test({
  name: "a restarted receiver resumes from its committed offsets and misses nothing",
  ...opts,
  async fn() {
    const r = await restartReceiver(caseService("receiver", model), await testImages(), 1500, 500);
    assert.equal(r.lost, 0, JSON.stringify(r));
    assert.equal(r.answered, 1500);
    assert.match(r.notes[0], /^receiver stopped after \d+ answers/);
  },
});

Deno.test({
  name: "clients and workers ride out a broker stop and restart without losing a request",
  ...opts,
  async fn(t) {
    const managed = await Deno.stat(".kafka/node-1/pid").then(() => true, () => false);
    if (!managed) {
      console.log(
        "skipped: the broker was not started by deno task kafka:start, so it cannot be restarted",
      );
      return;
    }
    await t.step("stream of 1,500 at 500/s", async () => {
      const r = await restartBroker(caseService("broker", model), await testImages(), 1500, 500);
      assert.equal(r.lost, 0, JSON.stringify(r));
      assert.equal(r.answered, 1500);
    });
  },
});

Deno.test({
  name: "every kind of malformed request lands in the DLQ with its reason while good ones flow",
  ...opts,
  async fn() {
    const bad = badRequests(`t${crypto.randomUUID().slice(0, 4)}`);
    const r = await badInput(caseService("bad", model), await testImages(), 500, bad);
    assert.ok(r.kinds >= 25);
    for (const d of r.deadLetters) {
      assert.equal(d.got, d.expected, `${d.kind}: ${d.message}`);
      assert.ok(d.message && d.message.length > 10, `${d.kind} has a reason`);
    }
    assert.equal(r.errorReplies.length, r.expectedReplies);
    const expectedIds = new Set(bad.filter((b) => b.id).map((b) => b.id));
    for (const reply of r.errorReplies) assert.ok(expectedIds.has(reply.id), reply.id);
    assert.equal(r.goodAnswered, 500, "every good request is answered");
    assert.equal(r.workers.size, 1, "one worker served everything: it never restarted");
    assert.equal(r.workerExited, false);
    console.log(
      `good requests: ${r.goodPerSecondClean.toFixed(0)}/s alone, ${
        r.goodPerSecondMixed.toFixed(0)
      }/s with ${r.kinds} bad ones mixed in`,
    );
  },
});

Deno.test({
  name: "teardown: stop the broker if the tests started it",
  ...opts,
  async fn() {
    await releaseBroker();
  },
});
