/**
 * Benchmark, not a test: one whole training run with train's defaults
 * (seed 42), the source of the README's accuracy and training-time
 * figures. Writes bench/results/train_full.json. Run
 * `deno task bench:train-full --help`.
 */
import { dirname } from "node:path";
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { writeFileAtomic } from "../shared/fs/atomic_write.ts";
import { requirePathAccess } from "../shared/fs/path_access.ts";
import { formatDuration } from "../shared/cli/status_line.ts";
import { epochProgress } from "../training/epoch_progress.ts";
import { train, TRAIN_CLI } from "../train.ts";
import { benchCommand, machineDescription } from "./machine.ts";

const D = TRAIN_CLI.flags;

const CLI = {
  summary: "Benchmark a full training run with deno task train's defaults (seed 42).",
  usage: "deno task bench:train-full [options]",
  flags: {
    data: D.data,
    limit: { ...D.limit, help: "only the first N training images (to try the bench quickly)" },
    epochs: D.epochs,
    threads: D.threads,
    "out-file": {
      type: "string",
      arg: "FILE",
      default: "bench/results/train_full.json",
      help: "results file",
    },
  },
  notes: "The model goes to a temporary folder under .tmp/, removed afterwards.",
} as const satisfies CliSpec;

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, CLI);
  if (!flags) return;
  const outFile = flags["out-file"];
  requirePathAccess({
    set: "bench_train_full",
    read: { "--data": flags.data },
    write: { "--out-file": outFile },
  });
  await Deno.mkdir(".tmp", { recursive: true });
  const out = await Deno.makeTempDir({ dir: ".tmp", prefix: "train_full_" });
  const started = performance.now();
  try {
    const m = await train({
      dataDir: flags.data,
      epochs: flags.epochs,
      batchSize: D["batch-size"].default,
      patience: D.patience.default,
      validationSplit: D["validation-split"].default,
      seed: D.seed.default,
      limit: flags.limit,
      backend: "wasm",
      threads: flags.threads as 1 | 2,
      out,
      listener: epochProgress(flags.epochs),
    });
    const totalSeconds = (performance.now() - started) / 1000;
    const result = {
      command: benchCommand(),
      machine: machineDescription(),
      test_accuracy: m.test_accuracy,
      epochs_run: m.epochs_run,
      best_epoch: m.best_epoch,
      seconds_per_epoch: m.seconds_per_epoch,
      // Wall time of the whole run: loading, training, evaluating, writing.
      total_seconds: totalSeconds,
      seed: m.seed,
      threads: m.threads,
      train_images: m.train_images,
      test_images: m.test_images,
      tfjs_version: m.tfjs_version,
      finished_at: m.finished_at,
    };
    await Deno.mkdir(dirname(outFile), { recursive: true });
    await writeFileAtomic(outFile, JSON.stringify(result, null, 2) + "\n");
    console.log(
      `test accuracy ${
        m.test_accuracy.toFixed(4)
      }, best epoch ${m.best_epoch} of ${m.epochs_run}, ` +
        `${m.seconds_per_epoch.toFixed(1)} s/epoch, ${formatDuration(totalSeconds)} in all; ` +
        `written: ${outFile}`,
    );
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await runMain(main);
