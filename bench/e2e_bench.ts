/**
 * Benchmark, not a test: end-to-end throughput and latency through the real
 * broker, naive (one predict and one send per message) against
 * micro-batching, with 1 and 2 workers; then a soak that watches the
 * worker's tensors and memory. Run `deno task bench:e2e --help`.
 */
import * as tf from "@tensorflow/tfjs";
import { receiveWhenJoined } from "../client/receive.ts";
import { sendRequests } from "../client/send.ts";
import { writeFileAtomic } from "../shared/fs/atomic_write.ts";
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain, UsageError } from "../shared/cli/run_main.ts";
import { type Config, parseConfig } from "../shared/config.ts";
import { exists } from "../shared/fs/exists.ts";
import { loadFashionMnist, SYSTEM_DATA_DIR } from "../shared/data/dataset_files.ts";
import { parseEvent, runTask } from "../harness/deno_task.ts";
import { createTopics, deleteTopics, type Service, uniqueService } from "../harness/service.ts";
import {
  CLIENT_GROUP_PREFIX,
  closeSecureService,
  ensureSecureBroker,
  openSecureService,
  releaseSecureBroker,
} from "../harness/secure_cluster.ts";
import { startWorkers } from "../harness/worker_process.ts";
import type { ImageSet } from "../shared/data/idx.ts";
import { brokerAnswers, createKafka } from "../shared/kafka/connection.ts";
import { idempotentProducer } from "../shared/kafka/producer.ts";
import { pinGroupStart } from "../shared/kafka/consumer.ts";
import { machineDescription } from "./machine.ts";
import {
  type Spread,
  type Stage,
  type StageStamps,
  StageTimes,
} from "../shared/stats/stage_times.ts";
import { type TailEvent, tailEvents } from "../shared/stats/tail_events.ts";
import { percentile } from "../shared/stats/percentile.ts";
import { isErrorReply } from "../shared/protocol/schema.ts";

const CLI = {
  summary: "Benchmark the service end to end through a real Kafka broker on this machine.",
  usage: "deno task bench:e2e [options]",
  flags: {
    count: { type: "int", help: "requests per throughput run", default: 20_000, min: 100 },
    "latency-seconds": {
      type: "int",
      arg: "S",
      help: "length of each run at 1,000 requests/s",
      default: 10,
      min: 1,
      max: 600,
    },
    soak: {
      type: "int",
      help: "requests in the soak run that watches worker memory; 0 skips it",
      default: 100_000,
      min: 0,
    },
    model: { type: "string", arg: "DIR", help: "model to serve", default: "artifacts/model" },
    endpoints: {
      type: "boolean",
      help: "instead: micro-batch, 1 worker, /metrics endpoints on vs --http off, " +
        "alternating on, off, on, off (e2e_endpoints.json)",
    },
    secure: {
      type: "boolean",
      help: "instead: micro-batch, 1 worker, plaintext vs TLS + SCRAM + ACLs (e2e_secure.json)",
    },
    only: {
      type: "string",
      choices: ["all", "latency"],
      default: "all",
      help: "latency: only the 1-worker micro-batch run at 1,000/s (no throughput, no soak), " +
        "--repeat times, to compare variants back to back (e2e_latency.json)",
    },
    "warmup-seconds": {
      type: "int",
      arg: "S",
      help: "before each run at 1,000/s, this long at the same rate on the same connections, " +
        "not counted (cold clients and JIT otherwise decide the p99)",
      default: 1,
      min: 0,
      max: 60,
    },
    repeat: {
      type: "int",
      arg: "N",
      help: "with --only latency: this many runs, each with a fresh worker",
      default: 1,
      min: 1,
      max: 50,
    },
    trace: {
      type: "boolean",
      help: "also write each request's timestamps at 1,000/s to bench/results/e2e_trace.csv",
    },
    "receiver-fetch-wait-ms": {
      type: "int",
      arg: "MS",
      help: "the bench receiver's fetch maxWaitTimeInMs",
      default: 20,
      min: 1,
      max: 5000,
    },
    "worker-args": {
      type: "string",
      arg: "ARGS",
      help: "extra worker flags, space-separated (e.g. '--max-wait-ms 2'), for A/B runs",
    },
  },
  notes: "A request over 20 ms (the p99 target) is slow; slow requests sent within 50 ms of each " +
    "other are one stall (tail event), listed with the leg that took the time. " +
    "Writes bench/results/e2e.json. Starts a broker if none answers (and stops it after).",
} as const satisfies CliSpec;

