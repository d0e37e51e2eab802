import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../shared/model/backend.ts";
import { registerTrainingKernels } from "../training/kernels/registry.ts";
import { splitProducts, startGemmHelper, stopGemmHelper } from "../training/kernels/gemm_helper.ts";
import { im2col } from "../training/kernels/im2col.ts";
import { seededRandom } from "../training/random.ts";
import { needsPermissions } from "./_support.ts";

type Shape = number[];
type Shape4 = [number, number, number, number];

function randomData(shape: Shape, seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1);
}

/** Runs `op` on the cpu and the wasm backend with the same inputs. */
async function onBoth(
  inputs: [Float32Array, Shape][],
  op: (...xs: tf.Tensor[]) => tf.Tensor,
): Promise<{ cpu: Float32Array; wasm: Float32Array; shape: Shape }> {
  const run = async (backend: "cpu" | "wasm") => {
    await useBackend(backend);
    if (backend === "wasm") registerTrainingKernels();
    const xs = inputs.map(([data, shape]) => tf.tensor(data, shape));
    const y = op(...xs);
    const result = { data: (await y.data()) as Float32Array, shape: y.shape };
    tf.dispose([...xs, y]);
    return result;
  };
  const cpu = await run("cpu");
  const wasm = await run("wasm");
  return { cpu: cpu.data, wasm: wasm.data, shape: wasm.shape };
}

function assertClose(actual: Float32Array, expected: Float32Array, tolerance = 1e-4): void {
  assert.equal(actual.length, expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    worst = Math.max(worst, err);
  }
  assert.ok(worst <= tolerance, `largest relative difference ${worst} > ${tolerance}`);
}

/**
 * Position-by-position comparison: the first index whose values differ by
 * more than `tolerance` (relative, at least 1 absolute) fails, with both values.
 */
function assertSamePositions(
  actual: Float32Array,
  expected: Float32Array,
  tolerance: number,
): void {
  assert.equal(actual.length, expected.length, "element count");
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    if (err > tolerance) {
      assert.fail(`position ${i}: expected ${expected[i]}, got ${actual[i]}`);
    }
  }
}

/** The output shape of maxPool over `x` (NHWC). */
function pooledShape(
  x: Shape,
  size: [number, number],
  strides: [number, number],
  pad: "valid" | "same",
): Shape {
  const out = (n: number, f: number, s: number) =>
    pad === "same" ? Math.ceil(n / s) : Math.floor((n - f) / s) + 1;
  return [x[0], out(x[1], size[0], strides[0]), out(x[2], size[1], strides[1]), x[3]];
}

/**
 * d/dx of sum(maxPool(x) * dy): MaxPoolGrad with `dy` as the incoming
 * gradient. A random dy makes every output's gradient distinct, so a value
 * routed to the wrong input position shows.
 */
function maxPoolGradient(
  size: [number, number],
  strides: [number, number],
  pad: "valid" | "same",
): (x: tf.Tensor, dy: tf.Tensor) => tf.Tensor {
  return (x, dy) =>
    tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, size, strides, pad), dy)))(
      x,
    );
}

const CONV_CASES: {
  name: string;
  x: Shape4;
  filter: Shape4;
  strides: [number, number];
  pad: "valid" | "same";
}[] = [
  {
    name: "the model's conv: 3x3, 1 -> 32, valid",
    x: [4, 28, 28, 1],
    filter: [3, 3, 1, 32],
    strides: [1, 1],
    pad: "valid",
  },
  {
    name: "3x3 same padding, several channels",
    x: [2, 9, 7, 3],
    filter: [3, 3, 3, 5],
    strides: [1, 1],
    pad: "same",
  },
  {
    name: "stride 2, valid",
    x: [3, 11, 10, 2],
    filter: [3, 3, 2, 4],
    strides: [2, 2],
    pad: "valid",
  },
  {
    name: "stride 2, same, even input",
    x: [2, 8, 8, 2],
    filter: [3, 3, 2, 3],
    strides: [2, 2],
    pad: "same",
  },
  {
    name: "unequal strides and a 5x2 filter",
    x: [2, 12, 9, 2],
    filter: [5, 2, 2, 3],
    strides: [3, 1],
    pad: "same",
  },
  { name: "1x1 filter", x: [2, 5, 5, 4], filter: [1, 1, 4, 6], strides: [1, 1], pad: "valid" },
];

Deno.test({
  name: "Conv2DBackpropFilter on wasm matches the cpu backend",
  ...needsPermissions(),
  async fn(t) {
    for (const c of CONV_CASES) {
      await t.step(c.name, async () => {
        await useBackend("cpu");
        const outShape = tf.conv2d(
          tf.zeros(c.x) as tf.Tensor4D,
          tf.zeros(c.filter) as tf.Tensor4D,
          c.strides,
          c.pad,
        ).shape;
        const { cpu, wasm, shape } = await onBoth(
          [[randomData(c.x, 1), c.x], [randomData(outShape, 2), outShape]],
          (x, dy) =>
            tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
              strides: c.strides,
              pad: c.pad,
              dataFormat: "NHWC",
              filterShape: c.filter,
            }) as tf.Tensor,
        );
        assert.deepEqual(shape, c.filter);
        assertClose(wasm, cpu);
      });
    }
  },
});

