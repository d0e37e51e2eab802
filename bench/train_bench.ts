/**
 * Benchmark, not a test: seconds per full 60,000-image epoch on the wasm
 * backend, and the wasm/cpu speed ratio on the same batches.
 */
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../shared/model/backend.ts";
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { loadConfig } from "../shared/config.ts";
import { findDataDir, loadFashionMnist } from "../shared/data/dataset_files.ts";
import type { ImageSet } from "../shared/data/idx.ts";
import { createModel } from "../shared/model/create_model.ts";
import { imagesToTensor } from "../shared/model/preprocess.ts";
import { writeFileAtomic } from "../shared/fs/atomic_write.ts";
import { startHelperThreads, stopGemmHelper } from "../training/kernels/gemm_helper.ts";
import { registerTrainingKernels } from "../training/kernels/registry.ts";
import { WasmAdamOptimizer } from "../training/wasm_adam.ts";
import { fuseConvReluPool } from "../training/conv_pool_fusion.ts";
import { seededRandom, shuffleInPlace } from "../training/random.ts";
import { benchCommand, machineDescription } from "./machine.ts";
import { dirname } from "node:path";
import { requirePathAccess } from "../shared/fs/path_access.ts";
import { THREADS_FLAG } from "../train.ts";

const BENCH_TRAIN_CLI = {
  summary:
    "Benchmark training speed: one full epoch on wasm, then wasm vs cpu on the same batches.",
  usage: "deno task bench:train [options]",
  flags: {
    batches: {
      type: "int",
      default: 5,
      min: 1,
      max: 300,
      help: "batches timed on each backend for the ratio",
    },
    threads: THREADS_FLAG,
    "epoch-images": {
      type: "int",
      default: 60_000,
      min: 200,
      max: 60_000,
      help: "images in the timed wasm epoch",
    },
    data: {
      type: "string",
      arg: "DIR",
      help: "Fashion-MNIST folder (otherwise found as deno task train finds it)",
    },
    out: {
      type: "string",
      arg: "FILE",
      default: "bench/results/train.json",
      help: "results file (e.g. bench/results/train_threads1.json for --threads 1)",
    },
  },
} as const satisfies CliSpec;

interface Timing {
  seconds: number;
  /** Per-step milliseconds, sorted. */
  steps: number[];
}

async function timeBatches(
  set: ImageSet,
  order: Int32Array,
  batches: number,
  batchSize: number,
  onBatch?: (i: number) => void,
): Promise<Timing> {
  const model = createModel({ seed: 1, optimizer: new WasmAdamOptimizer() });
  // As fit() trains: the conv block fused on wasm (a no-op on cpu).
  fuseConvReluPool(model);
  // One warm-up step: kernel setup and operator caches are not per-epoch costs.
  await step(model, set, order.subarray(0, batchSize));
  const steps: number[] = [];
  const started = performance.now();
  for (let b = 0; b < batches; b++) {
    const t = performance.now();
    await step(model, set, order.subarray(b * batchSize, (b + 1) * batchSize));
    steps.push(performance.now() - t);
    onBatch?.(b + 1);
  }
  const seconds = (performance.now() - started) / 1000;
  model.dispose();
  return { seconds, steps: steps.sort((a, b) => a - b) };
}

async function step(model: tf.LayersModel, set: ImageSet, pick: Int32Array): Promise<void> {
  const x = imagesToTensor(set.images, pick.length, pick);
  const y = tf.tensor1d(Array.from(pick, (i) => set.labels[i]), "float32");
  await model.trainOnBatch(x, y);
  tf.dispose([x, y]);
}

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, BENCH_TRAIN_CLI);
  if (!flags) return;
  const ratioBatches = flags.batches;
  const epochImages = flags["epoch-images"];
  const wantThreads = flags.threads;
  const batchSize = 200;
  requirePathAccess({
    set: "bench_train",
    read: { "--data": flags.data },
    write: { "--out": flags.out },
  });
  const set = await loadFashionMnist(await findDataDir(flags.data, loadConfig().dataDir), "train");
  const order = shuffleInPlace(
    Int32Array.from({ length: set.count }, (_, i) => i),
    seededRandom(1),
  );
  const epochBatches = Math.floor(epochImages / batchSize);

  // Other work on the machine shows in the step times: record how much there was.
  const loadBefore = Deno.loadavg()[0];
  await useBackend("wasm");
  registerTrainingKernels();
  const threads = await startHelperThreads(wantThreads);
  let epoch: Timing;
  let wasmSeconds: number;
  try {
    epoch = await timeBatches(set, order, epochBatches, batchSize, (b) => {
      if (b % 50 === 0) console.error(`wasm epoch: ${b}/${epochBatches} batches`);
    });
    wasmSeconds = (await timeBatches(set, order, ratioBatches, batchSize)).seconds;
  } finally {
    stopGemmHelper();
  }
  const epochSeconds = epoch.seconds;
  const loadAfter = Deno.loadavg()[0];
  await useBackend("cpu");
  const cpuSeconds = (await timeBatches(set, order, ratioBatches, batchSize)).seconds;
  const at = (q: number) => epoch.steps[Math.floor(q * (epoch.steps.length - 1))];

  const result = {
    machine: machineDescription(),
    tfjs_version: tf.version.tfjs,
    batch_size: batchSize,
    wasm_threads: threads,
    epoch_images: epochBatches * batchSize,
    wasm_seconds_per_epoch: epochSeconds * (60_000 / (epochBatches * batchSize)),
    wasm_ms_per_step: (epochSeconds / epochBatches) * 1000,
    wasm_step_ms_p10: at(0.1),
    wasm_step_ms_median: at(0.5),
    wasm_step_ms_p90: at(0.9),
    load_average_1m: { before: loadBefore, after_epoch: loadAfter },
    ratio_batches: ratioBatches,
    wasm_ms_per_step_ratio_run: (wasmSeconds / ratioBatches) * 1000,
    cpu_ms_per_step: (cpuSeconds / ratioBatches) * 1000,
    wasm_speedup_over_cpu: cpuSeconds / wasmSeconds,
  };
  console.log(`machine: ${result.machine}`);
  console.log(`tfjs ${result.tfjs_version}, batch ${batchSize}, wasm threads ${threads}`);
  console.log(
    `wasm: ${result.wasm_seconds_per_epoch.toFixed(1)} s per 60,000-image epoch ` +
      `(${result.wasm_ms_per_step.toFixed(1)} ms/step over ${epochBatches} steps)`,
  );
  console.log(
    `load average (1 min): ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`,
  );
  console.log(
    `wasm step time: p10 ${at(0.1).toFixed(1)} ms, median ${at(0.5).toFixed(1)} ms, p90 ${
      at(0.9).toFixed(1)
    } ms`,
  );
  console.log(
    `same ${ratioBatches} batches: wasm ${result.wasm_ms_per_step_ratio_run.toFixed(1)} ms/step, ` +
      `cpu ${result.cpu_ms_per_step.toFixed(1)} ms/step: wasm is ${
        result.wasm_speedup_over_cpu.toFixed(1)
      }x faster`,
  );
  await Deno.mkdir(dirname(flags.out), { recursive: true });
  await writeFileAtomic(
    flags.out,
    JSON.stringify({ command: benchCommand(), ...result }, null, 2) + "\n",
  );
  console.log(`written: ${flags.out}`);
}

if (import.meta.main) await runMain(main);
