import assert from "node:assert/strict";
import { type GroupInput, groupView, workerId, workerRows } from "../dashboard/group_view.ts";

const INPUT: GroupInput = {
  group: "workers",
  state: "Stable",
  members: [
    { clientId: "worker-host-2", clientHost: "/127.0.0.1", partitions: [5, 3] },
    { clientId: "worker-host-1", clientHost: "/127.0.0.1", partitions: [0, 1, 2] },
    { clientId: "worker-host-3", clientHost: "/127.0.0.1", partitions: [] },
  ],
  committed: [
    { partition: 0, offset: "10" },
    { partition: 1, offset: "-1" },
    { partition: 2, offset: "7" },
    { partition: 3, offset: "4" },
  ],
  ends: [
    { partition: 0, low: "0", high: "15" },
    { partition: 1, low: "2", high: "9" },
    { partition: 2, low: "0", high: "7" },
    { partition: 3, low: "0", high: "4" },
    { partition: 5, low: "0", high: "3" },
  ],
};

Deno.test("workerId() strips the worker- prefix of the client id", async (t) => {
  await t.step("worker client", () => assert.equal(workerId("worker-host-42"), "host-42"));
  await t.step("other client", () => assert.equal(workerId("receiver"), "receiver"));
});

Deno.test("groupView() computes lag per partition and per member", async (t) => {
  const view = groupView(INPUT);
  await t.step("end minus committed; from the log start when never committed", () => {
    assert.deepEqual(view.lag, { 0: 5, 1: 7, 2: 0, 3: 0, 5: 3 });
    assert.equal(view.totalLag, 15);
  });
  await t.step("members sorted, partitions sorted, lag summed over their partitions", () => {
    assert.deepEqual(view.members, [
      { worker: "host-1", host: "/127.0.0.1", partitions: [0, 1, 2], lag: 12 },
      { worker: "host-2", host: "/127.0.0.1", partitions: [3, 5], lag: 3 },
      { worker: "host-3", host: "/127.0.0.1", partitions: [], lag: 0 },
    ]);
  });
});

Deno.test("workerRows() joins group members with the workers seen in answers", async (t) => {
  const seen = [
    { worker: "host-1", model: "sha256:aaaa", answers: 40, lastSeenMs: 9_000 },
    { worker: "host-0", model: "sha256:bbbb", answers: 7, lastSeenMs: 4_000 },
  ];
  await t.step("members with partitions in a stable group are ready", () => {
    const rows = workerRows(seen, groupView(INPUT), 10_000);
    assert.deepEqual(rows.map((r) => [r.worker, r.ready, r.model, r.answers, r.idleMs]), [
      ["host-1", true, "sha256:aaaa", 40, 1000],
      ["host-2", true, null, 0, null],
      ["host-3", false, null, 0, null],
      ["host-0", false, "sha256:bbbb", 7, 6000],
    ]);
  });
  await t.step("nobody is ready while the group rebalances", () => {
    const rows = workerRows(seen, groupView({ ...INPUT, state: "PreparingRebalance" }), 10_000);
    assert.deepEqual(rows.map((r) => r.ready), [false, false, false, false]);
  });
  await t.step("without a group view, workers seen are listed, not ready", () => {
    const rows = workerRows(seen, null, 10_000);
    assert.deepEqual(rows.map((r) => [r.worker, r.ready, r.lag]), [
      ["host-1", false, null],
      ["host-0", false, null],
    ]);
  });
});
