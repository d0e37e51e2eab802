import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../shared/model/backend.ts";
import { createModel } from "../shared/model/create_model.ts";
import { registerTrainingKernels } from "../training/kernels/registry.ts";
import {
  CONV_RELU_POOL_FILTER_GRAD,
  convPoolGeometry,
  convReluPool,
  ConvReluPoolShapeError,
  registerConvReluPool,
} from "../training/kernels/conv_relu_pool.ts";
import { fuseConvReluPool } from "../training/conv_pool_fusion.ts";
import { splitConvBlocks } from "../training/kernels/conv_relu_pool_split.ts";
import { startGemmHelper, stopGemmHelper } from "../training/kernels/gemm_helper.ts";
import { seededRandom } from "../training/random.ts";
import { needsPermissions } from "./_support.ts";

function randomData(shape: number[], seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1);
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: element count`);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    if (err > 1e-4) {
      assert.fail(`${what}, position ${i}: expected ${expected[i]}, got ${actual[i]}`);
    }
  }
}

interface Case {
  name: string;
  x: number[];
  filter: number[];
}

const CASES: Case[] = [
  { name: "the model's block, batch 3", x: [3, 28, 28, 1], filter: [3, 3, 1, 32] },
  {
    name: "an odd conv output (7x7) drops its last row and column",
    x: [2, 9, 9, 1],
    filter: [3, 3, 1, 4],
  },
  { name: "3 input channels, a 2x2 filter", x: [2, 8, 7, 3], filter: [2, 2, 3, 8] },
];

type Block = (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D;

const reference: Block = (x, w, b) =>
  tf.maxPool(tf.relu(tf.add(tf.conv2d(x, w, 1, "valid"), b)), 2, 2, "valid");

/** The block's output and d(sum(y * dy))/d(x, w, b) on the current backend. */
async function outputAndGrads(c: Case, block: Block): Promise<Float32Array[]> {
  const [x, w, b] = [
    tf.tensor4d(randomData(c.x, 1), c.x as [number, number, number, number]),
    tf.tensor4d(randomData(c.filter, 2), c.filter as [number, number, number, number]),
    tf.tensor1d(randomData([c.filter[3]], 3).map((v) => v * 0.5)),
  ];
  const y = block(x, w, b);
  const dy = tf.tensor(randomData(y.shape, 4), y.shape);
  const grads = tf.grads((x, w, b) =>
    tf.sum(tf.mul(block(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D), dy))
  )([x, w, b]);
  const out = await Promise.all([y, ...grads].map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([x, w, b, y, dy, ...grads]);
  return out;
}

Deno.test({
  name:
    "convReluPool() on wasm matches maxPool(relu(conv2d + bias)) on the cpu backend, with its gradients",
  ...needsPermissions(),
  async fn(t) {
    for (const c of CASES) {
      await t.step(c.name, async () => {
        await useBackend("cpu");
        const expected = await outputAndGrads(c, reference);
        await useBackend("wasm");
        registerTrainingKernels();
        registerConvReluPool();
        const actual = await outputAndGrads(c, convReluPool);
        ["y", "dx", "dW", "db"].forEach((what, i) => assertClose(actual[i], expected[i], what));
      });
    }
  },
});

Deno.test({
  name: "convReluPool() split across the helper thread matches the cpu backend, with its gradients",
  ...needsPermissions(),
  async fn() {
    const c: Case = { name: "batch 16", x: [16, 28, 28, 1], filter: [3, 3, 1, 32] };
    await useBackend("cpu");
    const expected = await outputAndGrads(c, reference);
    await useBackend("wasm");
    registerTrainingKernels();
    registerConvReluPool();
    assert.ok(await startGemmHelper(), "the helper thread starts (2 cores)");
    try {
      const before = splitConvBlocks();
      const actual = await outputAndGrads(c, convReluPool);
      // Two forward passes (y, and again under tf.grads) and one filter gradient.
      assert.equal(splitConvBlocks() - before, 3, "forward passes and filter gradients split");
      ["y", "dx", "dW", "db"].forEach((what, i) => assertClose(actual[i], expected[i], what));
    } finally {
      stopGemmHelper();
    }
  },
});

Deno.test({
  name:
    "the filter gradient recomputes the winning positions when a later forward pass replaced them",
  ...needsPermissions(),
  async fn() {
    const c = CASES[0];
    await useBackend("cpu");
    const expected = (await outputAndGrads(c, reference))[2];
    await useBackend("wasm");
    registerConvReluPool();
    const x = tf.tensor4d(randomData(c.x, 1), c.x as [number, number, number, number]);
    const w = tf.tensor4d(randomData(c.filter, 2), c.filter as [number, number, number, number]);
    const b = tf.tensor1d(randomData([c.filter[3]], 3).map((v) => v * 0.5));
    const y = convReluPool(x, w, b);
    const dy = tf.tensor(randomData(y.shape, 4), y.shape);
    const other = convReluPool(tf.onesLike(x), w, b);
    const dw = tf.engine().runKernel(CONV_RELU_POOL_FILTER_GRAD, {
      x,
      filter: w,
      bias: b,
      y,
      dy,
    }) as tf.Tensor;
    assertClose((await dw.data()) as Float32Array, expected, "dW");
    tf.dispose([x, w, b, y, dy, other, dw]);
  },
});

Deno.test("convPoolGeometry() rejects a filter whose output channels are not a multiple of 4", () => {
  assert.throws(
    () => convPoolGeometry([1, 28, 28, 1], [3, 3, 1, 30]),
    new ConvReluPoolShapeError(
      "Expected filter [fh, fw, 1, a multiple of 4] with at most 64 weights per output, got [3,3,1,30]",
    ),
  );
});

Deno.test({
  name:
    "fuseConvReluPool() trains the model's first step to the same weights as the unfused layers",
  ...needsPermissions(),
  async fn() {
    await useBackend("wasm");
    registerTrainingKernels();
    const x = tf.tensor4d(randomData([8, 28, 28, 1], 5).map((v) => (v + 1) / 2), [8, 28, 28, 1]);
    const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7]);
    const weightsAfterStep = async (fused: boolean) => {
      const model = createModel({ seed: 42 });
      // Dropout off: its mask would draw from the same seeded stream either way, but keep it simple.
      const restore = fused ? fuseConvReluPool(model) : undefined;
      assert.equal(restore !== undefined, fused, "the model has a fusable pair");
      await model.trainOnBatch(x, y);
      restore?.();
      const weights = await Promise.all(
        model.getWeights().map(async (w) => (await w.data()) as Float32Array),
      );
      model.dispose();
      return weights;
    };
    const plain = await weightsAfterStep(false);
    const fused = await weightsAfterStep(true);
    plain.forEach((w, i) => assertClose(fused[i], w, `weight ${i}`));
    tf.dispose([x, y]);
  },
});
