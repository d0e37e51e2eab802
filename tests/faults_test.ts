import assert from "node:assert/strict";
import { badRequests } from "../harness/bad_requests.ts";
import { brokerLifecycle, integrationTest, kafkaDeps } from "./_support.ts";

const deps = await kafkaDeps();
const {
  badInput,
  killWorkers,
  MODEL_DIR,
  restartBroker,
  restartReceiver,
  runTask,
  testImages,
  uniqueService,
} = deps;
const lifecycle = brokerLifecycle(deps);

// The cheaper cases of `deno task chaos`, smaller; the 3-broker case runs there only.
const opts = integrationTest();

/** The broker the restart case starts and restarts: its own port and folder, nobody else's. */
const OWN_BROKER = { port: 9392, dir: ".kafka/restart-test" };

async function options(tag: string, count: number, brokers?: string) {
  return {
    service: uniqueService(`test-${tag}`, { brokers }),
    model: `${MODEL_DIR}/model`,
    set: await testImages(),
    count,
    rate: 500,
  };
}

Deno.test(lifecycle.setup);

Deno.test({
  name: "a worker killed with SIGKILL mid-stream and replaced loses no request",
  ...opts,
  async fn() {
    const r = await killWorkers({ ...(await options("kill", 2000)), kills: 1 });
    assert.equal(r.sent, 2000);
    assert.equal(r.lost, 0, JSON.stringify(r));
    assert.equal(r.answered, 2000);
    assert.equal(r.errorReplies, 0, "every request was good: none may get an error reply");
    assert.equal(r.notes.length, 1, "one kill happened");
  },
});

Deno.test({
  name: "a restarted receiver resumes from its committed offsets and misses nothing",
  ...opts,
  async fn() {
    const r = await restartReceiver(await options("receiver", 1500));
    assert.equal(r.lost, 0, JSON.stringify(r));
    assert.equal(r.answered, 1500);
    assert.equal(r.errorReplies, 0, "every request was good: none may get an error reply");
    assert.match(r.notes[0], /^receiver stopped after \d+ answers/);
  },
});

Deno.test({
  name: "clients and workers ride out a broker stop and restart without losing a request",
  ...opts,
  async fn() {
    const { port, dir } = OWN_BROKER;
    try {
      await runTask("kafka:start", ["--port", String(port), "--dir", dir]);
      const r = await restartBroker({
        ...(await options("broker", 1500, `127.0.0.1:${port}`)),
        broker: OWN_BROKER,
      });
      assert.equal(r.lost, 0, JSON.stringify(r));
      assert.equal(r.answered, 1500);
      assert.equal(r.errorReplies, 0, "every request was good: none may get an error reply");
      assert.match(r.notes[0], /^broker stopped after \d+ requests were sent/);
    } finally {
      await runTask("kafka:stop", ["--dir", dir, "--clean"]);
    }
  },
});

Deno.test({
  name: "every kind of malformed request lands in the DLQ with its reason while good ones flow",
  ...opts,
  async fn() {
    const bad = badRequests(`t${crypto.randomUUID().slice(0, 4)}`);
    const { service, model, set } = await options("bad", 0);
    const r = await badInput({ service, model, set, good: 500, bad });
    assert.ok(r.kinds >= 25);
    for (const d of r.deadLetters) {
      assert.equal(d.got, d.expected, `${d.kind}: ${d.message}`);
      assert.ok(d.message && d.message.length > 10, `${d.kind} has a reason`);
    }
    assert.equal(r.errorReplies.length, r.expectedReplies);
    for (const reply of r.errorReplies) {
      assert.equal(reply.code, reply.expected, `error reply to ${reply.id}`);
    }
    assert.equal(r.goodAnswered, 1000, "every good request of both mixed streams is predicted");
    assert.equal(r.goodErrorReplies, 0, "no good request got an error reply");
    assert.deepEqual(r.goodPerSecondRuns.map((g) => g.mixed), [false, true, false, true]);
    assert.equal(r.workers.size, 1, "one worker served everything: it never restarted");
    assert.equal(r.workerExited, false);
    console.log(
      `good requests: ${r.goodPerSecondClean.toFixed(0)}/s alone, ${
        r.goodPerSecondMixed.toFixed(0)
      }/s with ${r.kinds} bad ones mixed in`,
    );
  },
});

Deno.test(lifecycle.teardown);
