/**
 * A real Prometheus (Debian's `prometheus` and `promtool`) for the tests:
 * started on a temporary config and storage folder, queried through its
 * HTTP API, stopped and removed afterwards.
 */

/** The scrape config of `targets` ("HOST:PORT" each), as Prometheus YAML. */
export function prometheusConfig(targets: readonly string[], scrapeIntervalS = 1): string {
  return [
    "global:",
    `  scrape_interval: ${scrapeIntervalS}s`,
    `  scrape_timeout: ${scrapeIntervalS}s`,
    "scrape_configs:",
    "  - job_name: fashion-workers",
    "    metrics_path: /metrics",
    "    static_configs:",
    "      - targets:",
    ...targets.map((t) => `          - ${t}`),
    "",
  ].join("\n");
}

/** A port nobody listens on at the moment of asking, on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Runs a command to completion; its exit code and stdout + stderr. */
async function run(
  command: string,
  args: string[],
  stdin?: string,
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(command, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, output: (decode(out.stdout) + decode(out.stderr)).trim() };
}

/** `promtool check metrics` on an exposition body: exit code 0 when it passes. */
export function promtoolCheckMetrics(body: string): Promise<{ code: number; output: string }> {
  return run("promtool", ["check", "metrics"], body);
}

/** `promtool check config` on a config file. */
export function promtoolCheckConfig(path: string): Promise<{ code: number; output: string }> {
  return run("promtool", ["check", "config", path]);
}

/** A running Prometheus. */
export interface Prometheus {
  url: string;
  /** The instant vector of `expr`: each series' labels and value. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts Prometheus scraping `targets` every second, with its config and
 * storage in `dir` (the caller removes it), and waits until it is ready.
 */
export async function startPrometheus(
  targets: readonly string[],
  dir: string,
): Promise<Prometheus> {
  const configFile = `${dir}/prometheus.yml`;
  await Deno.writeTextFile(configFile, prometheusConfig(targets));
  const url = `http://127.0.0.1:${freePort()}`;
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=${new URL(url).host}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const draining = child.stderr.pipeThrough(new TextDecoderStream())
    .pipeTo(new WritableStream({ write: (s) => void (log = (log + s).slice(-4000)) }));
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
    await draining;
  };
  const deadline = Date.now() + 30_000;
  while (true) {
    const ready = await fetch(`${url}/-/ready`).then((r) => r.body?.cancel().then(() => r.ok))
      .catch(() => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 30 s at ${url}: ${log.slice(-800)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async query(expr) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = await response.json();
      if (body.status !== "success") {
        throw new Error(`prometheus query ${expr} failed: ${JSON.stringify(body)}`);
      }
      return (body.data.result as { metric: Record<string, string>; value: [number, string] }[])
        .map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    stop,
  };
}