Deno.test({
  name: "training gradients of conv2d on wasm match the cpu backend",
  ...needsPermissions(),
  async fn() {
    const x: Shape = [3, 10, 10, 2];
    const f: Shape = [3, 3, 2, 4];
    const { cpu, wasm } = await onBoth(
      [[randomData(x, 3), x], [randomData(f, 4), f]],
      (xs, filter) =>
        tf.grad((w: tf.Tensor) =>
          tf.sum(tf.square(tf.conv2d(xs as tf.Tensor4D, w as tf.Tensor4D, 1, "same")))
        )(filter),
    );
    assertClose(wasm, cpu);
  },
});

Deno.test({
  name:
    "MaxPoolGrad on wasm routes random incoming gradients to the same positions as the cpu backend",
  ...needsPermissions(),
  async fn(t) {
    const cases: {
      name: string;
      x: Shape;
      size: [number, number];
      strides: [number, number];
      pad: "valid" | "same";
    }[] = [
      {
        name: "2x2 stride 2 (the model's pool)",
        x: [3, 26, 26, 8],
        size: [2, 2],
        strides: [2, 2],
        pad: "valid",
      },
      {
        name: "3x3 stride 2, overlapping, same",
        x: [2, 9, 9, 3],
        size: [3, 3],
        strides: [2, 2],
        pad: "same",
      },
      { name: "3x3 stride 1, valid", x: [2, 7, 6, 2], size: [3, 3], strides: [1, 1], pad: "valid" },
      {
        name: "2x2 stride 2, odd size: the last row and column get no gradient",
        x: [2, 7, 9, 4],
        size: [2, 2],
        strides: [2, 2],
        pad: "valid",
      },
      {
        name: "3x2 windows with stride 3x2",
        x: [2, 9, 8, 8],
        size: [3, 2],
        strides: [3, 2],
        pad: "valid",
      },
      {
        name: "2x2 stride 2 on an odd size, same",
        x: [1, 7, 7, 2],
        size: [2, 2],
        strides: [2, 2],
        pad: "same",
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        const dyShape = pooledShape(c.x, c.size, c.strides, c.pad);
        const { cpu, wasm } = await onBoth(
          [[randomData(c.x, 5), c.x], [randomData(dyShape, 15), dyShape]],
          maxPoolGradient(c.size, c.strides, c.pad),
        );
        assertSamePositions(wasm, cpu, 1e-6);
      });
    }
    for (const channels of [1, 4]) {
      await t.step(
        `ties go to the first position, as on the cpu (${channels} channels)`,
        async () => {
          const x: Shape = [1, 4, 4, channels];
          const dy = randomData([1, 2, 2, channels], 16);
          const { cpu, wasm } = await onBoth(
            [[new Float32Array(16 * channels).fill(1), x], [dy, [1, 2, 2, channels]]],
            maxPoolGradient([2, 2], [2, 2], "valid"),
          );
          assertSamePositions(wasm, cpu, 0);
          // Each window's first position, (0,0) (0,2) (2,0) (2,2), gets its own dy.
          const firsts = [0, 2, 8, 10].flatMap((p) =>
            Array.from({ length: channels }, (_, ch) => p * channels + ch)
          );
          assert.deepEqual(firsts.map((i) => wasm[i]), Array.from(dy));
          assert.equal(Array.from(wasm).filter((g) => g !== 0).length, 4 * channels);
        },
      );
    }
  },
});

Deno.test({
  name: "BatchMatMul on wasm, plain and transposed, matches the cpu backend",
  ...needsPermissions(),
  async fn(t) {
    const cases: [Shape, Shape, boolean, boolean][] = [
      [[7, 5], [9, 5], false, true],
      [[200, 100], [540, 100], false, true],
      [[50, 7], [50, 9], true, false],
      [[6, 4], [9, 6], true, true],
      [[2, 3, 4], [2, 5, 4], false, true],
      // The SIMD gemm: 4x8 tiles with row and column tails, K blocks of 256.
      [[13, 37], [37, 20], false, false],
      [[37, 13], [37, 12], true, false],
      [[9, 600], [28, 600], false, true],
      [[600, 6], [8, 600], true, true],
      [[1, 5, 300], [300, 44], false, false],
      [[3, 0], [0, 8], false, false],
    ];
    for (const [a, b, ta, tb] of cases) {
      await t.step(
        `${JSON.stringify(a)} x ${JSON.stringify(b)} transposeA=${ta} transposeB=${tb}`,
        async () => {
          const { cpu, wasm } = await onBoth(
            [[randomData(a, 6), a], [randomData(b, 7), b]],
            (x, y) => tf.matMul(x, y, ta, tb),
          );
          assertClose(wasm, cpu);
        },
      );
    }
  },
});

