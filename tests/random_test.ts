import assert from "node:assert/strict";
import { seededRandom, shuffleInPlace, splitIndices } from "../training/random.ts";

Deno.test("seededRandom() repeats its sequence for a seed and differs across seeds", () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const c = seededRandom(43);
  const seqA = Array.from({ length: 5 }, a);
  assert.deepEqual(seqA, Array.from({ length: 5 }, b));
  assert.notDeepEqual(seqA, Array.from({ length: 5 }, c));
  assert.ok(seqA.every((v) => v >= 0 && v < 1));
});

Deno.test("shuffleInPlace() permutes without losing or repeating items", () => {
  const items = Int32Array.from({ length: 100 }, (_, i) => i);
  shuffleInPlace(items, seededRandom(1));
  assert.notDeepEqual(Array.from(items), Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(
    Array.from(items).sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
});

Deno.test("splitIndices() holds out the asked share, disjoint from training", () => {
  const { train, validation } = splitIndices(1000, 0.1, seededRandom(3));
  assert.equal(validation.length, 100);
  assert.equal(train.length, 900);
  const all = new Set([...train, ...validation]);
  assert.equal(all.size, 1000);
  assert.deepEqual(splitIndices(1000, 0.1, seededRandom(3)).validation, validation);
});

Deno.test("splitIndices() rejects a share outside [0, 1)", () => {
  assert.throws(
    () => splitIndices(10, 1, seededRandom(1)),
    new RangeError("validation fraction must be in [0, 1), got 1"),
  );
});
