/**
 * Re-announces the version announced before the current one. Run
 * `deno task model:rollback --help`.
 */
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { MODEL_NOTES, modelScriptKafka, NAME_FLAG, operatorAction } from "./model_cli.ts";
import { rollback } from "./registry.ts";

const CLI = {
  summary: `
Roll back: announce again the version that was current before this one.
Each rollback goes one step further back; workers swap on the announcement.`,
  usage: "deno task model:rollback [options]",
  flags: { name: NAME_FLAG },
  notes: MODEL_NOTES,
} satisfies CliSpec;

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, CLI);
  if (!flags) return;
  const { config, kafka } = await modelScriptKafka("rollback");
  const next = await operatorAction(() => rollback(kafka, config.modelTopic, flags.name));
  console.log(
    `rolled back ${flags.name} to ${next.version}; before it: ${next.history.at(-1) ?? "none"}`,
  );
}

if (import.meta.main) await runMain(main);
