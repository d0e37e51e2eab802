/**
 * Trains the Fashion-MNIST CNN on TF.js's wasm backend and writes the model
 * and its report. Run `deno task train --help`.
 */
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "./shared/model/backend.ts";
import { IMAGE_BYTES, NUM_CLASSES } from "./shared/protocol/classes.ts";
import { intFlag, numberFlag, parseFlags } from "./shared/cli/legacy_flags.ts";
import { runMain, UsageError } from "./shared/cli/run_main.ts";
import { loadConfig } from "./shared/config.ts";
import { findDataDir, loadFashionMnist, loadImageCsv } from "./shared/data/dataset_files.ts";
import type { ImageSet } from "./shared/data/idx.ts";
import { createModel } from "./shared/model/create_model.ts";
import { DEFAULT_MODEL_NAME } from "./shared/model/catalog.ts";
import { formatDuration } from "./shared/cli/status_line.ts";
import { type Metrics, writeArtifacts } from "./training/artifacts.ts";
import { labelsAt, lossAndAccuracy, predictProbabilities } from "./training/evaluate.ts";
import { fit, type FitListener } from "./training/fit.ts";
import { startHelperThreads, stopGemmHelper } from "./training/kernels/gemm_helper.ts";
import { registerTrainingKernels } from "./training/kernels/wasm_kernels.ts";
import { WasmAdamOptimizer } from "./training/wasm_adam.ts";
import { argMax, confusionMatrix } from "./training/metrics.ts";
import { epochProgress } from "./training/epoch_progress.ts";
import { seededRandom, splitIndices } from "./training/random.ts";

const USAGE = `
Train the Fashion-MNIST CNN (TF.js, wasm backend) and write its artifacts.

Usage: deno task train [options]

Data (first found): --data DIR, env FASHION_MNIST_DIR, ../fashion-mnist/data/fashion,
/usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist).
  --data DIR               folder with the four IDX .gz files
  --train-csv FILE         train from CSV instead (header row, label,pixel1..pixel784)
  --test-csv FILE          test CSV, required with --train-csv

Training:
  --epochs N               most epochs (default 15)
  --batch-size N           images per step (default 200)
  --patience N             epochs without better validation accuracy before stopping (default 3)
  --validation-split F     share of the training images held out for validation (default 0.1)
  --seed N                 seeds shuffling, the split, initialisation and dropout (default 42)
  --limit N                use only the first N training images (quick runs)
  --backend wasm|cpu       TF.js backend (default wasm)
  --threads 1|2            wasm: threads for the large matrix products (default 2)
  --out DIR                artifact folder (default artifacts)
  --publish                announce the trained model to the workers (as model:publish)
  --model-name NAME        with --publish: the model's name (default fashion-cnn)
  -h, --help               this help
`;

/** Everything a training run needs; `deno task train` builds it from flags. */
export interface TrainOptions {
  /** --data; otherwise FASHION_MNIST_DIR and the standard places. */
  dataDir?: string;
  trainCsv?: string;
  testCsv?: string;
  epochs: number;
  batchSize: number;
  patience: number;
  validationSplit: number;
  seed: number;
  limit?: number;
  backend: "wasm" | "cpu";
  /** Threads for the large wasm matrix products: 1, or 2 with a helper thread. */
  threads: 1 | 2;
  out: string;
  listener?: FitListener;
}

async function loadSets(o: TrainOptions) {
  if (o.trainCsv || o.testCsv) {
    if (!o.trainCsv || !o.testCsv) {
      throw new UsageError("--train-csv and --test-csv go together: give both");
    }
    const [train, test] = await Promise.all([loadImageCsv(o.trainCsv), loadImageCsv(o.testCsv)]);
    return { train, test, source: `${o.trainCsv}, ${o.testCsv}` };
  }
  const dir = await findDataDir(o.dataDir, loadConfig().dataDir);
  const [train, test] = await Promise.all([
    loadFashionMnist(dir, "train"),
    loadFashionMnist(dir, "test"),
  ]);
  return { train, test, source: dir };
}

function limited(set: ImageSet, limit = Infinity): ImageSet {
  if (limit >= set.count) return set;
  return {
    count: limit,
    images: set.images.subarray(0, limit * IMAGE_BYTES),
    labels: set.labels.subarray(0, limit),
  };
}

/**
 * Trains the CNN as `o` says, writes every artifact into `o.out` and
 * returns the metrics it wrote to metrics.json.
 */
