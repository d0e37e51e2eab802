import assert from "node:assert/strict";
import { ReceiveTally } from "../client/receive_tally.ts";
import type { ErrorReply, Prediction } from "../shared/protocol/schema.ts";

function prediction(id: string, index: number, sentAt = 1000): Prediction {
  return {
    v: 1,
    id,
    label: `class ${index}`,
    index,
    probability: 0.9,
    probabilities: [],
    model: "sha256:0123456789abcdef",
    worker: "w",
    sent_at: sentAt,
    received_at: sentAt,
    completed_at: sentAt,
  };
}

function errorReply(id: string): ErrorReply {
  return { v: 1, id, error: { code: "wrong_image_size", message: "bad" } };
}

Deno.test("ReceiveTally counts a duplicate once and scores it no further", async (t) => {
  for (const keepIds of [true, false]) {
    await t.step(keepIds ? "keeping every id" : "with a window of recent ids", () => {
      const tally = new ReceiveTally({ keepIds });
      assert.deepEqual(tally.record(prediction("a", 1), 1010, 1), {
        duplicate: false,
        latencyMs: 10,
      });
      assert.deepEqual(tally.record(prediction("a", 1), 1020, 1), {
        duplicate: true,
        latencyMs: 20,
      });
      const s = tally.summary();
      assert.equal(s.received, 1);
      assert.equal(s.predictions, 1);
      assert.equal(s.messages, 2);
      assert.equal(s.duplicates, 1);
      assert.equal(s.labelled, 1);
      assert.equal(s.correct, 1);
      assert.deepEqual(s.ids, keepIds ? new Set(["a"]) : new Set());
    });
  }
});

Deno.test("ReceiveTally counts error replies as answered, not as predictions", () => {
  const tally = new ReceiveTally({ keepIds: true });
  tally.record(prediction("a", 1), 1010, 1);
  assert.deepEqual(tally.record(errorReply("b"), 1020, 4).duplicate, false);
  assert.ok(Number.isNaN(tally.record(errorReply("c"), 1030).latencyMs));
  tally.undecodable();
  const s = tally.summary();
  assert.equal(s.received, 3);
  assert.equal(s.predictions, 1);
  assert.equal(s.errors, 2);
  assert.equal(s.undecodable, 1);
  assert.equal(s.messages, 4);
  assert.equal(s.labelled, 1, "an error reply with a known label is not a labelled prediction");
  assert.equal(s.accuracy, 1);
  assert.deepEqual(s.ids, new Set(["a", "b", "c"]));
  // Latency from predictions only: one of 10 ms, within the histogram's 0.05 ms.
  assert.ok(Math.abs(s.latencyMs.p99 - 10) <= 0.05, `p99 ${s.latencyMs.p99}`);
});

Deno.test("ReceiveTally's accuracy is over labelled predictions only", async (t) => {
  await t.step("unlabelled predictions neither help nor hurt", () => {
    const tally = new ReceiveTally({ keepIds: false });
    tally.record(prediction("a", 1), 1010, 1);
    tally.record(prediction("b", 2), 1010, 3);
    tally.record(prediction("c", 5), 1010);
    tally.record(prediction("d", 6), 1010);
    const s = tally.summary();
    assert.equal(s.labelled, 2);
    assert.equal(s.correct, 1);
    assert.equal(s.accuracy, 0.5);
  });
  await t.step("no labelled prediction: NaN, not 0 or 1", () => {
    const tally = new ReceiveTally({ keepIds: false });
    tally.record(prediction("a", 1), 1010);
    assert.ok(Number.isNaN(tally.summary().accuracy));
  });
});

Deno.test("ReceiveTally's throughput runs from the first sent_at to the last answer", async (t) => {
  await t.step("4 answers over 2 s", () => {
    const tally = new ReceiveTally({ keepIds: false });
    tally.record(prediction("a", 1, 1000), 1500);
    tally.record(prediction("b", 1, 2000), 2500);
    tally.record(errorReply("c"), 3000);
    tally.record(prediction("d", 1, 1200), 2000);
    assert.equal(tally.summary().throughput, 2);
  });
  await t.step("error replies alone: NaN, not answers over no time", () => {
    const tally = new ReceiveTally({ keepIds: false });
    tally.record(errorReply("c"), 3000);
    assert.ok(Number.isNaN(tally.summary().throughput));
  });
});

Deno.test("ReceiveTally without keepIds counts an id evicted from its window as new", () => {
  const tally = new ReceiveTally({ keepIds: false, window: 2 });
  for (const id of ["a", "b", "c", "a"]) tally.record(prediction(id, 1), 1010);
  const s = tally.summary();
  assert.equal(s.received, 4);
  assert.equal(s.duplicates, 0);
});
