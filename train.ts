/**
 * Trains the Fashion-MNIST CNN on TF.js's wasm backend and writes the model
 * and its report. Run `deno task train --help`.
 */
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "./shared/model/backend.ts";
import { IMAGE_BYTES, NUM_CLASSES } from "./shared/protocol/classes.ts";
import { type CliSpec, type FlagSpec, parseCli } from "./shared/cli/flags.ts";
import { runMain, UsageError } from "./shared/cli/run_main.ts";
import { loadConfig } from "./shared/config.ts";
import { findDataDir, loadFashionMnist, loadImageCsv } from "./shared/data/dataset_files.ts";
import type { ImageSet } from "./shared/data/idx.ts";
import { createModel } from "./shared/model/create_model.ts";
import { formatDuration } from "./shared/cli/status_line.ts";
import { requirePathAccess } from "./shared/fs/path_access.ts";
import { type Metrics, writeArtifacts } from "./training/artifacts.ts";
import { labelsAt, lossAndAccuracy, predictProbabilities } from "./training/evaluate.ts";
import { fit, type FitListener } from "./training/fit.ts";
import { startHelperThreads, stopGemmHelper } from "./training/kernels/gemm_helper.ts";
import { registerTrainingKernels } from "./training/kernels/registry.ts";
import { WasmAdamOptimizer } from "./training/wasm_adam.ts";
import { argMax, confusionMatrix } from "./training/metrics.ts";
import { epochProgress } from "./training/epoch_progress.ts";
import { seededRandom, splitIndices } from "./training/random.ts";

/** --threads of train and bench:train: 2 starts the gemm helper thread. */
export const THREADS_FLAG = {
  type: "int",
  default: 2,
  min: 1,
  max: 2,
  arg: "1|2",
  help: "wasm: threads for the large matrix products",
} as const satisfies FlagSpec;

/** The command line of `deno task train`: every flag, default and bound, declared once. */
export const TRAIN_CLI = {
  summary: "Train the Fashion-MNIST CNN (TF.js, wasm backend) and write its artifacts.",
  usage: "deno task train [options]",
  flags: {
    data: { type: "string", arg: "DIR", help: "folder with the four IDX .gz files" },
    "train-csv": {
      type: "string",
      arg: "FILE",
      help: "train from CSV instead (header row, label,pixel1..pixel784)",
    },
    "test-csv": { type: "string", arg: "FILE", help: "test CSV, required with --train-csv" },
    epochs: { type: "int", default: 15, min: 1, max: 10_000, help: "most epochs" },
    "batch-size": { type: "int", default: 200, min: 1, max: 60_000, help: "images per step" },
    patience: {
      type: "int",
      default: 3,
      min: 1,
      max: 10_000,
      help: "epochs without better validation accuracy before stopping",
    },
    "validation-split": {
      type: "number",
      arg: "F",
      default: 0.1,
      min: 0,
      max: 0.9,
      help: "share of the training images held out for validation",
    },
    seed: {
      type: "int",
      default: 42,
      min: 0,
      max: 2 ** 32 - 1,
      help: "seeds shuffling, the split, initialisation and dropout",
    },
    limit: { type: "int", min: 1, help: "use only the first N training images (quick runs)" },
    backend: { type: "string", default: "wasm", choices: ["wasm", "cpu"], help: "TF.js backend" },
    threads: THREADS_FLAG,
    out: { type: "string", arg: "DIR", default: "artifacts", help: "artifact folder" },
  },
  notes: `
Data (first found): --data DIR, env FASHION_MNIST_DIR, ../fashion-mnist/data/fashion,
/usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist).`,
} as const satisfies CliSpec;

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
  const flags = parseCli(Deno.args, TRAIN_CLI);
  if (!flags) return;
  // Refused here, not after the training it would have thrown away.
  requirePathAccess({
    set: "train",
    read: {
      "--data": flags.data,
      "--train-csv": flags["train-csv"],
      "--test-csv": flags["test-csv"],
    },
    write: { "--out": flags.out },
  });
  const options: TrainOptions = {
    dataDir: flags.data,
    trainCsv: flags["train-csv"],
    testCsv: flags["test-csv"],
    epochs: flags.epochs,
    batchSize: flags["batch-size"],
    patience: flags.patience,
    validationSplit: flags["validation-split"],
    seed: flags.seed,
    limit: flags.limit,
    backend: flags.backend as TrainOptions["backend"],
    threads: flags.threads as TrainOptions["threads"],
    out: flags.out,
    listener: epochProgress(flags.epochs),
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
}

if (import.meta.main) await runMain(main);
