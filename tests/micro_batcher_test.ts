import assert from "node:assert/strict";
import { MicroBatcher } from "../server/micro_batcher.ts";

/** A batch function that records the batches it ran and doubles each item. */
function doubler(): { runs: number[][]; run: (items: number[]) => number[] } {
  const runs: number[][] = [];
  return { runs, run: (items) => (runs.push(items), items.map((i) => i * 2)) };
}

Deno.test("new MicroBatcher() rejects limits out of range", async (t) => {
  await t.step("maxBatch 0", () => {
    assert.throws(() => new MicroBatcher(0, 5, doubler().run), {
      name: "RangeError",
      message: "maxBatch must be a positive integer, got 0",
    });
  });
  await t.step("maxBatch 1.5", () => {
    assert.throws(() => new MicroBatcher(1.5, 5, doubler().run), {
      name: "RangeError",
      message: "maxBatch must be a positive integer, got 1.5",
    });
  });
  await t.step("maxWaitMs -1", () => {
    assert.throws(() => new MicroBatcher(4, -1, doubler().run), {
      name: "RangeError",
      message: "maxWaitMs must be >= 0, got -1",
    });
  });
});

Deno.test("MicroBatcher.submit() runs a full batch at once, without waiting", async () => {
  const d = doubler();
  const batcher = new MicroBatcher(3, 60_000, d.run);
  const results = batcher.submit([1, 2, 3]);
  assert.deepEqual(d.runs, [], "the run is queued, not synchronous");
  assert.deepEqual(await results, [2, 4, 6]);
  assert.deepEqual(d.runs, [[1, 2, 3]]);
});

Deno.test("MicroBatcher.submit() splits what exceeds maxBatch into batches of maxBatch", async () => {
  const d = doubler();
  const batcher = new MicroBatcher(2, 10, d.run);
  assert.deepEqual(await batcher.submit([1, 2, 3, 4, 5]), [2, 4, 6, 8, 10]);
  assert.deepEqual(d.runs, [[1, 2], [3, 4], [5]]);
  assert.equal(batcher.batches, 3);
  assert.equal(batcher.items, 5);
});

Deno.test("MicroBatcher.submit() gathers concurrent callers until maxWaitMs", async () => {
  const d = doubler();
  const batcher = new MicroBatcher(100, 20, d.run);
  const a = batcher.submit([1]);
  const b = batcher.submit([2, 3]);
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(d.runs, [], "nothing runs before maxWaitMs while the batch is not full");
  assert.deepEqual(await Promise.all([a, b]), [[2], [4, 6]]);
  assert.deepEqual(d.runs, [[1, 2, 3]], "both callers shared one batch");
});

Deno.test("MicroBatcher.flush() runs what is queued without waiting out maxWaitMs", async () => {
  const d = doubler();
  const batcher = new MicroBatcher(100, 60_000, d.run);
  const a = batcher.submit([1]);
  const b = batcher.submit([2]);
  batcher.flush();
  assert.deepEqual(await Promise.all([a, b]), [[2], [4]]);
  assert.deepEqual(d.runs, [[1, 2]]);
});

Deno.test("MicroBatcher gives each caller its own results in order across batches", async () => {
  const batcher = new MicroBatcher(3, 1, (items: string[]) => items.map((s) => s.toUpperCase()));
  const calls = [["a", "b"], ["c", "d"], ["e"]].map((items) => batcher.submit(items));
  assert.deepEqual(await Promise.all(calls), [["A", "B"], ["C", "D"], ["E"]]);
});

Deno.test("MicroBatcher rejects a failed batch's callers only", async (t) => {
  await t.step("the batch function throws", async () => {
    const batcher = new MicroBatcher(2, 1, (items: number[]) => {
      if (items.includes(3)) throw new TypeError("cannot run 3");
      return items;
    });
    const first = batcher.submit([1, 2]);
    const second = batcher.submit([3]);
    const third = batcher.submit([4]);
    assert.deepEqual(await first, [1, 2]);
    await assert.rejects(second, { name: "TypeError", message: "cannot run 3" });
    // 3 and 4 shared a batch, so the caller of 4 fails too; later batches run again.
    await assert.rejects(third, { name: "TypeError", message: "cannot run 3" });
    assert.deepEqual(await batcher.submit([5]), [5]);
  });
  await t.step("the batch function returns too few results", async () => {
    const batcher = new MicroBatcher(2, 1, (items: number[]) => items.slice(1));
    await assert.rejects(batcher.submit([1, 2]), {
      name: "Error",
      message: "batch function returned 1 results for 2 items",
    });
  });
});
