/**
 * Benchmark, not a test: the dashboard's own CPU while requests flow at
 * ~1,000/s for 20 s through a real worker, with one page (this script)
 * reading its event stream. Run `deno task bench:dashboard --help`.
 *
 * The CPU figure is the dashboard's own reading (process.cpuUsage(), user +
 * system) carried in its events: Deno grants /proc/<pid>/stat only with
 * --allow-all, which no task here has.
 */
import { sendRequests } from "../client/send.ts";
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { writeFileAtomic } from "../shared/fs/atomic_write.ts";
import { idempotentProducer } from "../shared/kafka/producer.ts";
import { startDashboard } from "../harness/dashboard.ts";
import {
  createTopics,
  deleteTopics,
  ensureBroker,
  ensureModel,
  MODEL_DIR,
  releaseBroker,
  serviceKafka,
  testImages,
  uniqueService,
} from "../harness/service.ts";
import { startWorker } from "../harness/worker_process.ts";
import { machineDescription } from "./machine.ts";

const CLI = {
  summary: "Measure the dashboard's CPU while requests flow through a real worker.",
  usage: "deno task bench:dashboard [options]",
  flags: {
    seconds: { type: "int", help: "length of the run", default: 20, min: 1, max: 600 },
    rate: { type: "int", help: "requests per second", default: 1000, min: 1, max: 100_000 },
  },
  notes:
    "Writes bench/results/dashboard.json. Starts a broker if none answers (and stops it after).",
} as const satisfies CliSpec;

const OUT = "bench/results/dashboard.json";

/** The fields of a dashboard event this bench reads. */
interface Reading {
  atMs: number;
  totals: { answers: number };
  dashboard: { cpuMs: number; rssBytes: number };
}

/** Reads the event stream at `url` in the background; `latest()` is the newest event. */
function followEvents(url: string, signal: AbortSignal) {
  let latest: Reading | undefined;
  const first = Promise.withResolvers<void>();
  (async () => {
    const response = await fetch(url, { signal });
    let text = "";
    for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
      const blocks = (text + chunk).split("\n\n");
      text = blocks.pop()!;
      for (const b of blocks) {
        if (!b.startsWith("data: ")) continue;
        latest = JSON.parse(b.slice(6));
        first.resolve();
      }
    }
  })().catch((e) => {
    if (!signal.aborted) first.reject(e);
  });
  return { first: first.promise, latest: () => latest! };
}

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, CLI);
  if (!flags) return;
  await ensureBroker();
  await ensureModel();
  const service = uniqueService("bench-dashboard");
  const { config } = service;
  await createTopics(service, 6);
  const producer = idempotentProducer(await serviceKafka(service, "bench"));
  await producer.connect();
  const worker = await startWorker(service, { model: `${MODEL_DIR}/model` });
  const abort = new AbortController();
  // Started inside the try: a dashboard that fails to start must not leave the worker running.
  let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
  try {
    dashboard = await startDashboard(service);
    const events = followEvents(`${dashboard.url}events`, abort.signal);
    await events.first;
    await new Promise((r) => setTimeout(r, 2000));
    const before = events.latest();
    const count = flags.seconds * flags.rate;
    console.error(`sending ${count} requests at ${flags.rate}/s to ${config.topics.requests}`);
    const sent = await sendRequests(producer, config.topics.requests, {
      set: await testImages(),
      count,
      rate: flags.rate,
      order: "random",
      seed: 1,
      withLabels: true,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const after = events.latest();
    const wallMs = after.atMs - before.atMs;
    const cpuMs = after.dashboard.cpuMs - before.dashboard.cpuMs;
    const result = {
      date: new Date().toISOString(),
      machine: machineDescription(),
      command: ["deno task bench:dashboard", ...Deno.args].join(" "),
      requests_sent: sent.sent,
      send_seconds: Number(sent.seconds.toFixed(2)),
      sent_per_s: Math.round(sent.sent / sent.seconds),
      window_seconds: Number((wallMs / 1000).toFixed(2)),
      answers_seen_by_dashboard: after.totals.answers - before.totals.answers,
      dashboard_cpu_seconds: Number((cpuMs / 1000).toFixed(3)),
      dashboard_cpu_percent_of_one_core: Number(((cpuMs / wallMs) * 100).toFixed(1)),
      dashboard_rss_mb: Number((after.dashboard.rssBytes / 2 ** 20).toFixed(1)),
    };
    await Deno.mkdir("bench/results", { recursive: true });
    await writeFileAtomic(OUT, JSON.stringify(result, null, 2) + "\n");
    console.log(JSON.stringify(result, null, 2));
    console.error(`wrote ${OUT}`);
  } finally {
    abort.abort();
    await dashboard?.stop("SIGTERM");
    await worker.stop("SIGTERM");
    await producer.disconnect();
    await deleteTopics(service);
    await releaseBroker();
  }
}

if (import.meta.main) await runMain(main);
