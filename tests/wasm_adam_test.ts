import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../shared/model/backend.ts";
import { fusedAdamCalls } from "../training/kernels/adam.ts";
import { registerTrainingKernels } from "../training/kernels/registry.ts";
import { seededRandom } from "../training/random.ts";
import { WasmAdamOptimizer } from "../training/wasm_adam.ts";
import { needsPermissions } from "./_support.ts";

/** Shapes with and without a tail past the last group of 4 elements. */
const SHAPES = [[3, 3, 1, 32], [10], [7, 3]];

/** Runs `steps` updates of `optimizer` on fresh variables; returns their values. */
async function train(optimizer: tf.Optimizer, steps: number): Promise<Float32Array[]> {
  const random = seededRandom(11);
  const fill = (shape: number[]) =>
    tf.tensor(Float32Array.from({ length: tf.util.sizeFromShape(shape) }, () => random() - 0.5));
  const variables = SHAPES.map((shape, i) =>
    tf.variable(fill(shape).reshape(shape), true, `adam_test_${optimizer.constructor.name}_${i}`)
  );
  for (let step = 0; step < steps; step++) {
    const gradients = Object.fromEntries(
      variables.map((v) => [v.name, fill(v.shape).reshape(v.shape)]),
    );
    optimizer.applyGradients(gradients);
    tf.dispose(Object.values(gradients));
  }
  const values = await Promise.all(variables.map((v) => v.data() as Promise<Float32Array>));
  tf.dispose(variables);
  optimizer.dispose();
  return values;
}

Deno.test({
  name: "the fused wasm Adam gives bit-identical weights to tf.train.adam",
  ...needsPermissions(),
  async fn() {
    await useBackend("wasm");
    registerTrainingKernels();
    const before = fusedAdamCalls();
    const expected = await train(tf.train.adam(0.01), 5);
    assert.equal(fusedAdamCalls(), before, "stock Adam ran the fused kernel");
    const actual = await train(new WasmAdamOptimizer(0.01), 5);
    // One fused update per variable per step: a silent fallback to stock
    // Adam would make the comparison below trivially true.
    assert.equal(fusedAdamCalls(), before + 5 * SHAPES.length, "fused kernel calls");
    for (let i = 0; i < SHAPES.length; i++) {
      assert.deepEqual(
        Array.from(actual[i]),
        Array.from(expected[i]),
        `variable of shape ${SHAPES[i]}`,
      );
    }
    // The updates moved the weights: a no-op optimiser cannot pass.
    const start = await train(new WasmAdamOptimizer(0.01), 0);
    assert.notDeepEqual(Array.from(actual[0]), Array.from(start[0]));
  },
});

Deno.test({
  name: "the fused wasm Adam is plain Adam off the wasm backend and serialises as Adam",
  ...needsPermissions(),
  async fn() {
    await useBackend("cpu");
    const before = fusedAdamCalls();
    const expected = await train(tf.train.adam(0.01), 3);
    const actual = await train(new WasmAdamOptimizer(0.01), 3);
    assert.equal(fusedAdamCalls(), before, "the fused kernel ran off the wasm backend");
    assert.deepEqual(actual.map((a) => Array.from(a)), expected.map((a) => Array.from(a)));
    const optimizer = new WasmAdamOptimizer(0.01);
    assert.equal(optimizer.getClassName(), "Adam");
    assert.deepEqual(optimizer.getConfig(), tf.train.adam(0.01).getConfig());
  },
});
