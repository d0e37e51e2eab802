/** Starts `deno task dashboard` as a child, for the browser test and the dashboard bench. */
import { startTaskUntil, type TaskProcess } from "./deno_task.ts";

/** A running dashboard and the address of its page. */
export interface DashboardProcess {
  task: TaskProcess;
  /** e.g. http://127.0.0.1:41234/ */
  url: string;
}

const LISTENING = /^dashboard on (http:\/\/127\.0\.0\.1:\d+\/)/;

/**
 * Starts the dashboard on `port` (0: a free one) with `env` (the test's
 * topics and group) and waits until it serves and its consumer joined its
 * group, so nothing sent afterwards is missed.
 */
export async function startDashboard(
  env: Record<string, string>,
  port = 0,
  args: string[] = [],
): Promise<DashboardProcess> {
  const task = await startTaskUntil(
    "dashboard",
    ["--port", String(port), ...args],
    /^dashboard joined group /,
    { env },
    60_000,
  );
  const line = await task.waitFor(LISTENING, 10_000);
  return { task, url: line.match(LISTENING)![1] };
}