interface Scenario {
  name: string;
  workers: number;
  maxBatch: number;
}

const SCENARIOS: Scenario[] = [
  { name: "naive, 1 worker", workers: 1, maxBatch: 1 },
  { name: "micro-batch, 1 worker", workers: 1, maxBatch: 256 },
  { name: "naive, 2 workers", workers: 2, maxBatch: 1 },
  { name: "micro-batch, 2 workers", workers: 2, maxBatch: 256 },
];

/** A cluster to measure on: how a run's service is made there, and removed. */
interface Target {
  name: string;
  /** Topics (and on the secure cluster, ACLs); config for this process, env for workers. */
  open(tag: string): Promise<Service>;
  close(service: Service): Promise<void>;
}

const PLAINTEXT: Target = {
  name: "plaintext",
  async open(tag) {
    const service = uniqueService(tag);
    await createTopics(service, 6);
    return service;
  },
  close: deleteTopics,
};

const SECURE: Target = {
  name: "TLS + SCRAM-SHA-512 + ACLs",
  open: openSecureService,
  close: closeSecureService,
};

interface Row {
  scenario: string;
  workers: number;
  max_batch: number;
  throughput_per_s: number;
  sent: number;
  /** Distinct requests answered: predictions plus error replies, counted apart below. */
  answered: number;
  predictions: number;
  error_replies: number;
  latency_at_1000_per_s_ms: { p50: number; p95: number; p99: number };
  latency_answered: number;
  /** Each leg's p10/p50/p90/p99 at 1,000/s (see stage_times.ts); end_to_end is the whole. */
  latency_stages_ms: Record<Stage, Spread> | null;
  /** Seconds at 1,000/s before the measured run, on the same connections, not counted. */
  latency_warmup_seconds: number;
  /** Requests at 1,000/s slower than TAIL_BOUND_MS, and the largest stalls behind them. */
  latency_slow_requests: number;
  latency_tail_events: TailEvent[];
}

/** The p99 target: what makes a request slow in the tail analysis. */
const TAIL_BOUND_MS = 20;
/** Tail events kept in a row: the largest, by slow requests. */
const TAIL_EVENTS_KEPT = 5;

/** What a run records beyond its summary. */
interface RunExtras {
  /** Each answered prediction's timestamps. */
  stamps?: StageStamps[];
  /** The receiver's fetch maxWaitTimeInMs. */
  fetchWaitMs?: number;
  /** Requests sent at the same rate first, on the same connections, and not counted. */
  warmup?: number;
}

