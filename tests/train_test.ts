import assert from "node:assert/strict";
import { parse } from "csv-parse/sync";
import { parseCli } from "../shared/cli/flags.ts";
import { UsageError } from "../shared/cli/run_main.ts";
import { train, TRAIN_CLI } from "../train.ts";
import { needsPermissions, tempDir } from "./_support.ts";

Deno.test({
  name: "train() on 2,000 images for 2 epochs beats chance by far and writes every artifact",
  ...needsPermissions(),
  async fn() {
    await using tmp = await tempDir("train_");
    const out = tmp.path;
    const metrics = await train({
      epochs: 2,
      batchSize: 200,
      patience: 3,
      validationSplit: 0.1,
      seed: 1,
      limit: 2000,
      backend: "wasm",
      threads: 2,
      out,
    });
    assert.ok(metrics.test_accuracy >= 0.7, `test accuracy ${metrics.test_accuracy} < 0.70`);
    assert.equal(metrics.epochs_run, 2);
    assert.equal(metrics.train_images, 1800);
    assert.equal(metrics.validation_images, 200);
    assert.equal(metrics.backend, "wasm");
    assert.equal(metrics.threads, Math.min(2, navigator.hardwareConcurrency));

    const written = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
    for (
      const key of [
        "test_accuracy",
        "train_accuracy",
        "epochs_run",
        "best_epoch",
        "seconds_per_epoch",
        "backend",
        "seed",
        "tfjs_version",
      ]
    ) assert.ok(key in written, `metrics.json lacks ${key}`);

    const history: Record<string, string>[] = parse(
      await Deno.readTextFile(`${out}/history.csv`),
      { columns: true },
    );
    assert.equal(history.length, 2);
    assert.deepEqual(Object.keys(history[0]), [
      "epoch",
      "loss",
      "accuracy",
      "val_loss",
      "val_accuracy",
      "seconds",
    ]);
    const predictions = parse(await Deno.readTextFile(`${out}/predictions_test.csv`), {
      columns: true,
    });
    assert.equal(predictions.length, 10000);
    const confusion = parse(await Deno.readTextFile(`${out}/confusion_test.csv`));
    assert.equal(confusion.length, 11);
    const total = confusion.slice(1).flatMap((r: string[]) => r.slice(1).map(Number))
      .reduce((a: number, b: number) => a + b, 0);
    assert.equal(total, 10000);
    const labels = await Deno.readTextFile(`${out}/labels.csv`);
    assert.match(labels, /^index,label\n0,T-shirt\/top\n1,Trouser\n/);
    const svg = await Deno.readTextFile(`${out}/report.svg`);
    assert.match(svg, /^<svg /);
    assert.match(svg, /Test confusion matrix/);
    assert.ok(await Deno.stat(`${out}/model/model.json`));
  },
});

Deno.test({
  name: "train() with one CSV missing fails with a usage error",
  ...needsPermissions(),
  async fn() {
    await assert.rejects(
      () =>
        train({
          trainCsv: "x.csv",
          epochs: 1,
          batchSize: 10,
          patience: 1,
          validationSplit: 0,
          seed: 1,
          backend: "wasm",
          threads: 2,
          out: ".tmp/unused",
        }),
      /--train-csv and --test-csv go together/,
    );
  },
});

Deno.test("TRAIN_CLI gives the documented defaults and rejects values out of range", async (t) => {
  await t.step("no flags: every default from the spec", () => {
    const flags = parseCli([], TRAIN_CLI);
    assert.ok(flags);
    assert.equal(flags.epochs, 15);
    assert.equal(flags["batch-size"], 200);
    assert.equal(flags["validation-split"], 0.1);
    assert.equal(flags.backend, "wasm");
    assert.equal(flags.threads, 2);
    assert.equal(flags.out, "artifacts");
    assert.equal(flags.limit, undefined);
  });
  await t.step("--backend gpu is a usage error", () => {
    assert.throws(
      () => parseCli(["--backend", "gpu"], TRAIN_CLI),
      new UsageError("--backend expects wasm, cpu, got 'gpu'"),
    );
  });
  await t.step("--threads 3 is a usage error", () => {
    assert.throws(
      () => parseCli(["--threads", "3"], TRAIN_CLI),
      new UsageError("--threads expects an integer from 1 to 2, got '3'"),
    );
  });
});

/** A CSV of `n` random images in the layout --train-csv reads. */
function tinyCsv(n: number, seed: number): string {
  let s = seed;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
  const header = ["label", ...Array.from({ length: 784 }, (_, i) => `pixel${i + 1}`)].join(",");
  const rows = Array.from(
    { length: n },
    (_, r) => [r % 10, ...Array.from({ length: 784 }, next)].join(","),
  );
  return [header, ...rows].join("\n") + "\n";
}

/** Runs `deno <args>` from the project folder; its output lines and how long it took. */
async function deno(args: string[]) {
  const started = performance.now();
  const out = await new Deno.Command("deno", {
    args,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  const lines = text.split("\n").filter((l) => l && !l.includes("experimental feature"));
  return { code: out.code, lines, ms: performance.now() - started };
}

Deno.test({
  name:
    "deno task train with --out outside artifacts/ is refused before loading data with one line that grants it; that line's command trains from CSVs outside the project",
  ...needsPermissions(),
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "train_paths_" });
    try {
      await Deno.writeTextFile(`${dir}/train.csv`, tinyCsv(60, 1));
      await Deno.writeTextFile(`${dir}/test.csv`, tinyCsv(20, 2));
      const args = [
        "--train-csv",
        `${dir}/train.csv`,
        "--test-csv",
        `${dir}/test.csv`,
        "--out",
        `${dir}/model`,
        "--epochs",
        "1",
        "--batch-size",
        "10",
        "--threads",
        "1",
      ];
      const grant = `deno run -P=train --allow-write=${dir}/model train.ts ${args.join(" ")}`;
      await t.step("refused: one line naming --out and the grant command, no stack", async () => {
        const r = await deno(["run", "-P=train", "train.ts", ...args]);
        assert.equal(r.code, 1);
        assert.deepEqual(r.lines, [
          `error: --out ${dir}/model (write): outside what permission set 'train' grants; ` +
          `to allow it, run: ${grant}`,
        ]);
        // The brief: refused within a second, before any data is loaded.
        assert.ok(r.ms < 1000, `refused after ${r.ms.toFixed(0)} ms`);
      });
      await t.step("the grant command reads CSVs in /tmp and writes the model there", async () => {
        const r = await deno(grant.split(" ").slice(1));
        assert.equal(r.code, 0, r.lines.join("\n"));
        assert.ok(r.lines.some((l) => l.startsWith(`data: 60 training and 20 test images`)));
        const metrics = JSON.parse(await Deno.readTextFile(`${dir}/model/metrics.json`));
        assert.equal(metrics.epochs_run, 1);
        assert.equal(metrics.data, `${dir}/train.csv, ${dir}/test.csv`);
        assert.ok((await Deno.stat(`${dir}/model/model/model.json`)).isFile);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
