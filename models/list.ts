/**
 * Lists the published versions of a model with their test accuracy, the
 * current one, and which version each live worker serves. Run
 * `deno task model:list --help`.
 */
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { MODEL_NOTES, modelScriptKafka, NAME_FLAG } from "./model_cli.ts";
import { type Catalog, readCatalog } from "./registry.ts";

const CLI = {
  summary: `
List a model's published versions (test accuracy from their metrics.json),
the current one and the history rollback goes back through, and which
version each live worker serves.`,
  usage: "deno task model:list [options]",
  flags: {
    name: NAME_FLAG,
    json: { type: "boolean", help: "print the catalog as one JSON object" },
  },
  notes: MODEL_NOTES,
} satisfies CliSpec;

/** The catalog as the lines model:list prints. Pure. */
export function catalogLines(name: string, c: Catalog): string[] {
  const lines = [`model ${name}: ${c.versions.length} published version(s)`];
  for (const v of c.versions) {
    const accuracy = typeof v.metrics?.test_accuracy === "number"
      ? v.metrics.test_accuracy.toFixed(4)
      : "n/a";
    const mark = v.version === c.current?.version ? "  <- current" : "";
    lines.push(`  ${v.version}  test accuracy ${accuracy}  published ${v.announcedAt}${mark}`);
  }
  lines.push(
    c.current
      ? `current: ${c.current.version} (announced ${c.current.announcedAt}); rollback goes to ${
        c.current.history.at(-1) ?? "nothing"
      }`
      : "current: none announced (workers serve their --model folder)",
  );
  lines.push(`workers: ${c.serving.length}`);
  for (const s of c.serving) {
    lines.push(`  ${s.worker}  serves ${s.version} since ${s.since}${s.pinned ? " (pinned)" : ""}`);
  }
  for (const r of c.refused) {
    lines.push(`refused record ${r.key} at offset ${r.offset}: ${r.reason}`);
  }
  return lines;
}

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, CLI);
  if (!flags) return;
  const { config, kafka } = await modelScriptKafka("list");
  const c = await readCatalog(kafka, config.modelTopic, flags.name);
  if (flags.json) {
    console.log(JSON.stringify({
      name: flags.name,
      current: c.current?.version ?? null,
      history: c.current?.history ?? [],
      versions: c.versions.map((v) => ({
        version: v.version,
        test_accuracy: v.metrics?.test_accuracy ?? null,
        published_at: v.announcedAt,
      })),
      workers: c.serving,
      refused: c.refused,
    }));
  } else {
    for (const line of catalogLines(flags.name, c)) console.log(line);
  }
}

if (import.meta.main) await runMain(main);
