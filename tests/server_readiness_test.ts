import assert from "node:assert/strict";
import { waitReady } from "../harness/wait_ready.ts";
import { initialReadiness, readiness, type ReadinessState } from "../server/readiness.ts";
import { brokerLifecycle, integrationTest, kafkaDeps } from "./_support.ts";

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

const deps = await kafkaDeps();
const {
  createTopics,
  deleteTopics,
  MODEL_DIR,
  parseCli,
  startWorkerInProcess,
  startWorkers,
  uniqueService,
  WORKER_CLI,
  workerOptions,
} = deps;
const lifecycle = brokerLifecycle(deps);

/** A worker's /readyz answer as "STATUS body". */
async function readyz(address: string): Promise<string> {
  const r = await fetch(`http://${address}/readyz`);
  return `${r.status} ${(await r.text()).trim()}`;
}

Deno.test(lifecycle.setup);

Deno.test({
  name: "Of two workers on one partition, one is ready and one idle until the first leaves",
  ...integrationTest(),
  async fn() {
    const service = uniqueService("test-idle");
    await createTopics(service, 1);
    // Both log their ready event (the first join), the idle one too: /readyz tells them apart.
    const workers = await startWorkers(service, 2, { model: `${MODEL_DIR}/model` });
    try {
      const addresses = workers.map((w) => w.http!);
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
      await deleteTopics(service);
    }
  },
});

Deno.test({
  name: "A worker whose start fails after its endpoints listen leaves no listener behind",
  ...integrationTest(),
  async fn() {
    const service = uniqueService("test-failed-start");
    await createTopics(service, 1);
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = probe.addr;
    probe.close();
    const flags = parseCli(
      ["--model", ".tmp/no-such-model", "--http", `127.0.0.1:${port}`],
      WORKER_CLI,
    )!;
    try {
      await assert.rejects(
        startWorkerInProcess(workerOptions(flags), service.config),
        /no-such-model/,
      );
      // Listening again on the same port works only if the failed start closed it.
      const again = Deno.listen({ hostname: "127.0.0.1", port });
      again.close();
    } finally {
      await deleteTopics(service);
    }
  },
});

Deno.test(lifecycle.teardown);
