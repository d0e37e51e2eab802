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
