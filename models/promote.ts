/**
 * Announces a published version again, e.g. after a rollback. Run
 * `deno task model:promote --help`.
 */
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { onePositional, splitPositionals } from "../shared/cli/positionals.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { MODEL_NOTES, modelScriptKafka, NAME_FLAG, operatorAction } from "./model_cli.ts";
import { promote } from "./registry.ts";

const CLI = {
  summary: `
Promote a published version (see model:list) to current: workers swap to
it; the version it replaces is what model:rollback returns to.`,
  usage: "deno task model:promote [options] VERSION   (sha256:<16 hex>, or the 16 hex digits)",
  flags: { name: NAME_FLAG },
  notes: MODEL_NOTES,
} satisfies CliSpec;

async function main(): Promise<void> {
  const { positionals, flagArgs } = splitPositionals(Deno.args, CLI);
  const flags = parseCli(flagArgs, CLI);
  if (!flags) return;
  const version = onePositional(positionals, "VERSION");
  const { config, kafka } = await modelScriptKafka("promote");
  const next = await operatorAction(() => promote(kafka, config.modelTopic, flags.name, version));
  console.log(
    `promoted ${flags.name} ${next.version}; rollback returns to ${
      next.history.at(-1) ?? "nothing"
    }`,
  );
}

if (import.meta.main) await runMain(main);
