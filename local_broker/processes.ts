/**
 * Process checks through `ps` and `kill`: Deno grants /proc only with
 * --allow-all, and these tasks run with scoped permissions.
 */

/** True when `pid` runs and its command line contains `marker`. */
export async function processRuns(pid: number, marker = "kafka.Kafka"): Promise<boolean> {
  if (!(pid > 0)) return false;
  const out = await new Deno.Command("ps", {
    args: ["-p", String(pid), "-o", "args="],
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.success && new TextDecoder().decode(out.stdout).includes(marker);
}

/** Sends a signal with `kill`; a process already gone is not an error. */
export async function sendSignal(
  pid: number,
  sig: "TERM" | "KILL" | "STOP" | "CONT",
): Promise<void> {
  await new Deno.Command("kill", { args: [`-${sig}`, String(pid)], stderr: "null" }).output();
}

/** SIGTERM (SIGKILL when `hard`), then waits; SIGKILL after `graceMs`. */
export async function stopProcess(pid: number, hard = false, graceMs = 30_000): Promise<void> {
  await sendSignal(pid, hard ? "KILL" : "TERM");
  const deadline = Date.now() + graceMs;
  while (await processRuns(pid)) {
    if (Date.now() > deadline) await sendSignal(pid, "KILL");
    await new Promise((r) => setTimeout(r, 200));
  }
}
