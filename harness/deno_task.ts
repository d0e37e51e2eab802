/**
 * Runs deno.json tasks as child processes, each under its own permission
 * set, with their output captured line by line: the demo, benchmarks and
 * integration tests drive the real scripts this way.
 */

export interface TaskProcess {
  name: string;
  pid: number;
  /** Resolves with the exit code. */
  status: Promise<Deno.CommandStatus>;
  /** Every output line so far (stdout and stderr). */
  lines: string[];
  /** Resolves with the first line (past or future) that matches `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM (or another signal); resolves when the process has exited. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

export interface TaskOptions {
  env?: Record<string, string>;
  /** Prefix for echoed lines; undefined echoes nothing. */
  echo?: string;
  /** Inherit stdio instead of capturing (progress bars stay live). */
  inherit?: boolean;
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

/** Starts the command of deno.json task `name` with extra `args`. */
export function startTask(name: string, args: string[] = [], o: TaskOptions = {}): TaskProcess {
  const child = new Deno.Command("deno", {
    args: [...taskArgv(name), ...args],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...o.env },
    stdin: "null",
    stdout: o.inherit ? "inherit" : "piped",
    stderr: o.inherit ? "inherit" : "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  const onLine = (line: string) => {
    if (line.includes("Permissions in the config file is an experimental feature")) return;
    lines.push(line);
    if (o.echo !== undefined) console.error(`${o.echo}${line}`);
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  const pumps = o.inherit ? [] : [pump(child.stdout, onLine), pump(child.stderr, onLine)];
  const status = Promise.all([child.status, ...pumps]).then(([s]) => s);
  return {
    name,
    pid: child.pid,
    status,
    lines,
    waitFor(pattern, timeoutMs = 120_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        status.then((s) =>
          reject(new Error(`${name} exited (code ${s.code}) before printing ${pattern}`))
        ).finally(() => clearTimeout(timer));
      });
    },
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
      return await status;
    },
  };
}

/** Runs task `name` with `args` to completion; throws on a non-zero exit. */
export async function runTask(
  name: string,
  args: string[] = [],
  o: TaskOptions = {},
): Promise<string[]> {
  const t = startTask(name, args, o);
  const s = await t.status;
  if (!s.success) {
    throw new Error(
      `deno task ${name} failed (exit ${s.code}): ${t.lines.slice(-5).join(" | ")}`,
    );
  }
  return t.lines;
}

/**
 * Starts task `name` and waits for a line matching `ready`; if it never
 * comes (or the task exits first), kills the task so nothing is left running.
 */
export async function startTaskUntil(
  name: string,
  args: string[],
  ready: RegExp,
  o: TaskOptions = {},
  timeoutMs = 120_000,
): Promise<TaskProcess> {
  const task = startTask(name, args, o);
  try {
    await task.waitFor(ready, timeoutMs);
    return task;
  } catch (e) {
    await task.stop("SIGKILL");
    throw e;
  }
}
