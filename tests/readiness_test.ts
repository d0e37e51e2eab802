import assert from "node:assert/strict";
import { initialReadiness, readiness, type ReadinessState } from "../server/readiness.ts";

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
