/**
 * Runs deno.json tasks as child processes, each under its own permission
 * set, with their output captured line by line: the demo, benchmarks and
 * integration tests drive the real scripts this way.
 */

/** Which output stream a line came from. */
export type Stream = "stdout" | "stderr";

export interface TaskProcess {
  name: string;
  pid: number;
  /** Resolves with the exit code. */
  status: Promise<Deno.CommandStatus>;
  /** Every output line so far (stdout and stderr). */
  lines: string[];
  /**
   * Resolves with the first line (past or future) that `match` accepts;
   * rejects after `timeoutMs`, or when the task exits first, with a message
   * naming `what` it waited for.
   */
  waitForLine(
    match: (line: string, stream: Stream) => boolean,
    what: string,
    timeoutMs: number,
  ): Promise<string>;
  /** waitForLine() for a line matching `pattern` on either stream. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM (or another signal); resolves when the process has exited. */
  stop(signal?: Deno.Signal, timeoutMs?: number): Promise<Deno.CommandStatus>;
}

export interface TaskOptions {
  env?: Record<string, string>;
  /** Prefix for echoed lines; undefined echoes nothing. */
  echo?: string;
  /** Inherit stdio instead of capturing (progress bars stay live). */
  inherit?: boolean;
}

/** A JSON event line of a script run with `--json`. */
export interface TaskEvent {
  event: string;
  [field: string]: unknown;
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    parts.forEach(onLine);
  }
  if (rest) onLine(rest);
}

let tasks: Record<string, string | { command: string }> | undefined;

/**
 * The argv of a deno.json task. Tasks are run as their own `deno run`
 * process, not through `deno task`, so that signals (SIGKILL included)
 * reach the script itself and not a task runner in front of it.
 */
export function taskArgv(name: string): string[] {
  tasks ??= JSON.parse(Deno.readTextFileSync("deno.json")).tasks;
  const task = tasks?.[name];
  const command = typeof task === "string" ? task : task?.command;
  if (!command) throw new Error(`deno.json has no task '${name}'`);
  if (/[|&;<>()$`"'\\]/.test(command)) {
    throw new Error(`task '${name}' is a shell line, expected a plain command: ${command}`);
  }
  const argv = command.trim().split(/\s+/);
  if (argv[0] !== "deno") throw new Error(`task '${name}' does not start with deno: ${command}`);
  return argv.slice(1);
}

interface Waiter {
  match: (line: string, stream: Stream) => boolean;
  resolve: (line: string) => void;
}

/** Starts the command of deno.json task `name` with extra `args`. */
export function startTask(name: string, args: string[] = [], o: TaskOptions = {}): TaskProcess {
  const child = new Deno.Command("deno", {
    args: [...taskArgv(name), ...args],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...o.env },
    stdin: "null",
    stdout: o.inherit ? "inherit" : "piped",
    stderr: o.inherit ? "inherit" : "piped",
  }).spawn();
  const seen: { line: string; stream: Stream }[] = [];
  const lines: string[] = [];
  const waiters: Waiter[] = [];
  const onLine = (stream: Stream) => (line: string) => {
    if (line.includes("Permissions in the config file is an experimental feature")) return;
    seen.push({ line, stream });
    lines.push(line);
    if (o.echo !== undefined) console.error(`${o.echo}${line}`);
    for (const w of [...waiters]) {
      if (w.match(line, stream)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  const pumps = o.inherit
    ? []
    : [pump(child.stdout, onLine("stdout")), pump(child.stderr, onLine("stderr"))];
  const status = Promise.all([child.status, ...pumps]).then(([s]) => s);
  const waitForLine: TaskProcess["waitForLine"] = (match, what, timeoutMs) => {
    const past = seen.find((s) => match(s.line, s.stream));
    if (past !== undefined) return Promise.resolve(past.line);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`${name}: waited ${timeoutMs} ms for ${what}; it did not come`));
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      waiters.push(waiter);
      status.then((s) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (code ${s.code}) before ${what}`));
      });
    });
  };
  return {
    name,
    pid: child.pid,
    status,
    lines,
    waitForLine,
    waitFor: (pattern, timeoutMs = 120_000) =>
      waitForLine((l) => pattern.test(l), `a line matching ${pattern}`, timeoutMs),
    async stop(signal: Deno.Signal = "SIGTERM", timeoutMs = 30_000) {
      const kill = (s: Deno.Signal) => {
        try {
          child.kill(s);
        } catch {
          // Already exited.
        }
      };
      kill(signal);
      // A task that ignores the signal (or hangs in its shutdown) is killed, not waited on forever.
      const timer = setTimeout(() => {
        console.error(`${name}: still running ${timeoutMs} ms after ${signal}; sending SIGKILL`);
        kill("SIGKILL");
      }, timeoutMs);
      try {
        return await status;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The event of a `--json` log line, or undefined when the line is not one. */
export function parseEvent(line: string): TaskEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(line);
    return typeof value?.event === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits for the first stderr line of `task` that parses as a JSON event
 * named `event` (and that `match` accepts, when given): the one way the
 * harness, the benches and the demo learn that a `--json` script is ready.
 */
export async function waitForEvent(
  task: TaskProcess,
  event: string,
  timeoutMs: number,
  match: (e: TaskEvent) => boolean = () => true,
): Promise<TaskEvent> {
  const accepts = (line: string, stream: Stream) => {
    const e = stream === "stderr" ? parseEvent(line) : undefined;
    return e?.event === event && match(e);
  };
  const line = await task.waitForLine(accepts, `a {"event":"${event}"} line on stderr`, timeoutMs);
  return parseEvent(line)!;
}

/** Runs task `name` with `args` to completion; throws on a non-zero exit. */
export async function runTask(
  name: string,
  args: string[] = [],
  o: TaskOptions & { timeoutMs?: number } = {},
): Promise<string[]> {
  const t = startTask(name, args, o);
  const timeoutMs = o.timeoutMs ?? 600_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), timeoutMs)));
  const s = await Promise.race([t.status, late]).finally(() => clearTimeout(timer));
  if (s === "late") {
    await t.stop("SIGKILL");
    throw new Error(`deno task ${name} ${args.join(" ")} did not finish within ${timeoutMs} ms`);
  }
  if (!s.success) {
    throw new Error(
      `deno task ${name} failed (exit ${s.code}): ${t.lines.slice(-5).join(" | ")}`,
    );
  }
  return t.lines;
}