/** Sends `count` requests at `rate` and receives every answer. */
async function run(
  config: Config,
  set: ImageSet,
  count: number,
  rate: number,
  runId: string,
  extras: RunExtras = {},
) {
  const { stamps, fetchWaitMs = 20, warmup = 0 } = extras;
  const kafka = await createKafka(config.kafka, `bench-${runId}`);
  const producer = idempotentProducer(kafka);
  // On the secure cluster the client principal may use groups of this prefix only.
  const group = `${CLIENT_GROUP_PREFIX}-bench-${runId}`;
  await pinGroupStart(kafka, group, config.topics.responses);
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: fetchWaitMs });
  await Promise.all([producer.connect(), consumer.connect()]);
  const receiving = (await receiveWhenJoined(consumer, {
    topic: config.topics.responses,
    count,
    timeoutS: 60,
    runId,
    onResult(r, latencyMs, _label, duplicate) {
      if (duplicate || isErrorReply(r)) return;
      stamps?.push({
        sent_at: r.sent_at,
        received_at: r.received_at,
        completed_at: r.completed_at,
        answeredAt: r.sent_at + latencyMs,
      });
    },
  })).done;
  // The receiver counts only ids of runId: the warm-up's answers pass by.
  if (warmup > 0) {
    await sendRequests(producer, config.topics.requests, {
      set,
      count: warmup,
      rate,
      order: "random",
      seed: 8,
      withLabels: true,
      runId: `${runId}w`,
    });
  }
  await sendRequests(producer, config.topics.requests, {
    set,
    count,
    rate,
    order: "random",
    seed: 7,
    withLabels: true,
    runId,
  });
  const got = await receiving;
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
  return got;
}

/** What every scenario shares. */
interface RunOptions {
  count: number;
  latencySeconds: number;
  model: string;
  /** Only the run at 1,000/s, without the throughput run that gates it. */
  latencyOnly: boolean;
  workerArgs: string[];
  /** The bench receiver's fetch maxWaitTimeInMs. */
  receiverFetchWaitMs: number;
  warmupSeconds: number;
  /** Where each run at 1,000/s adds its requests' timestamps, when tracing. */
  trace?: StageStamps[][];
  /** GET each worker's /metrics once a second during the runs, as a Prometheus would. */
  scrape?: boolean;
}

/** Fetches each worker's /metrics once a second until the returned stop is called. */
function scrapeEverySecond(workers: readonly { http: string | undefined }[]): () => void {
  const urls = workers.flatMap((w) => w.http ? [`http://${w.http}/metrics`] : []);
  const timer = setInterval(() => {
    for (const url of urls) fetch(url).then((r) => r.arrayBuffer()).catch(() => {});
  }, 1000);
  return () => clearInterval(timer);
}

async function scenario(
  s: Scenario,
  set: ImageSet,
  o: RunOptions,
  target: Target = PLAINTEXT,
): Promise<Row> {
  const service = await target.open(`bench-${s.name}`);
  const { config } = service;
  const workers = await startWorkers(service, s.workers, {
    model: o.model,
    args: ["--max-batch", String(s.maxBatch), ...o.workerArgs],
  });
  const stopScraping = o.scrape ? scrapeEverySecond(workers) : () => {};
  try {
    const tag = crypto.randomUUID().slice(0, 6);
    await run(config, set, 300, Infinity, `warm${tag}`);
    const tput = o.latencyOnly
      ? { throughput: NaN, received: 0, predictions: 0, errors: 0 }
      : await run(config, set, o.count, Infinity, `tput${tag}`);
    const latencyCount = Math.round(o.latencySeconds * 1000);
    // Below 1,000/s the queue only grows: latency then measures the run's length.
    const sustains = o.latencyOnly || tput.throughput >= 1100;
    const stamps: StageStamps[] = [];
    const lat = sustains
      ? await run(config, set, latencyCount, 1000, `lat${tag}`, {
        stamps,
        fetchWaitMs: o.receiverFetchWaitMs,
        warmup: o.warmupSeconds * 1000,
      })
      : { latencyMs: { p50: NaN, p95: NaN, p99: NaN }, received: 0 };
    o.trace?.push(stamps);
    const stages = new StageTimes();
    for (const st of stamps) stages.record(st);
    const events = tailEvents(stamps, TAIL_BOUND_MS);
    const row: Row = {
      scenario: target === PLAINTEXT ? s.name : `${s.name}, ${target.name}`,
      workers: s.workers,
      max_batch: s.maxBatch,
      throughput_per_s: tput.throughput,
      sent: o.latencyOnly ? 0 : o.count,
      answered: tput.received,
      predictions: tput.predictions,
      error_replies: tput.errors,
      latency_at_1000_per_s_ms: lat.latencyMs,
      latency_answered: lat.received,
      latency_stages_ms: stages.count ? stages.summary() : null,
      latency_warmup_seconds: o.warmupSeconds,
      latency_slow_requests: events.reduce((n, e) => n + e.requests, 0),
      latency_tail_events: [...events].sort((a, b) => b.requests - a.requests)
        .slice(0, TAIL_EVENTS_KEPT),
    };
    console.error(
      `${row.scenario}: ${row.throughput_per_s.toFixed(0)} images/s; ` +
        (sustains
          ? `at 1,000/s p50 ${lat.latencyMs.p50.toFixed(1)} ms, p99 ${
            lat.latencyMs.p99.toFixed(1)
          } ms`
          : "cannot sustain 1,000/s"),
    );
    if (row.latency_stages_ms) {
      console.error(stageTable(row.latency_stages_ms));
      console.error(tailTable(row));
    }
    return row;
  } finally {
    stopScraping();
    await Promise.all(workers.map((w) => w.stop()));
    await target.close(service);
  }
}

