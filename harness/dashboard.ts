/** Starts `deno task dashboard` as a child, for the browser test and the dashboard bench. */
import { startTask, type TaskProcess, waitForEvent } from "./deno_task.ts";
import type { Service } from "./service.ts";

/** How long a dashboard may take to serve and join its group. */
export const DASHBOARD_READY_MS = 60_000;

/** A running dashboard and the address of its page. */
export interface DashboardProcess extends TaskProcess {
  /** e.g. http://127.0.0.1:41234/ */
  url: string;
}

/**
 * Starts the dashboard on `service`'s topics and group, on `port` (0: a
 * free one), and waits for its ready event (the page serves and its
 * consumer joined its group, so nothing sent afterwards is missed); if it
 * never comes, kills the dashboard and throws saying what it waited for.
 */
export async function startDashboard(
  service: Service,
  o: { port?: number; args?: string[]; echo?: string } = {},
): Promise<DashboardProcess> {
  const args = ["--json", "--port", String(o.port ?? 0), ...(o.args ?? [])];
  const task = startTask("dashboard", args, { env: service.env, echo: o.echo });
  try {
    const ready = await waitForEvent(task, "ready", DASHBOARD_READY_MS);
    return Object.assign(task, { url: String(ready.url) });
  } catch (e) {
    await task.stop("SIGKILL");
    throw e;
  }
}
