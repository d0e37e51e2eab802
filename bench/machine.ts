import os from "node:os";

/** "2 cores, AMD EPYC, linux x86_64, Deno 2.x" for benchmark headers (needs --allow-sys=cpus). */
export function machineDescription(): string {
  let cpu = "unknown CPU";
  try {
    cpu = os.cpus()[0]?.model?.trim() || cpu;
  } catch {
    // No sys permission: the model stays unknown.
  }
  const cores = navigator.hardwareConcurrency;
  return `${cores} cores, ${cpu}, ${Deno.build.os} ${Deno.build.arch}, Deno ${Deno.version.deno}`;
}

/** The command that produced a results file, as its `command` field: "deno task <name> <args>". */
export function benchCommand(): string {
  const file = new URL(Deno.mainModule).pathname.split("/").pop();
  const task = TASKS[file ?? ""] ?? file;
  return [`deno task ${task}`, ...Deno.args].join(" ");
}

/** Script file to the deno.json task that runs it. */
const TASKS: Record<string, string> = {
  "train_bench.ts": "bench:train",
  "train_full.ts": "bench:train-full",
  "receiver_memory.ts": "bench:receiver",
  "chaos.ts": "chaos",
  "e2e_bench.ts": "bench:e2e",
  "demo.ts": "demo",
};
