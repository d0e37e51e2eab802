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
import { runMain } from "../shared/cli/run_main.ts";
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
import { type Spread, type Stage, StageTimes } from "../shared/stats/stage_times.ts";
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
        "to compare variants back to back; prints, writes nothing",
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
  notes: "Writes bench/results/e2e.json. Starts a broker if none answers (and stops it after).",
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
}

/** Sends `count` requests at `rate` and receives every answer. */
async function run(
  config: Config,
  set: ImageSet,
  count: number,
  rate: number,
  runId: string,
  stages?: StageTimes,
  fetchWaitMs = 20,
) {
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
      stages?.record({ ...r, answeredAt: r.sent_at + latencyMs });
    },
  })).done;
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
    const stages = new StageTimes();
    const lat = sustains
      ? await run(config, set, latencyCount, 1000, `lat${tag}`, stages, o.receiverFetchWaitMs)
      : { latencyMs: { p50: NaN, p95: NaN, p99: NaN }, received: 0 };
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
    };
    console.error(
      `${row.scenario}: ${row.throughput_per_s.toFixed(0)} images/s; ` +
        (sustains
          ? `at 1,000/s p50 ${lat.latencyMs.p50.toFixed(1)} ms, p99 ${
            lat.latencyMs.p99.toFixed(1)
          } ms`
          : "cannot sustain 1,000/s"),
    );
    if (row.latency_stages_ms) console.error(stageTable(row.latency_stages_ms));
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
  };
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
      await scenario(SCENARIOS.find((s) => s.name === "micro-batch, 1 worker")!, set, o);
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
  } finally {
    if (started) await runTask("kafka:stop");
  }
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