/** One line per leg: "request_leg   p10 1.0  p50 2.0  p90 4.0  p99 9.0 ms". */
function stageTable(stages: Record<Stage, Spread>): string {
  return Object.entries(stages).map(([stage, s]) =>
    `  ${stage.padEnd(13)} p10 ${s.p10.toFixed(0).padStart(3)}  p50 ${
      s.p50.toFixed(0).padStart(3)
    }  p90 ${s.p90.toFixed(0).padStart(3)}  p99 ${s.p99.toFixed(0).padStart(3)} ms`
  ).join("\n");
}

/** The run's slow requests and its largest stalls, one line each. */
function tailTable(row: Row): string {
  const head = `  ${row.latency_slow_requests} of ${row.latency_answered} requests over ` +
    `${TAIL_BOUND_MS} ms (p99 allows ${Math.floor(row.latency_answered / 100)})`;
  return [
    head,
    ...row.latency_tail_events.map((e) =>
      `    stall at ${(e.atMs / 1000).toFixed(2)} s: ${e.requests} slow, worst ${e.worstMs} ms ` +
      `(request leg ${e.requestLegMs}, worker ${e.workerMs}, response leg ${e.responseLegMs})`
    ),
  ].join("\n");
}

interface SoakPoint {
  processed: number;
  tensors: number;
  rssMb: number;
  heapMb: number;
}

