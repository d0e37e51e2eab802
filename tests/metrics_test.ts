import assert from "node:assert/strict";
import { accuracyOf, argMax, confusionMatrix } from "../training/metrics.ts";
import { lossAndAccuracy } from "../training/evaluate.ts";

Deno.test("argMax() picks the first of equal maxima within a row", () => {
  assert.equal(argMax([0, 0.5, 0.5, 0], 0, 4), 1);
  assert.equal(argMax([9, 9, 0.1, 0.7, 0.2, 0.0], 2, 4), 1);
});

Deno.test("confusionMatrix() counts true rows against predicted columns", () => {
  const m = confusionMatrix([0, 0, 1, 2], [0, 1, 1, 0], 3);
  assert.deepEqual(m, [[1, 1, 0], [0, 1, 0], [1, 0, 0]]);
  assert.equal(accuracyOf(m), 0.5);
});

Deno.test("confusionMatrix() rejects lists of different lengths", () => {
  assert.throws(() => confusionMatrix([1], [1, 2]), RangeError);
});

Deno.test("lossAndAccuracy() gives cross-entropy with Keras's 1e-7 clip", () => {
  const probs = new Float32Array(20);
  probs[3] = 1; // row 0: certain of class 3
  probs[10 + 5] = 0; // row 1: gives class 5 no chance
  probs[10 + 6] = 1;
  const { loss, accuracy } = lossAndAccuracy(probs, [3, 5]);
  assert.equal(accuracy, 0.5);
  assert.ok(Math.abs(loss - -Math.log(1e-7) / 2) < 1e-9);
});
