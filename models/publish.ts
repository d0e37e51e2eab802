/**
 * Validates a trained model folder and announces it on the model topic,
 * where workers pick it up. Run `deno task model:publish --help`.
 */
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { onePositional, splitPositionals } from "../shared/cli/positionals.ts";
import { runMain, UsageError } from "../shared/cli/run_main.ts";
import { useBackend } from "../shared/model/backend.ts";
import type { AnnouncedMetrics } from "../shared/model/announcement.ts";
import { MODEL_NOTES, modelScriptKafka, NAME_FLAG, operatorAction } from "./model_cli.ts";
import { announce, announceFolder, readCatalog } from "./registry.ts";

const CLI = {
  summary: `
Publish a trained model: load it, check its input and output shapes, run a
smoke batch, then announce it (files and SHA-256) on the model topic. Every
worker following the topic checks it again, loads it and swaps it in.`,
  usage: "deno task model:publish [options] DIR   (DIR: a model folder, e.g. artifacts/model)",
  flags: {
    name: NAME_FLAG,
    metrics: {
      type: "string",
      arg: "FILE",
      help: "metrics.json of the training run (default DIR/../metrics.json when present)",
    },
  },
  notes: MODEL_NOTES,
} satisfies CliSpec;

/** metrics.json of a training run, or null when there is none. */
async function readMetrics(file: string, explicit: boolean): Promise<AnnouncedMetrics | null> {
  try {
    return JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    if (!explicit && e instanceof Deno.errors.NotFound) return null;
    throw new UsageError(`--metrics: cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * Checks and publishes the model in `dir` as `name`; returns its version.
 */
export async function publishModel(dir: string, name: string, metricsFile?: string) {
  await useBackend("wasm");
  const metrics = await readMetrics(
    metricsFile ?? `${dir}/../metrics.json`,
    metricsFile !== undefined,
  );
  const a = await announceFolder(dir, name, metrics);
  const { config, kafka } = await modelScriptKafka("publish");
  const catalog = await readCatalog(kafka, config.modelTopic, name);
  if (catalog.current?.version === a.version) {
    console.log(`${name} ${a.version} is already the current version: nothing to announce`);
    return a.version;
  }
  const next = await operatorAction(() => announce(kafka, config.modelTopic, a, catalog));
  const accuracy = metrics?.test_accuracy;
  console.log(
    `published ${name} ${next.version}${
      typeof accuracy === "number" ? ` (test accuracy ${accuracy.toFixed(4)})` : ""
    } on ${config.modelTopic}; previous: ${next.history.at(-1) ?? "none"}`,
  );
  return next.version;
}

async function main(): Promise<void> {
  const { positionals, flagArgs } = splitPositionals(Deno.args, CLI);
  const flags = parseCli(flagArgs, CLI);
  if (!flags) return;
  const dir = onePositional(positionals, "model folder");
  await publishModel(dir.replace(/\/+$/, ""), flags.name, flags.metrics);
}

if (import.meta.main) await runMain(main);
