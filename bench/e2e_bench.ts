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
import { intFlag, parseFlags } from "../shared/cli/legacy_flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { type Config, parseConfig, readSecretFile } from "../shared/config.ts";
import { loadFashionMnist, SYSTEM_DATA_DIR } from "../shared/data/dataset_files.ts";
import { runTask, startTaskUntil, type TaskProcess } from "../harness/deno_task.ts";
import type { ImageSet } from "../shared/data/idx.ts";
import type { Admin } from "kafkajs";
import { brokerAnswers, createKafka } from "../shared/kafka/connection.ts";
import { idempotentProducer } from "../shared/kafka/producer.ts";
import { pinGroupStart } from "../shared/kafka/consumer.ts";
import { ensureTopics } from "../server/topics.ts";
import { applyAcls } from "../security/acls.ts";
import { ensureSecureBroker, releaseSecureBroker } from "../harness/secure_cluster.ts";
import { type Principal, secureEnv } from "../local_broker/secure_config.ts";
import { machineDescription } from "./machine.ts";

const USAGE = `
Benchmark the service end to end through a real Kafka broker on this machine.

Usage: deno task bench:e2e [--count N] [--latency-seconds S] [--soak N] [--model DIR] [--secure]
  --count N            requests per throughput run (default 20000)
  --latency-seconds S  length of each run at 1,000 requests/s (default 10)
  --soak N             requests in the soak run that watches worker memory (default 100000; 0 skips)
  --model DIR          model to serve (default artifacts/model)
  --secure             instead: the cost of security, micro-batch with 1 worker on the
                       plaintext broker and on the secure one (TLS + SCRAM-SHA-512 + ACLs,
                       kafka:start --secure; worker and client as their own principals),
                       in the same run; writes bench/results/e2e_secure.json
Writes bench/results/e2e.json. Starts a broker if none answers (and stops it after).
`;

/** A cluster to measure on, and the environment of each principal there. */
interface Target {
  name: string;
  secure: boolean;
  env(principal: Principal): Record<string, string>;
}

const PLAINTEXT: Target = { name: "plaintext", secure: false, env: () => ({}) };
const SECURE: Target = {
  name: "TLS + SCRAM-SHA-512",
  secure: true,
  env: (principal) => secureEnv(principal),
};

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

interface Row {
  scenario: string;
  workers: number;
  max_batch: number;
  throughput_per_s: number;
  sent: number;
  answered: number;
  latency_at_1000_per_s_ms: { p50: number; p95: number; p99: number };
  latency_answered: number;
}

/** This run's topics on `target`: the admin's and client's config, the worker's env. */
function uniqueTopics(tag: string, target: Target = PLAINTEXT) {
  const id = `${tag}-${crypto.randomUUID().slice(0, 6)}`;
  const names = {
    KAFKA_REQUEST_TOPIC: `bench-${id}-requests`,
    KAFKA_RESPONSE_TOPIC: `bench-${id}-responses`,
    KAFKA_DLQ_TOPIC: `bench-${id}-dlq`,
    KAFKA_WORKER_GROUP: `bench-${id}-workers`,
  };
  const config = (p: Principal) => parseConfig({ ...target.env(p), ...names }, readSecretFile);
  return {
    admin: config("admin"),
    config: config("client"),
    env: { ...target.env("worker"), ...names },
  };
}

/** The run's topics, and on the secure cluster the ACLs of each role for them. */
async function prepareTopics(admin: Admin, config: Config, target: Target): Promise<void> {
  if (!target.secure) return void await ensureTopics(admin, config.topics, 6);
  await applyAcls(admin, {
    topics: config.topics,
    workerGroup: config.workerGroup,
    replyTopicPrefix: config.replyTopicPrefix,
    clientGroupPrefix: "fashion-receiver",
    tenants: [],
  }, 6);
}

async function startWorkers(
  n: number,
  env: Record<string, string>,
  args: string[],
): Promise<TaskProcess[]> {
  const workers: TaskProcess[] = [];
  for (let i = 0; i < n; i++) {
    workers.push(
      await startTaskUntil("worker", args, /^worker .* serving |"event":"started"/, { env }),
    );
  }
  // Let the group settle: every worker reports its final partitions.
  if (n > 1) await workers[0].waitFor(/joined .*: partitions \[\d(,\d)?(,\d)?\] of 6/, 60_000);
  return workers;
}

