/**
 * Benchmark, not a test: does the receiver's memory stay flat over a long
 * stream? Produces N small fake responses to a topic of its own, runs
 * `deno task client:receive` (no --count) on it in a child process, samples
 * the child's RSS every second (with ps), and writes bench/results/receiver_memory.json.
 * Run `deno task bench:receiver --help`.
 */
import { dirname } from "node:path";
import { type Admin, CompressionTypes, Partitioners, type Producer } from "kafkajs";
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { SUMMARY_LINE } from "../client/receiver.ts";
import { writeFileAtomic } from "../shared/fs/atomic_write.ts";
import { requirePathAccess } from "../shared/fs/path_access.ts";
import { encodeResponse } from "../shared/protocol/schema.ts";
import { asBuffer } from "../shared/protocol/bytes.ts";
import {
  createTopics,
  deleteTopics,
  ensureBroker,
  releaseBroker,
  serviceKafka,
  uniqueService,
} from "../harness/service.ts";
import { startTask } from "../harness/deno_task.ts";
import { benchCommand, machineDescription } from "./machine.ts";

const CLI = {
  summary: "Benchmark the receiver's memory (RSS) over a long stream of responses.",
  usage: "deno task bench:receiver [options]",
  flags: {
    count: { type: "int", default: 1_000_000, min: 1000, help: "responses in the stream" },
    "batch-size": { type: "int", default: 10_000, min: 1, help: "responses per produce call" },
    "out-file": {
      type: "string",
      arg: "FILE",
      default: "bench/results/receiver_memory.json",
      help: "results file",
    },
  },
  notes: "Verdict 'flat' when RSS grows less than 10% from 50% to 100% of the stream.",
} as const satisfies CliSpec;

/** Growth over the second half of the stream below which memory counts as flat. */
const FLAT_GROWTH = 0.1;

interface Sample {
  seconds: number;
  rssMb: number;
  /** Responses the receiver's group has committed. */
  consumed: number;
}

/**
 * The resident set size of process `pid` in MB. Deno lets only --allow-all
 * read another process's /proc/<pid>/status, so `ps` reads it (the same
 * kernel figure, VmRSS, in kB).
 */
async function rssMb(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  const kb = Number(new TextDecoder().decode(out.stdout).trim());
  if (!out.success || !Number.isFinite(kb) || kb <= 0) throw new Error(`ps has no RSS for ${pid}`);
  return kb / 1024;
}

/** Offsets committed by `group` on `topic`, summed over partitions. */
async function committed(admin: Admin, group: string, topic: string): Promise<number> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return t.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

/** Produces `count` fake predictions to `topic` in batches, acks 1. */
async function produce(producer: Producer, topic: string, count: number, batch: number) {
  const probabilities = Array.from({ length: 10 }, (_, i) => (i === 3 ? 0.91 : 0.01));
  for (let sent = 0; sent < count; sent += batch) {
    const now = Date.now();
    const messages = Array.from({ length: Math.min(batch, count - sent) }, (_, i) => {
      const id = `mem-${sent + i}`;
      return {
        key: id,
        value: asBuffer(encodeResponse({
          v: 1,
          id,
          label: "Dress",
          index: 3,
          probability: 0.91,
          probabilities,
          model: "fake",
          worker: "bench-receiver",
          sent_at: now,
          received_at: now,
          completed_at: now,
        })),
      };
    });
    // 10,000 responses are about 2.5 MB, over the broker's 1 MB batch limit; gzip fits them.
    await producer.send({ topic, acks: 1, compression: CompressionTypes.GZIP, messages });
  }
}

/** RSS at the first sample where `fraction` of the stream was consumed. */
function rssAt(samples: Sample[], count: number, fraction: number): number {
  const s = samples.find((x) => x.consumed >= fraction * count);
  if (!s) throw new Error(`the receiver never consumed ${fraction * 100}% of ${count} responses`);
  return s.rssMb;
}

/** The results file: RSS at 10%, 50% and 100% of the stream, the max, and the verdict. */
function results(samples: Sample[], count: number, summary: string[]) {
  const at = { p10: rssAt(samples, count, 0.1), p50: rssAt(samples, count, 0.5) };
  const at100 = rssAt(samples, count, 1);
  const growth = (at100 - at.p50) / at.p50;
  return {
    command: benchCommand(),
    machine: machineDescription(),
    responses: count,
    rss_mb_at_10_percent: at.p10,
    rss_mb_at_50_percent: at.p50,
    rss_mb_at_100_percent: at100,
    rss_mb_max: Math.max(...samples.map((s) => s.rssMb)),
    second_half_growth: growth,
    verdict: growth < FLAT_GROWTH ? "flat" : "grows",
    receiver_summary: summary,
    samples,
  };
}

async function main(): Promise<number> {
  const flags = parseCli(Deno.args, CLI);
  if (!flags) return 0;
  const outFile = flags["out-file"];
  requirePathAccess({ set: "bench_receiver", write: { "--out-file": outFile } });
  const { count } = flags;
  await ensureBroker();
  const service = uniqueService("bench-receiver");
  const topic = service.config.topics.responses;
  const group = `${topic}-receiver`;
  await createTopics(service, 1);
  const kafka = await serviceKafka(service, "bench-receiver");
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await Promise.all([admin.connect(), producer.connect()]);
  const args = ["--timeout-s", "10", "--print", "summary", "--group", group];
  const receiver = startTask("client:receive", [...args, "--ledger", ".tmp/no-ledger.csv"], {
    env: service.env,
  });
  const samples: Sample[] = [];
  const started = performance.now();
  const timer = setInterval(async () => {
    const seconds = (performance.now() - started) / 1000;
    const [rss, consumed] = await Promise.all([rssMb(receiver.pid), committed(admin, group, topic)])
      .catch(() => [NaN, NaN]); // the receiver has exited, or a broker call failed: no sample
    if (Number.isFinite(rss)) samples.push({ seconds, rssMb: rss, consumed });
  }, 1000);
  try {
    await receiver.waitFor(/^receiver ready/, 60_000);
    await produce(producer, topic, count, flags["batch-size"]);
    console.error(`produced ${count} responses to ${topic}; waiting for the receiver`);
    const status = await receiver.status;
    clearInterval(timer);
    const summary = receiver.lines.filter((l) => SUMMARY_LINE.test(l));
    const r = results(samples, count, summary);
    await Deno.mkdir(dirname(outFile), { recursive: true });
    await writeFileAtomic(outFile, JSON.stringify(r, null, 2) + "\n");
    console.log(
      `RSS ${r.rss_mb_at_10_percent.toFixed(0)} MB at 10%, ${
        r.rss_mb_at_50_percent.toFixed(0)
      } MB at 50%, ${r.rss_mb_at_100_percent.toFixed(0)} MB at 100% of ${count} responses ` +
        `(max ${r.rss_mb_max.toFixed(0)} MB): ${r.verdict}; written: ${outFile}`,
    );
    return status.code === 0 && r.verdict === "flat" ? 0 : 1;
  } finally {
    clearInterval(timer);
    await receiver.stop();
    await Promise.all([admin.disconnect(), producer.disconnect()]);
    await deleteTopics(service);
    await releaseBroker();
  }
}

if (import.meta.main) await runMain(main);
