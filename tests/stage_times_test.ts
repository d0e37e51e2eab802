import assert from "node:assert/strict";
import { spread, StageTimes } from "../shared/stats/stage_times.ts";

Deno.test("StageTimes.summary() splits each request into its legs", async (t) => {
  await t.step("one request: each leg is the difference of its stamps", () => {
    const times = new StageTimes();
    times.record({ sent_at: 100, received_at: 103, completed_at: 105, answeredAt: 109 });
    const s = times.summary();
    assert.equal(times.count, 1);
    assert.deepEqual(s.request_leg, { p10: 3, p50: 3, p90: 3, p99: 3 });
    assert.deepEqual(s.worker, { p10: 2, p50: 2, p90: 2, p99: 2 });
    assert.deepEqual(s.response_leg, { p10: 4, p50: 4, p90: 4, p99: 4 });
    assert.deepEqual(s.end_to_end, { p10: 9, p50: 9, p90: 9, p99: 9 });
  });
  await t.step("100 requests: p10, p50, p90 and p99 by nearest rank", () => {
    const times = new StageTimes();
    // Request i waits i ms for the worker to pick it up; the other legs take 1 ms.
    for (let i = 1; i <= 100; i++) {
      times.record({ sent_at: 0, received_at: i, completed_at: i + 1, answeredAt: i + 2 });
    }
    const s = times.summary();
    assert.deepEqual(s.request_leg, { p10: 10, p50: 50, p90: 90, p99: 99 });
    assert.deepEqual(s.worker, { p10: 1, p50: 1, p90: 1, p99: 1 });
    assert.deepEqual(s.end_to_end, { p10: 12, p50: 52, p90: 92, p99: 101 });
  });
});

Deno.test("spread() of no values is NaN throughout", () => {
  const s = spread([]);
  assert.ok([s.p10, s.p50, s.p90, s.p99].every(Number.isNaN), JSON.stringify(s));
});