Deno.test({
  name: "MaxPool on wasm matches the cpu backend",
  ...needsPermissions(),
  async fn(t) {
    const cases: [Shape, number, number, "valid" | "same"][] = [
      [[3, 26, 26, 32], 2, 2, "valid"],
      [[2, 7, 9, 4], 2, 2, "valid"],
      [[2, 7, 7, 4], 2, 2, "same"],
      [[2, 8, 8, 3], 2, 2, "valid"],
      [[2, 9, 9, 4], 3, 2, "valid"],
    ];
    for (const [x, size, stride, pad] of cases) {
      await t.step(`${JSON.stringify(x)} ${size}x${size} stride ${stride} ${pad}`, async () => {
        const { cpu, wasm } = await onBoth(
          [[randomData(x, 14), x]],
          (v) => tf.maxPool(v as tf.Tensor4D, size, stride, pad),
        );
        assertClose(wasm, cpu, 0);
      });
    }
  },
});

Deno.test({
  name: "large BatchMatMul products split across two threads match the cpu backend",
  ...needsPermissions(),
  async fn(t) {
    const cases: [Shape, Shape, boolean, boolean][] = [
      [[200, 600], [600, 100], false, false],
      [[300, 404], [300, 100], true, false],
      [[200, 100], [600, 100], false, true],
      [[203, 500], [500, 44], false, false],
    ];
    await useBackend("wasm");
    registerTrainingKernels();
    assert.equal(await startGemmHelper(), navigator.hardwareConcurrency > 1);
    try {
      for (const [a, b, ta, tb] of cases) {
        await t.step(
          `${JSON.stringify(a)} x ${JSON.stringify(b)} transposeA=${ta} transposeB=${tb}`,
          async () => {
            const before = splitProducts();
            const { cpu, wasm } = await onBoth(
              [[randomData(a, 12), a], [randomData(b, 13), b]],
              (x, y) => tf.matMul(x, y, ta, tb),
            );
            assertClose(wasm, cpu);
            if (navigator.hardwareConcurrency > 1) assert.equal(splitProducts(), before + 1);
          },
        );
      }
    } finally {
      stopGemmHelper();
    }
  },
});

Deno.test({
  name: "Add of a bias on wasm matches the cpu backend, either operand order",
  ...needsPermissions(),
  async fn(t) {
    const cases: [Shape, Shape][] = [
      [[4, 5, 6, 8], [8]],
      [[8], [3, 8]],
      [[2, 3, 8], [3, 8]],
      [[5, 6], [6]],
      [[2, 8], [2, 8]],
    ];
    for (const [a, b] of cases) {
      await t.step(`${JSON.stringify(a)} + ${JSON.stringify(b)}`, async () => {
        const { cpu, wasm } = await onBoth(
          [[randomData(a, 10), a], [randomData(b, 11), b]],
          (x, y) => tf.add(x, y),
        );
        assertClose(wasm, cpu, 0);
      });
    }
  },
});

Deno.test({
  name: "Sum over leading axes on wasm matches the cpu backend",
  ...needsPermissions(),
  async fn(t) {
    const x: Shape = [4, 6, 5, 3];
    for (
      const [axes, keepDims] of [[[0, 1, 2], false], [[0], true], [[1, 2], false], [
        [0, 1, 2, 3],
        false,
      ]] as const
    ) {
      await t.step(`axes ${axes} keepDims ${keepDims}`, async () => {
        const { cpu, wasm } = await onBoth(
          [[randomData(x, 8), x]],
          (v) => tf.sum(v, [...axes], keepDims),
        );
        assertClose(wasm, cpu);
      });
    }
  },
});

Deno.test("im2col() follows dilation and padding like a direct convolution", () => {
  const g = {
    batch: 2,
    inHeight: 7,
    inWidth: 6,
    inChannels: 2,
    outHeight: 5,
    outWidth: 4,
    filterHeight: 3,
    filterWidth: 2,
    strideHeight: 1,
    strideWidth: 2,
    dilationHeight: 2,
    dilationWidth: 3,
    padTop: 2,
    padLeft: 1,
  };
  const x = randomData([2, 7, 6, 2], 9);
  const cols = new Float32Array(2 * 5 * 4 * 3 * 2 * 2);
  im2col(x, g, cols);
  let o = 0;
  for (let b = 0; b < 2; b++) {
    for (let oh = 0; oh < 5; oh++) {
      for (let ow = 0; ow < 4; ow++) {
        for (let fr = 0; fr < 3; fr++) {
          for (let fc = 0; fc < 2; fc++) {
            for (let c = 0; c < 2; c++) {
              const ih = oh - 2 + fr * 2;
              const iw = ow * 2 - 1 + fc * 3;
              const expected = ih >= 0 && ih < 7 && iw >= 0 && iw < 6
                ? x[((b * 7 + ih) * 6 + iw) * 2 + c]
                : 0;
              assert.equal(cols[o++], expected, `position ${o - 1}`);
            }
          }
        }
      }
    }
  }
});