/** Streams `count` requests through one worker and samples its tensors and memory. */
async function soak(set: ImageSet, count: number, model: string) {
  const service = uniqueService("bench-soak");
  await createTopics(service, 6);
  const [worker] = await startWorkers(service, 1, {
    model,
    args: ["--status-interval", "2"],
  });
  try {
    const got = await run(
      service.config,
      set,
      count,
      Infinity,
      `soak${crypto.randomUUID().slice(0, 6)}`,
    );
    await new Promise((r) => setTimeout(r, 2500));
    const points: SoakPoint[] = worker.lines.map(parseEvent).flatMap((e) =>
      e?.event === "status" ? [e as unknown as SoakPoint & { event: string }] : []
    ).map(({ processed, tensors, rssMb, heapMb }) => ({ processed, tensors, rssMb, heapMb }));
    return {
      answered: got.received,
      predictions: got.predictions,
      errorReplies: got.errors,
      throughput: got.throughput,
      points,
    };
  } finally {
    await worker.stop();
    await deleteTopics(service);
  }
}

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, CLI);
  if (!flags) return;
  const o: RunOptions = {
    count: flags.count,
    latencySeconds: flags["latency-seconds"],
    model: flags.model,
    latencyOnly: flags.only === "latency",
    workerArgs: flags["worker-args"]?.split(/\s+/).filter(Boolean) ?? [],
    receiverFetchWaitMs: flags["receiver-fetch-wait-ms"],
    warmupSeconds: flags["warmup-seconds"],
    trace: flags.trace ? [] : undefined,
  };
  if (flags.repeat > 1 && !o.latencyOnly) throw new UsageError("--repeat goes with --only latency");
  const soakCount = flags.soak;
  if (!(await exists(`${o.model}/model.json`))) {
    throw new Error(`No model at ${o.model}: run 'deno task train' first or pass --model DIR`);
  }
  if (flags.secure) return await secureCost(o);
  if (flags.endpoints) return await endpointsCost(o);
  const started = !(await brokerAnswers(parseConfig({}).kafka));
  if (started) await runTask("kafka:start");
  try {
    const set = await loadFashionMnist(SYSTEM_DATA_DIR, "test");
    if (o.latencyOnly) {
      await latencyRuns(set, o, flags.repeat);
      return;
    }
    const rows: Row[] = [];
    for (const s of SCENARIOS) rows.push(await scenario(s, set, o));
    const soakResult = soakCount > 0 ? await soak(set, soakCount, o.model) : undefined;
    const by = (name: string) => rows.find((r) => r.scenario === name)!;
    const ratio1 = by("micro-batch, 1 worker").throughput_per_s /
      by("naive, 1 worker").throughput_per_s;
    const ratio2 = by("micro-batch, 2 workers").throughput_per_s /
      by("naive, 2 workers").throughput_per_s;
    const result = {
      machine: machineDescription(),
      versions: {
        deno: Deno.version.deno,
        tfjs: tf.version.tfjs,
        kafka: "4.1.1 (KRaft, 1 broker)",
        kafkajs: "2.2.4",
      },
      command: "deno task bench:e2e",
      requests_per_throughput_run: o.count,
      rows,
      micro_batch_over_naive: { one_worker: ratio1, two_workers: ratio2 },
      soak: soakResult,
    };
    console.log(`machine: ${result.machine}; broker, workers and clients all on it`);
    console.log(
      `versions: Deno ${Deno.version.deno}, tfjs ${tf.version.tfjs}, Kafka 4.1.1, kafkajs 2.2.4`,
    );
    console.log("");
    console.log(
      "| mode | workers | images/s (max, end to end) | p10 ms @1000/s | p50 ms | p90 ms | p95 ms | p99 ms |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const r of rows) {
      const l = r.latency_at_1000_per_s_ms;
      const ms = (v: number) => Number.isFinite(v) ? v.toFixed(1) : "saturated";
      const mode = r.max_batch === 1 ? "naive (--max-batch 1)" : "micro-batch (256, 5 ms)";
      const e = r.latency_stages_ms?.end_to_end;
      console.log(
        `| ${mode} | ${r.workers} | ${r.throughput_per_s.toFixed(0)} | ${ms(e?.p10 ?? NaN)} | ${
          ms(l.p50)
        } | ${ms(e?.p90 ?? NaN)} | ${ms(l.p95)} | ${ms(l.p99)} |`,
      );
    }
    console.log("");
    console.log(
      `micro-batching over naive: ${ratio1.toFixed(1)}x with 1 worker, ${
        ratio2.toFixed(1)
      }x with 2`,
    );
    if (soakResult) {
      const p = soakResult.points;
      // The first half warms up (the wasm heap grows to the largest batch once).
      const late = p.slice(Math.floor(p.length / 2));
      const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;
      console.log(
        `soak: ${soakResult.answered} of ${soakCount} answered at ${
          soakResult.throughput.toFixed(0)
        }/s; ` +
          `worker tensors ${range(p.map((x) => x.tensors))} over the whole run; second half: rss ${
            range(late.map((x) => x.rssMb))
          } MB, js heap ${range(late.map((x) => x.heapMb))} MB (${p.length} samples, every 2 s)`,
      );
    }
    await Deno.mkdir("bench/results", { recursive: true });
    await writeFileAtomic("bench/results/e2e.json", JSON.stringify(result, null, 2) + "\n");
    console.log("written: bench/results/e2e.json");
    await writeTrace(o.trace);
  } finally {
    if (started) await runTask("kafka:stop");
  }
}

