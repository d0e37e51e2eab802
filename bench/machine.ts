/** "2 cores, <CPU model>, Linux x86_64, Deno 2.x" for benchmark headers. */
export function machineDescription(): string {
  let cpu = "unknown CPU";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? cpu;
  } catch {
    // No /proc (or no permission): the model stays unknown.
  }
  const cores = navigator.hardwareConcurrency;
  return `${cores} cores, ${cpu}, ${Deno.build.os} ${Deno.build.arch}, Deno ${Deno.version.deno}`;
}
