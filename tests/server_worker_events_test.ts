import assert from "node:assert/strict";
import { createEventLog } from "../shared/cli/event_log.ts";
import { type WorkerEvents, workerEventText } from "../server/worker_events.ts";

const AT = new Date("2025-01-02T03:04:05.000Z");
const SETTINGS = {
  worker: "host-42",
  group: "workers",
  requests: "req",
  responses: "resp",
  partitionCount: 6,
  maxBatch: 256,
  maxWaitMs: 5,
};

function capture(json: boolean) {
  const lines: string[] = [];
  const log = createEventLog<WorkerEvents>({
    json,
    text: workerEventText(SETTINGS),
    write: (l) => lines.push(l),
    now: () => AT,
  });
  return { lines, log };
}

Deno.test("createEventLog() writes each event once in the chosen format", async (t) => {
  await t.step("JSON: event, at, then the fields", () => {
    const lines: string[] = [];
    const log = createEventLog<{ done: { count: number; ids: string[] } }>({
      json: true,
      write: (l) => lines.push(l),
      now: () => AT,
    });
    log("done", { count: 3, ids: ["a", "b"] });
    assert.deepEqual(lines, [
      '{"event":"done","at":"2025-01-02T03:04:05.000Z","count":3,"ids":["a","b"]}',
    ]);
  });
  await t.step("text without a format: name key=value", () => {
    const lines: string[] = [];
    const log = createEventLog<{ done: { count: number; rate: number; note: string } }>({
      json: false,
      write: (l) => lines.push(l),
    });
    log("done", { count: 3, rate: 1.234, note: "two words" });
    assert.deepEqual(lines, ['done count=3 rate=1.23 note="two words"']);
  });
  await t.step("text with a format: the format's line", () => {
    const lines: string[] = [];
    const log = createEventLog<{ done: { count: number } }>({
      json: false,
      text: { done: (f) => `done after ${f.count}` },
      write: (l) => lines.push(l),
    });
    log("done", { count: 3 });
    assert.deepEqual(lines, ["done after 3"]);
  });
});

Deno.test("the worker's ready event keeps the harness's contract", async (t) => {
  const ready = { worker: "host-42", model: "v-abc", partitions: [0, 3], http: "127.0.0.1:41234" };
  await t.step("--json: one line with event, at, worker, model, partitions, http", () => {
    const { lines, log } = capture(true);
    log("ready", ready);
    assert.deepEqual(lines, [
      '{"event":"ready","at":"2025-01-02T03:04:05.000Z","worker":"host-42","model":"v-abc","partitions":[0,3],"http":"127.0.0.1:41234"}',
    ]);
  });
  await t.step("--json with --http off: http is null", () => {
    const { lines, log } = capture(true);
    log("ready", { ...ready, http: null });
    assert.deepEqual(lines, [
      '{"event":"ready","at":"2025-01-02T03:04:05.000Z","worker":"host-42","model":"v-abc","partitions":[0,3],"http":null}',
    ]);
  });
  await t.step("text", () => {
    const { lines, log } = capture(false);
    log("ready", ready);
    log("ready", { ...ready, http: null });
    assert.deepEqual(lines, [
      "worker host-42 ready: serving req -> resp with model v-abc, partitions [0,3] of 6 (max batch 256, max wait 5 ms), http 127.0.0.1:41234",
      "worker host-42 ready: serving req -> resp with model v-abc, partitions [0,3] of 6 (max batch 256, max wait 5 ms)",
    ]);
  });
  await t.step("the address event, at start", () => {
    const { lines, log } = capture(false);
    log("http", { http: "127.0.0.1:41234" });
    assert.deepEqual(lines, [
      "worker host-42: /healthz /readyz /metrics on http://127.0.0.1:41234",
    ]);
  });
});

Deno.test("the worker's text lines name what happened", async (t) => {
  const { lines, log } = capture(false);
  await t.step("group join", () => {
    log("group_join", { group: "workers", partitions: [1, 2] });
    assert.equal(lines.pop(), "worker host-42 joined workers: partitions [1,2] of 6");
  });
  await t.step("idle warning", () => {
    log("idle", { partitions: 6 });
    assert.equal(
      lines.pop(),
      "warning: this worker got no partition: the group has more workers than the 6 partitions of req; it stays idle until one leaves (create the topic with more --partitions to scale further)",
    );
  });
  await t.step("status", () => {
    log("status", {
      processed: 1200,
      rate: 240.4,
      meanBatch: 37.25,
      errors: 2,
      tensors: 14,
      rssMb: 301.2,
      heapMb: 40.6,
    });
    assert.equal(
      lines.pop(),
      "status: processed 1200, 240/s, mean batch 37.3, errors 2, tensors 14, rss 301 MB, js heap 41 MB",
    );
  });
  await t.step("stopped", () => {
    log("stopped", { processed: 10, errors: 1 });
    assert.equal(lines.pop(), "worker host-42 stopped after 10 requests (1 malformed)");
  });
});