/** Writes the traced requests' timestamps, one row per request, with its run. */
async function writeTrace(trace: StageStamps[][] | undefined): Promise<void> {
  if (!trace) return;
  const lines = ["run,sent_at,received_at,completed_at,answered_at"];
  trace.forEach((stamps, i) => {
    for (const s of stamps) {
      lines.push(`${i + 1},${s.sent_at},${s.received_at},${s.completed_at},${s.answeredAt}`);
    }
  });
  await writeFileAtomic("bench/results/e2e_trace.csv", lines.join("\n") + "\n");
  console.log("written: bench/results/e2e_trace.csv");
}

/** The median, least and greatest of `xs`. */
function medianAndRange(xs: number[]): { median: number; min: number; max: number } {
  return { median: percentile(xs, 50), min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * The 1-worker micro-batch run at 1,000/s, `repeat` times with a fresh
 * worker each: one run's p99 is decided by its few worst stalls, so the
 * spread of several tells the machine's noise from a change.
 */
async function latencyRuns(set: ImageSet, o: RunOptions, repeat: number): Promise<void> {
  const s = SCENARIOS.find((x) => x.name === "micro-batch, 1 worker")!;
  const rows: Row[] = [];
  for (let i = 0; i < repeat; i++) rows.push(await scenario(s, set, o));
  const p99s = rows.map((r) => r.latency_at_1000_per_s_ms.p99);
  const p50s = rows.map((r) => r.latency_at_1000_per_s_ms.p50);
  const result = {
    machine: machineDescription(),
    command: `deno task bench:e2e --only latency --repeat ${repeat}`,
    latency_seconds: o.latencySeconds,
    warmup_seconds: o.warmupSeconds,
    worker_args: o.workerArgs,
    runs: rows.map(({ latency_at_1000_per_s_ms, latency_stages_ms, ...r }) => ({
      latency_at_1000_per_s_ms,
      latency_stages_ms,
      slow_requests: r.latency_slow_requests,
      tail_events: r.latency_tail_events,
    })),
    p99_ms: medianAndRange(p99s),
    p50_ms: medianAndRange(p50s),
    runs_within_20_ms: p99s.filter((p) => p <= TAIL_BOUND_MS).length,
  };
  console.log(
    `p99 at 1,000/s over ${repeat} runs: median ${result.p99_ms.median.toFixed(1)} ms, ` +
      `min ${result.p99_ms.min.toFixed(1)}, max ${result.p99_ms.max.toFixed(1)}; ` +
      `${result.runs_within_20_ms} of ${repeat} at or below ${TAIL_BOUND_MS} ms`,
  );
  await Deno.mkdir("bench/results", { recursive: true });
  await writeFileAtomic("bench/results/e2e_latency.json", JSON.stringify(result, null, 2) + "\n");
  console.log("written: bench/results/e2e_latency.json");
  await writeTrace(o.trace);
}

/**
 * The cost of security: the same scenario on the plaintext broker and on
 * the secure one, in one run, so both see the same machine load.
 */
async function secureCost(o: RunOptions) {
  const started = !(await brokerAnswers(parseConfig({}).kafka));
  if (started) await runTask("kafka:start");
  await ensureSecureBroker();
  try {
    const set = await loadFashionMnist(SYSTEM_DATA_DIR, "test");
    const s = SCENARIOS.find((x) => x.name === "micro-batch, 1 worker")!;
    const rows: Row[] = [];
    for (const target of [PLAINTEXT, SECURE]) rows.push(await scenario(s, set, o, target));
    const [plain, secure] = rows;
    const result = {
      machine: machineDescription(),
      versions: {
        deno: Deno.version.deno,
        tfjs: tf.version.tfjs,
        kafka: "4.1.1",
        kafkajs: "2.2.4",
      },
      command: "deno task bench:e2e --secure",
      requests_per_throughput_run: o.count,
      rows,
      secure_over_plaintext: {
        throughput: secure.throughput_per_s / plain.throughput_per_s,
        p99: secure.latency_at_1000_per_s_ms.p99 / plain.latency_at_1000_per_s_ms.p99,
      },
    };
    console.log("| cluster | images/s (max, end to end) | p50 ms @1000/s | p95 ms | p99 ms |");
    console.log("| --- | --- | --- | --- | --- |");
    for (const [target, r] of [[PLAINTEXT, plain], [SECURE, secure]] as const) {
      const l = r.latency_at_1000_per_s_ms;
      const ms = (v: number) => Number.isFinite(v) ? v.toFixed(1) : "saturated";
      console.log(
        `| ${target.name} | ${r.throughput_per_s.toFixed(0)} | ${ms(l.p50)} | ${ms(l.p95)} | ${
          ms(l.p99)
        } |`,
      );
    }
    await Deno.mkdir("bench/results", { recursive: true });
    await writeFileAtomic("bench/results/e2e_secure.json", JSON.stringify(result, null, 2) + "\n");
    console.log("written: bench/results/e2e_secure.json");
  } finally {
    await releaseSecureBroker();
    if (started) await runTask("kafka:stop");
  }
}

/**
 * The cost of the worker's endpoints: the same scenario with /metrics on
 * (the default, and scraped once a second as Prometheus would) and with
 * `--http off`, alternating twice so that both see the same machine load.
 */
async function endpointsCost(o: RunOptions) {
  const started = !(await brokerAnswers(parseConfig({}).kafka));
  if (started) await runTask("kafka:start");
  try {
    const set = await loadFashionMnist(SYSTEM_DATA_DIR, "test");
    const s = SCENARIOS.find((x) => x.name === "micro-batch, 1 worker")!;
    const rows: (Row & { endpoints: "on" | "off" })[] = [];
    for (const endpoints of ["on", "off", "on", "off"] as const) {
      const on = endpoints === "on";
      const workerArgs = on ? o.workerArgs : [...o.workerArgs, "--http", "off"];
      rows.push({ ...await scenario(s, set, { ...o, workerArgs, scrape: on }), endpoints });
    }
    const mean = (side: "on" | "off", f: (r: Row) => number) => {
      const xs = rows.filter((r) => r.endpoints === side).map(f);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    const tput = (r: Row) => r.throughput_per_s;
    const p99 = (r: Row) => r.latency_at_1000_per_s_ms.p99;
    const result = {
      machine: machineDescription(),
      command: "deno task bench:e2e --endpoints",
      requests_per_throughput_run: o.count,
      rows,
      mean_throughput_per_s: { on: mean("on", tput), off: mean("off", tput) },
      mean_p99_ms: { on: mean("on", p99), off: mean("off", p99) },
      on_over_off: { throughput: mean("on", tput) / mean("off", tput) },
    };
    console.log("| endpoints | images/s (max, end to end) | p50 ms @1000/s | p99 ms |");
    console.log("| --- | --- | --- | --- |");
    for (const r of rows) {
      const l = r.latency_at_1000_per_s_ms;
      console.log(
        `| ${r.endpoints} | ${r.throughput_per_s.toFixed(0)} | ${l.p50.toFixed(1)} | ${
          l.p99.toFixed(1)
        } |`,
      );
    }
    console.log(`throughput on/off: ${result.on_over_off.throughput.toFixed(3)}`);
    await Deno.mkdir("bench/results", { recursive: true });
    await writeFileAtomic(
      "bench/results/e2e_endpoints.json",
      JSON.stringify(result, null, 2) + "\n",
    );
    console.log("written: bench/results/e2e_endpoints.json");
  } finally {
    if (started) await runTask("kafka:stop");
  }
}

if (import.meta.main) await runMain(main);