/** Sends `count` requests at `rate` and receives every answer. */
async function run(
  config: Config,
  set: ImageSet,
  count: number,
  rate: number,
  runId: string,
) {
  const kafka = await createKafka(config.kafka, `bench-${runId}`);
  const producer = idempotentProducer(kafka);
  // The client principal may use groups of this prefix only (docs/security.md).
  const group = `fashion-receiver-bench-${runId}`;
  await pinGroupStart(kafka, group, config.topics.responses);
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 20 });
  await Promise.all([producer.connect(), consumer.connect()]);
  const receiving = (await receiveWhenJoined(consumer, {
    topic: config.topics.responses,
    count,
    timeoutS: 60,
    runId,
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

async function scenario(
  s: Scenario,
  set: ImageSet,
  o: { count: number; latencySeconds: number; model: string },
  target: Target = PLAINTEXT,
): Promise<Row> {
  const { admin: adminConfig, config, env } = uniqueTopics(
    s.name.replace(/[^a-z0-9]+/g, "-"),
    target,
  );
  const kafka = await createKafka(adminConfig.kafka, "bench-admin");
  const admin = kafka.admin();
  await admin.connect();
  await prepareTopics(admin, config, target);
  const workers = await startWorkers(s.workers, env, [
    "--model",
    o.model,
    "--max-batch",
    String(s.maxBatch),
    "--status-interval",
    "0",
  ]);
  try {
    const tag = crypto.randomUUID().slice(0, 6);
    await run(config, set, 300, Infinity, `warm${tag}`);
    const tput = await run(config, set, o.count, Infinity, `tput${tag}`);
    const latencyCount = Math.round(o.latencySeconds * 1000);
    // Below 1,000/s the queue only grows: latency then measures the run's length.
    const sustains = tput.throughput >= 1100;
    const lat = sustains
      ? await run(config, set, latencyCount, 1000, `lat${tag}`)
      : { latencyMs: { p50: NaN, p95: NaN, p99: NaN }, received: 0 };
    const row: Row = {
      scenario: target.secure ? `${s.name}, ${target.name}` : s.name,
      workers: s.workers,
      max_batch: s.maxBatch,
      throughput_per_s: tput.throughput,
      sent: o.count,
      answered: tput.received,
      latency_at_1000_per_s_ms: lat.latencyMs,
      latency_answered: lat.received,
    };
    console.error(
      `${row.scenario}: ${row.throughput_per_s.toFixed(0)} images/s; ` +
        (sustains
          ? `at 1,000/s p50 ${lat.latencyMs.p50.toFixed(1)} ms, p99 ${
            lat.latencyMs.p99.toFixed(1)
          } ms`
          : "cannot sustain 1,000/s"),
    );
    return row;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await admin.deleteTopics({
      topics: [config.topics.requests, config.topics.responses, config.topics.dlq],
    }).catch(() => {});
    await admin.disconnect();
  }
}

interface SoakPoint {
  processed: number;
  tensors: number;
  rssMb: number;
  heapMb: number;
}

/** Streams `count` requests through one worker and samples its tensors and memory. */
async function soak(set: ImageSet, count: number, model: string) {
  const { config, env } = uniqueTopics("soak");
  const kafka = await createKafka(config.kafka, "bench-soak");
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.topics, 6);
  const [worker] = await startWorkers(1, env, [
    "--model",
    model,
    "--status-interval",
    "2",
    "--json",
  ]);
  try {
    const got = await run(config, set, count, Infinity, `soak${crypto.randomUUID().slice(0, 6)}`);
    await new Promise((r) => setTimeout(r, 2500));
    const points: SoakPoint[] = worker.lines.flatMap((l) => {
      try {
        const e = JSON.parse(l);
        return e.event === "status"
          ? [{ processed: e.processed, tensors: e.tensors, rssMb: e.rssMb, heapMb: e.heapMb }]
          : [];
      } catch {
        return [];
      }
    });
    return { answered: got.received, throughput: got.throughput, points };
  } finally {
    await worker.stop();
    await admin.deleteTopics({
      topics: [config.topics.requests, config.topics.responses, config.topics.dlq],
    }).catch(() => {});
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    count: { type: "string" },
    "latency-seconds": { type: "string" },
    soak: { type: "string" },
    model: { type: "string" },
    secure: { type: "boolean" },
  }, USAGE);
  if (!flags) return;
  const o = {
    count: intFlag(flags.count, "count", 20_000, 100),
    latencySeconds: intFlag(flags["latency-seconds"], "latency-seconds", 10, 1, 600),
    model: flags.model ?? "artifacts/model",
  };
  const soakCount = intFlag(flags.soak, "soak", 100_000, 0);
  await Deno.stat(`${o.model}/model.json`).catch(() => {
    throw new Error(`No model at ${o.model}: run 'deno task train' first or pass --model DIR`);
  });
  if (flags.secure) return await secureCost(o);
  const started = !(await brokerAnswers(parseConfig({}).kafka));
  if (started) await runTask("kafka:start");
  try {
    const set = await loadFashionMnist(SYSTEM_DATA_DIR, "test");
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
      "| mode | workers | images/s (max, end to end) | p50 ms @1000/s | p95 ms | p99 ms |",
    );
    console.log("| --- | --- | --- | --- | --- | --- |");
    for (const r of rows) {
      const l = r.latency_at_1000_per_s_ms;
      const ms = (v: number) => Number.isFinite(v) ? v.toFixed(1) : "saturated";
      const mode = r.max_batch === 1 ? "naive (--max-batch 1)" : "micro-batch (256, 5 ms)";
      console.log(
        `| ${mode} | ${r.workers} | ${r.throughput_per_s.toFixed(0)} | ${ms(l.p50)} | ${
          ms(l.p95)
        } | ${ms(l.p99)} |`,
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
async function secureCost(o: { count: number; latencySeconds: number; model: string }) {
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
    for (
      const [name, r] of [["plaintext", plain], ["TLS + SCRAM-SHA-512 + ACLs", secure]] as const
    ) {
      const l = r.latency_at_1000_per_s_ms;
      const ms = (v: number) => Number.isFinite(v) ? v.toFixed(1) : "saturated";
      console.log(
        `| ${name} | ${r.throughput_per_s.toFixed(0)} | ${ms(l.p50)} | ${ms(l.p95)} | ${
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

if (import.meta.main) await runMain(main);
