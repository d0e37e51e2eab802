import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../shared/model/backend.ts";
import { createModel } from "../shared/model/create_model.ts";
import { encodeAnnouncement } from "../shared/model/announcement.ts";
import { checkModel, ModelCheckError, type ServingModel } from "../shared/model/model_check.ts";
import { artifactsAnnouncement } from "../shared/model/model_artifacts.ts";
import { ModelSlot } from "../server/model_slot.ts";
import { ModelUpdates } from "../server/model_updates.ts";
import { needsPermissions } from "./_support.ts";

const opts = needsPermissions();

/** The artifacts of a model, saved to memory. */
async function artifactsOf(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((a) => {
    saved = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  return saved!;
}

/**
 * The artifacts of a fresh CNN, disposing the model and its optimiser (Adam
 * holds two tensors that model.dispose() leaves) so counts stay exact.
 */
async function cnnArtifacts(seed: number): Promise<tf.io.ModelArtifacts> {
  const optimizer = tf.train.adam();
  const model = createModel({ seed, optimizer });
  try {
    return await artifactsOf(model);
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

async function announcedCnn(seed: number) {
  return await artifactsAnnouncement(await cnnArtifacts(seed), "fashion-cnn", null);
}

/** The artifacts of a model with five outputs instead of ten. */
async function fiveClassArtifacts(): Promise<tf.io.ModelArtifacts> {
  const five = tf.sequential({
    layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 5 })],
  });
  try {
    return await artifactsOf(five);
  } finally {
    five.dispose();
  }
}

async function serving(seed: number): Promise<ServingModel> {
  return await checkModel(await cnnArtifacts(seed), `seed-${seed}`);
}

Deno.test({
  name: "checkModel() refuses wrong output shapes and non-finite outputs, leaking no tensor",
  ...opts,
  async fn(t) {
    await useBackend("cpu");
    const before = tf.memory().numTensors;
    await t.step("five classes instead of ten", async () => {
      const artifacts = await fiveClassArtifacts();
      await assert.rejects(() => checkModel(artifacts, "v5"), (e: Error) => {
        assert.ok(e instanceof ModelCheckError);
        assert.equal(e.code, "wrong_shape");
        assert.equal(e.message, "Model v5: expected output shape [null,10], got [null,5]");
        return true;
      });
    });
    await t.step("NaN weights", async () => {
      const artifacts = await cnnArtifacts(1);
      new Float32Array(artifacts.weightData as ArrayBuffer).fill(NaN);
      await assert.rejects(() => checkModel(artifacts, "vnan"), (e: Error) => {
        assert.ok(e instanceof ModelCheckError);
        assert.equal(e.code, "not_finite");
        assert.equal(
          e.message,
          "Model vnan: expected smoke-batch probabilities in [0, 1], got NaN",
        );
        return true;
      });
    });
    assert.equal(tf.memory().numTensors, before, "a refused model leaves no tensor behind");
  },
});

Deno.test({
  name: "ModelSlot.swap() disposes the old model after its batch ends; tensors return to steady",
  ...opts,
  async fn() {
    await useBackend("cpu");
    const before = tf.memory().numTensors;
    const slot = new ModelSlot(await serving(1));
    const steady = tf.memory().numTensors;
    assert.ok(steady > before);
    const a = slot.current();
    let release!: () => void;
    const inBatch = slot.use((m) => new Promise<string>((r) => (release = () => r(m.version))));
    const b = await serving(2);
    assert.equal(tf.memory().numTensors, 2 * steady - before, "the new model loads beside the old");
    let swapped = false;
    const swapping = slot.swap(b).then((old) => (swapped = true, old));
    assert.equal(slot.current(), b, "new batches get the new model at once");
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(swapped, false, "the old model waits for its batch");
    assert.equal(tf.memory().numTensors, 2 * steady - before);
    release();
    assert.equal(
      await inBatch,
      "seed-1",
      "the batch in flight finished on the model it started on",
    );
    assert.equal(await swapping, a);
    assert.equal(tf.memory().numTensors, steady, "back to the steady count after the swap");
    await slot.close();
    assert.equal(tf.memory().numTensors, before);
    await assert.rejects(() => slot.use(() => 1), {
      name: "Error",
      message: "Expected an open model slot, got a closed one",
    });
  },
});

Deno.test({
  name: "ModelUpdates swaps in a good announcement and refuses a corrupt one, serving on",
  ...opts,
  async fn(t) {
    await useBackend("cpu");
    const before = tf.memory().numTensors;
    const first = await serving(1);
    const slot = new ModelSlot(first);
    const steady = tf.memory().numTensors;
    const events: { event: string; fields: Record<string, unknown> }[] = [];
    const updates = new ModelUpdates(slot, (event, fields) => events.push({ event, fields }));
    const b = await announcedCnn(2);
    const good = await encodeAnnouncement(b);
    await t.step("a good one is swapped in", async () => {
      assert.equal(await updates.offer(good), "swapped");
      assert.equal(slot.current().version, b.version);
      assert.deepEqual(events.at(-1)?.event, "model_swapped");
      assert.equal(events.at(-1)?.fields.from, "seed-1");
      assert.equal(events.at(-1)?.fields.to, b.version);
      assert.equal(tf.memory().numTensors, steady);
    });
    await t.step("the same version again changes nothing", async () => {
      assert.equal(await updates.offer(good), "unchanged");
      assert.equal(updates.swaps, 1);
    });
    await t.step("bad hash, truncated weights and a wrong shape are refused", async () => {
      const flipped = good.slice();
      flipped[flipped.length - 1] ^= 1;
      assert.equal(await updates.offer(flipped), "refused");
      assert.equal(await updates.offer(good.subarray(0, good.length - 4096)), "refused");
      const wrong = await artifactsAnnouncement(await fiveClassArtifacts(), "fashion-cnn", null);
      assert.equal(await updates.offer(await encodeAnnouncement(wrong)), "refused");
      assert.equal(updates.refused, 3);
      assert.deepEqual(
        events.filter((e) => e.event === "model_refused").map((e) => e.fields.code),
        ["bad_hash", "truncated", "wrong_shape"],
      );
      assert.equal(slot.current().version, b.version, "the old model keeps serving");
      assert.equal(tf.memory().numTensors, steady);
    });
    await slot.close();
    assert.equal(tf.memory().numTensors, before);
  },
});
