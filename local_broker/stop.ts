/** Stops the brokers that `deno task kafka:start` started. */
import { parseFlags } from "../shared/cli/legacy_flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { processRuns, stopProcess } from "./processes.ts";
import { SECURE_ROOT } from "./secure_config.ts";
import { KAFKA_ROOT } from "./start.ts";

const USAGE = `
Stop the local Kafka brokers started by deno task kafka:start.

Usage: deno task kafka:stop [--clean] [--broker N] [--secure]
  --clean      also delete their data (topics, offsets) and logs
  --broker N   stop only broker N, at once (SIGKILL): for fault tests
  --secure     the secure cluster (kafka:start --secure) instead of the plaintext one;
               --clean keeps its CA and credentials
`;

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    clean: { type: "boolean" },
    broker: { type: "string" },
    secure: { type: "boolean" },
  }, USAGE);
  if (!flags) return;
  const root = flags.secure ? SECURE_ROOT : KAFKA_ROOT;
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
    if (flags.broker && dir !== `${root}/node-${flags.broker}`) continue;
    const pid = Number(await Deno.readTextFile(`${dir}/pid`).catch(() => "0"));
    if (await processRuns(pid)) {
      await stopProcess(pid, Boolean(flags.broker));
      console.error(`stopped broker ${dir.slice(-1)} (pid ${pid})`);
      stopped++;
    }
    await Deno.remove(`${dir}/pid`).catch(() => {});
    if (flags.clean) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  if (flags.clean) await Deno.remove(`${root}/cluster.json`).catch(() => {});
  if (stopped === 0) console.error("no broker started by kafka:start is running");
}

if (import.meta.main) await runMain(main);