export async function train(o: TrainOptions): Promise<Metrics> {
  const loaded = await loadSets(o);
  const trainSet = limited(loaded.train, o.limit);
  const test = loaded.test;
  console.error(
    `data: ${trainSet.count} training and ${test.count} test images from ${loaded.source}`,
  );

  // TF.js draws dropout masks from Math.random; seeding it makes runs repeatable.
  Math.random = seededRandom(o.seed ^ 0x5bd1e995);
  await useBackend(o.backend);
  if (o.backend === "wasm") registerTrainingKernels();
  const random = seededRandom(o.seed);
  const split = splitIndices(trainSet.count, o.validationSplit, random);
  const model = createModel({ seed: o.seed, optimizer: new WasmAdamOptimizer() });
  try {
    const threads = o.backend === "wasm" ? await startHelperThreads(o.threads) : 1;
    console.error(
      `training on ${tf.getBackend()} (${threads} thread${threads > 1 ? "s" : ""}): ` +
        `${split.train.length} images, ${split.validation.length} held out for validation, ` +
        `batch ${o.batchSize}, up to ${o.epochs} epochs`,
    );
    const result = await fit(model, trainSet, split.train, split.validation, {
      epochs: o.epochs,
      batchSize: o.batchSize,
      patience: o.patience,
      random,
      listener: o.listener,
    });
    const testProbs = predictProbabilities(model, test);
    const testPredicted = Uint8Array.from(
      { length: test.count },
      (_, i) => argMax(testProbs, i * NUM_CLASSES),
    );
    const testScore = lossAndAccuracy(testProbs, test.labels);
    const trainScore = lossAndAccuracy(
      predictProbabilities(model, trainSet, split.train),
      labelsAt(trainSet, split.train),
    );
    const seconds = result.history.reduce((s, r) => s + r.seconds, 0);
    const best = result.history[result.bestEpoch - 1];
    const metrics: Metrics = {
      test_accuracy: testScore.accuracy,
      test_loss: testScore.loss,
      train_accuracy: trainScore.accuracy,
      validation_accuracy: Number.isFinite(best.val_accuracy) ? best.val_accuracy : null,
      epochs_run: result.epochsRun,
      best_epoch: result.bestEpoch,
      seconds_per_epoch: seconds / result.epochsRun,
      backend: tf.getBackend(),
      threads,
      seed: o.seed,
      tfjs_version: tf.version.tfjs,
      train_images: split.train.length,
      validation_images: split.validation.length,
      test_images: test.count,
      batch_size: o.batchSize,
      data: loaded.source,
      finished_at: new Date().toISOString(),
    };
    await writeArtifacts(o.out, {
      model,
      history: result.history,
      testProbs,
      testLabels: test.labels,
      testPredicted,
      confusion: confusionMatrix(test.labels, testPredicted),
      metrics,
    });
    return metrics;
  } finally {
    stopGemmHelper();
    model.dispose();
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    data: { type: "string" },
    "train-csv": { type: "string" },
    "test-csv": { type: "string" },
    epochs: { type: "string" },
    "batch-size": { type: "string" },
    patience: { type: "string" },
    "validation-split": { type: "string" },
    seed: { type: "string" },
    limit: { type: "string" },
    backend: { type: "string" },
    threads: { type: "string" },
    out: { type: "string" },
    publish: { type: "boolean" },
    "model-name": { type: "string" },
  }, USAGE);
  if (!flags) return;
  if (flags["model-name"] !== undefined && !flags.publish) {
    throw new UsageError("--model-name goes with --publish");
  }
  const backend = flags.backend ?? "wasm";
  if (backend !== "wasm" && backend !== "cpu") {
    throw new UsageError(`--backend expects wasm or cpu, got '${backend}'`);
  }
  const epochs = intFlag(flags.epochs, "epochs", 15, 1, 10_000);
  const options: TrainOptions = {
    dataDir: flags.data,
    trainCsv: flags["train-csv"],
    testCsv: flags["test-csv"],
    epochs,
    batchSize: intFlag(flags["batch-size"], "batch-size", 200, 1, 60_000),
    patience: intFlag(flags.patience, "patience", 3, 1, 10_000),
    validationSplit: numberFlag(flags["validation-split"], "validation-split", 0.1, 0, 0.9),
    seed: intFlag(flags.seed, "seed", 42, 0, 2 ** 32 - 1),
    limit: flags.limit === undefined ? undefined : intFlag(flags.limit, "limit", 0, 1),
    backend,
    threads: intFlag(flags.threads, "threads", 2, 1, 2) as 1 | 2,
    out: flags.out ?? "artifacts",
    listener: epochProgress(epochs),
  };
  const m = await train(options);
  const total = m.seconds_per_epoch * m.epochs_run;
  console.log(
    `test accuracy ${m.test_accuracy.toFixed(4)} (train ${m.train_accuracy.toFixed(4)}), ` +
      `best epoch ${m.best_epoch} of ${m.epochs_run}, ${formatDuration(total)} of training ` +
      `(${m.seconds_per_epoch.toFixed(1)} s/epoch on ${m.backend}).\n` +
      `Artifacts in ${options.out}/: model/, metrics.json, report.svg, history.csv, ` +
      `predictions_test.csv, confusion_test.csv, labels.csv`,
  );
  if (flags.publish) {
    // Loaded only here: kafkajs is not needed to train.
    const { publishModel } = await import("./models/publish.ts");
    await publishModel(
      `${options.out}/model`,
      flags["model-name"] ?? DEFAULT_MODEL_NAME,
      `${options.out}/metrics.json`,
    );
  }
}

if (import.meta.main) await runMain(main);
