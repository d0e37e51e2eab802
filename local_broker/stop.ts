/** Stops the brokers that `deno task kafka:start` started. */
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { processRuns, stopProcess } from "./processes.ts";
import { KAFKA_ROOT, ROOT_FLAG } from "./root.ts";

const CLI = {
  summary: "Stop the local Kafka brokers started by deno task kafka:start.",
  usage: "deno task kafka:stop [options]",
  flags: {
    clean: { type: "boolean", help: "also delete their data (topics, offsets) and logs" },
    broker: {
      type: "int",
      help: "stop only broker N, at once (SIGKILL): for fault tests",
      min: 1,
      max: 3,
    },
    dir: ROOT_FLAG,
  },
} as const satisfies CliSpec;

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, CLI);
  if (!flags) return;
  const root = flags.dir;
  let stopped = 0;
  const dirs: string[] = [];
  try {
    for await (const e of Deno.readDir(root)) {
      if (e.isDirectory && /^node-\d+$/.test(e.name)) dirs.push(`${root}/${e.name}`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const dir of dirs.sort()) {
    if (flags.broker !== undefined && dir !== `${root}/node-${flags.broker}`) continue;
    const pid = Number(await Deno.readTextFile(`${dir}/pid`).catch(() => "0"));
    if (await processRuns(pid)) {
      await stopProcess(pid, flags.broker !== undefined);
      console.error(`stopped broker ${dir.slice(-1)} of ${root} (pid ${pid})`);
      stopped++;
    }
    await Deno.remove(`${dir}/pid`).catch(() => {});
    if (flags.clean) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  if (flags.clean) await Deno.remove(`${root}/cluster.json`).catch(() => {});
  // A second broker's folder holds nothing else; the default one keeps the jars.
  if (flags.clean && root !== KAFKA_ROOT) {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
  if (stopped === 0) console.error("no broker started by kafka:start is running");
}

if (import.meta.main) await runMain(main);
