import assert from "node:assert/strict";
import { RecentIds } from "../client/received_ids.ts";

Deno.test("RecentIds spots an id it remembers", () => {
  const ids = new RecentIds(3);
  assert.equal(ids.add("a"), true);
  assert.equal(ids.add("a"), false);
  assert.equal(ids.has("a"), true);
  assert.equal(ids.size, 1);
});

Deno.test("RecentIds evicts the oldest id once full", async (t) => {
  const ids = new RecentIds(3);
  for (const id of ["a", "b", "c", "d"]) ids.add(id);
  await t.step("the first in is the first out", () => {
    assert.equal(ids.size, 3);
    assert.equal(ids.has("a"), false);
    assert.deepEqual(["b", "c", "d"].map((id) => ids.has(id)), [true, true, true]);
  });
  await t.step("a duplicate does not take a slot", () => {
    assert.equal(ids.add("c"), false);
    assert.equal(ids.has("b"), true);
  });
  await t.step("eviction goes round the ring", () => {
    for (const id of ["e", "f", "g"]) ids.add(id);
    assert.deepEqual(["d", "e", "f", "g"].map((id) => ids.has(id)), [false, true, true, true]);
    assert.equal(ids.add("b"), true, "an evicted id counts as new");
  });
});

Deno.test("RecentIds refuses a capacity below 1", () => {
  assert.throws(
    () => new RecentIds(0),
    new RangeError("RecentIds: expected a capacity of at least 1, got 0"),
  );
});
