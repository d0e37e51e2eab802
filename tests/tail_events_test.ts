import assert from "node:assert/strict";
import { tailEvents } from "../shared/stats/tail_events.ts";
import type { StageStamps } from "../shared/stats/stage_times.ts";

/** A request sent at `at` whose legs take `req`, `work` and `resp` ms. */
function stamp(at: number, req: number, work = 1, resp = 1): StageStamps {
  return {
    sent_at: at,
    received_at: at + req,
    completed_at: at + req + work,
    answeredAt: at + req + work + resp,
  };
}

Deno.test("tailEvents() groups slow requests into the stalls that made them slow", async (t) => {
  await t.step("no request over the bound: no event", () => {
    assert.deepEqual(tailEvents([stamp(0, 2), stamp(1, 3), stamp(2, 18)], 20), []);
  });
  await t.step("a stall of the request leg, then one of the response leg", () => {
    const stamps: StageStamps[] = [];
    for (let at = 0; at < 1000; at++) stamps.push(stamp(at, 2));
    // A 30 ms stall before the worker at 100 ms, and one after it at 600 ms.
    for (let at = 100; at < 130; at++) stamps[at] = stamp(at, 130 - at + 20);
    for (let at = 600; at < 610; at++) stamps[at] = stamp(at, 2, 1, 640 - at);
    const events = tailEvents(stamps.reverse(), 20);
    assert.equal(events.length, 2, JSON.stringify(events));
    assert.deepEqual(events[0], {
      atMs: 100,
      requests: 30,
      worstMs: 52,
      requestLegMs: 50,
      workerMs: 1,
      responseLegMs: 1,
    });
    assert.deepEqual(events[1], {
      atMs: 600,
      requests: 10,
      worstMs: 43,
      requestLegMs: 2,
      workerMs: 1,
      responseLegMs: 40,
    });
  });
  await t.step("slow requests further apart than the gap are separate events", () => {
    const events = tailEvents([stamp(0, 30), stamp(40, 30), stamp(200, 30)], 20, 50);
    assert.deepEqual(events.map((e) => [e.atMs, e.requests]), [[0, 2], [200, 1]]);
  });
});
