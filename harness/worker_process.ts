/**
 * Worker processes for tests, benches and the demo: `deno task worker
 * --json`, ready once it says so with its `ready` event (emitted after its
 * consumer joined the group), not when some log line looks right.
 */
import { startTask, type TaskEvent, type TaskProcess, waitForEvent } from "./deno_task.ts";
import type { Service } from "./service.ts";

/** How long a worker may take to load its model and join its group. */
export const WORKER_READY_MS = 120_000;

export interface WorkerOptions {
  /** The model folder to serve. */
  model: string;
  /** More worker flags; they come last, so they override the defaults here. */
  args?: string[];
  /** Prefix for echoed output lines; undefined echoes nothing. */
  echo?: string;
  timeoutMs?: number;
}

/** A running worker and the ready event it announced. */
export interface WorkerProcess extends TaskProcess {
  ready: TaskEvent;
  /** Where its /healthz, /readyz and /metrics listen ("127.0.0.1:41234"); none with --http off. */
  http: string | undefined;
}

/**
 * Starts a worker on `service`'s topics and waits for its ready event; if
 * the event never comes (or the worker exits first), kills the worker so
 * nothing is left running, and throws saying what it waited for.
 */
export async function startWorker(service: Service, o: WorkerOptions): Promise<WorkerProcess> {
  const args = ["--model", o.model, "--json", "--status-interval", "0", ...(o.args ?? [])];
  const task = startTask("worker", args, { env: service.env, echo: o.echo });
  try {
    const ready = await waitForEvent(task, "ready", o.timeoutMs ?? WORKER_READY_MS);
    const http = typeof ready.http === "string" ? ready.http : undefined;
    return Object.assign(task, { ready, http });
  } catch (e) {
    await task.stop("SIGKILL");
    throw e;
  }
}

/**
 * Starts `n` workers one after another in one group. Each one's ready event
 * comes after its join, and a join completes only once every member has
 * rejoined, so when the last is ready the partitions are shared out.
 */
export async function startWorkers(
  service: Service,
  n: number,
  o: WorkerOptions,
): Promise<WorkerProcess[]> {
  const workers: WorkerProcess[] = [];
  try {
    for (let i = 0; i < n; i++) workers.push(await startWorker(service, o));
    return workers;
  } catch (e) {
    await Promise.all(workers.map((w) => w.stop()));
    throw e;
  }
}
