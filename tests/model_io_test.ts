import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../shared/model/backend.ts";
import { createModel } from "../shared/model/create_model.ts";
import { fileLoader, fileSaver, loadModel } from "../shared/model/model_io.ts";
import { needsPermissions, tempDir } from "./_support.ts";

Deno.test({
  name: "a saved model loads back with identical predictions and a content-addressed version",
  ...needsPermissions(),
  async fn() {
    await useBackend("wasm");
    await using tmp = await tempDir("model_io_");
    const dir = tmp.path;
    const model = createModel({ seed: 7 });
    const x = tf.randomUniform([5, 28, 28, 1], 0, 1, "float32", 3);
    const before = await (model.predict(x) as tf.Tensor).data();
    await model.save(fileSaver(`${dir}/model`));
    const files = [...Deno.readDirSync(`${dir}/model`)].map((e) => e.name).sort();
    assert.equal(files.length, 2);
    assert.equal(files[0], "model.json");
    assert.match(files[1], /^weights\.[0-9a-f]{16}\.bin$/);

    const viaLoader = await tf.loadLayersModel(fileLoader(`${dir}/model`));
    assert.deepEqual(await (viaLoader.predict(x) as tf.Tensor).data(), before);
    const { model: loaded, version } = await loadModel(`${dir}/model`);
    assert.deepEqual(await (loaded.predict(x) as tf.Tensor).data(), before);
    assert.match(version, /^sha256:[0-9a-f]{16}$/);
    // The version hashes topology and weights, so it is not the weights file's hash.
    assert.notEqual(version.slice(7), files[1].slice(8, 24));
    assert.equal((await loadModel(`${dir}/model`)).version, version, "stable across loads");

    await createModel({ seed: 8 }).save(fileSaver(`${dir}/model`));
    const after = [...Deno.readDirSync(`${dir}/model`)].map((e) => e.name);
    assert.equal(after.length, 2, "the old weights file is removed after a new save");
    assert.notEqual((await loadModel(`${dir}/model`)).version, version);
  },
});

Deno.test({
  name: "loadModel() explains how to get a model when the folder has none",
  ...needsPermissions(),
  async fn() {
    await assert.rejects(
      () => loadModel(".tmp/no-such-model"),
      /^SetupError: No model at \.tmp\/no-such-model\/model\.json: train one with 'deno task train' or pass --model DIR$/,
    );
  },
});
