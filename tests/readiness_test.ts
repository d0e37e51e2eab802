import assert from "node:assert/strict";
import type { TaskProcess } from "../harness/deno_task.ts";
import { waitReady } from "../harness/wait_ready.ts";
import { initialReadiness, readiness, type ReadinessState } from "../server/readiness.ts";
import { hasPermissions, needsPermissions } from "./_support.ts";

const READY: ReadinessState = {
  modelLoaded: true,
  producerConnected: true,
  joined: true,
  partitions: [0, 3],
  stopping: false,
};

Deno.test("readiness() is ready only with the model, the producer and a joined partition", () => {
  assert.deepEqual(readiness(READY), { ready: true });
});

Deno.test("readiness() names the first thing a worker still waits for", async (t) => {
  const cases: [string, Partial<ReadinessState>, string][] = [
    ["at start", initialReadiness(), "model not loaded"],
    ["before the producer connects", { producerConnected: false }, "producer not connected"],
    ["before the join", { joined: false }, "consumer has not joined the group"],
    [
      "with no partition",
      { partitions: [] },
      "idle: no partition (the group has more workers than partitions)",
    ],
    ["once stopping, whatever else holds", { stopping: true }, "stopping"],
    [
      "with neither model nor producer",
      { modelLoaded: false, producerConnected: false },
      "model not loaded",
    ],
  ];
  for (const [name, change, reason] of cases) {
    await t.step(name, () => {
      assert.deepEqual(readiness({ ...READY, ...change }), { ready: false, reason });
    });
  }
});

// Loaded only when the tests may run: see _kafka_deps.ts.
const { deleteTopics, ensureBroker, ensureModel, startWorker, testKafka, uniqueService } =
  hasPermissions() ? await import("./_kafka_deps.ts") : ({} as typeof import("./_kafka_deps.ts"));

/** A worker's /readyz answer as "STATUS body". */
async function readyz(address: string): Promise<string> {
  const r = await fetch(`http://${address}/readyz`);
  return `${r.status} ${(await r.text()).trim()}`;
}

Deno.test({
  name: "Of two workers on one partition, one is ready and one idle until the first leaves",
  ...needsPermissions(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await ensureBroker();
    await ensureModel();
    const { config, env } = uniqueService("idle");
    const kafka = await testKafka(config);
    const workers: TaskProcess[] = [];
    try {
      const addresses: string[] = [];
      for (let i = 0; i < 2; i++) {
        const w = await startWorker(env, ["--partitions", "1"]);
        workers.push(w);
        addresses.push((await w.waitFor(/\/metrics on http:\/\//, 1000)).split("http://")[1]);
      }
      const idle = "503 not ready: idle: no partition (the group has more workers than partitions)";
      let answers: string[] = [];
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        answers = await Promise.all(addresses.map(readyz));
        if (answers.includes("200 ready") && answers.includes(idle)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual([...answers].sort(), ["200 ready", idle]);
      const serving = answers.indexOf("200 ready");
      assert.equal((await workers[serving].stop("SIGTERM")).code, 0);
      await waitReady(`http://${addresses[1 - serving]}`, 60_000);
    } finally {
      for (const w of workers) await w.stop("SIGTERM");
      await deleteTopics(kafka, config);
    }
  },
});
