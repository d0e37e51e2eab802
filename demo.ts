/**
 * The newcomer's one command: broker, model, topics, a worker, 1,000
 * labelled test images sent and received, a summary; then it stops what it
 * started. Run `deno task demo --help`.
 */
import { type CliSpec, parseCli } from "./shared/cli/flags.ts";
import { runMain } from "./shared/cli/run_main.ts";
import { loadConfig } from "./shared/config.ts";
import { exists } from "./shared/fs/exists.ts";
import { runTask, startTask, type TaskProcess } from "./harness/deno_task.ts";
import { startWorker } from "./harness/worker_process.ts";
import { brokerAnswers } from "./shared/kafka/connection.ts";
import { SUMMARY_LINE } from "./client/receiver.ts";
import { writeFileAtomic } from "./shared/fs/atomic_write.ts";
import { benchCommand, machineDescription } from "./bench/machine.ts";

const CLI = {
  summary: `
Run the whole service once: start (or reuse) Kafka, train a model if there is none,
create the topics, start a worker, send labelled test images, receive every answer,
print the summary, and stop what was started.`,
  usage: "deno task demo [options]",
  flags: {
    count: { type: "int", help: "images to classify", default: 1000, min: 1, max: 1_000_000 },
    rate: {
      type: "number",
      arg: "R",
      help: "requests per second (as fast as possible when absent)",
      min: 0.001,
    },
    record: {
      type: "boolean",
      help: "also write the receiver's summary to bench/results/demo.json",
    },
  },
} as const satisfies CliSpec;

const RECORD_FILE = "bench/results/demo.json";

/** Writes the receiver's summary facts, and how they were produced, to RECORD_FILE. */
async function record(receiverLines: string[], code: number, seconds: number): Promise<void> {
  const summary = Object.fromEntries(
    receiverLines.flatMap((l) => {
      const m = SUMMARY_LINE.exec(l);
      return m ? [[m[1], m[2]]] : [];
    }),
  );
  await Deno.mkdir("bench/results", { recursive: true });
  await writeFileAtomic(
    RECORD_FILE,
    JSON.stringify(
      {
        command: benchCommand(),
        machine: machineDescription(),
        receiver_exit_code: code,
        seconds,
        summary,
      },
      null,
      2,
    ) + "\n",
  );
  console.error(`    written: ${RECORD_FILE}`);
}

const MODEL = "artifacts/model";
/** Training on 2 cores takes about 10 minutes; an hour means something is wrong. */
const TRAIN_MS = 3_600_000;

async function main(): Promise<number> {
  const flags = parseCli(Deno.args, CLI);
  if (!flags) return 0;
  const { count } = flags;
  const config = loadConfig();
  const started: TaskProcess[] = [];
  let startedKafka = false;
  const runId = `demo${Date.now().toString(36)}`;
  const ledger = `results/${runId}-sent.csv`;
  const out = `results/${runId}.csv`;
  const t0 = performance.now();
  try {
    console.error(`1/6 Kafka at ${config.kafka.brokers.join(",")}`);
    if (!(await brokerAnswers(config.kafka))) {
      await runTask("kafka:start", [], { echo: "    kafka | " });
      startedKafka = true;
    } else {
      console.error("    a broker answers: reusing it");
    }
    console.error("2/6 model");
    if (await exists(`${MODEL}/model.json`)) {
      console.error(`    ${MODEL} exists: using it (delete it to retrain)`);
    } else {
      console.error("    no model yet: training one (about 10 minutes on 2 cores)");
      await runTask("train", [], { inherit: true, timeoutMs: TRAIN_MS });
    }
    console.error("3/6 topics");
    await runTask("topics", [], { echo: "    " });
    console.error("4/6 worker");
    // The demo's topics come from this process's environment, which the worker inherits.
    const worker = await startWorker({ config, env: {} }, {
      model: MODEL,
      args: ["--status-interval", "5"],
      echo: "    worker | ",
    });
    started.push(worker);
    if (worker.http) {
      console.error(`    worker metrics: http://${worker.http}/metrics (and /readyz)`);
    }
    console.error(`5/6 receiver and sender: ${count} labelled test images (run ${runId})`);
    await Deno.mkdir("results", { recursive: true });
    const receiver = startTask("client:receive", [
      "--count",
      String(count),
      "--timeout-s",
      "60",
      "--run-id",
      runId,
      "--group",
      `receiver-${runId}`,
      "--ledger",
      ledger,
      "--out",
      out,
      "--print",
      "summary",
    ], { echo: "    " });
    started.push(receiver);
    await receiver.waitFor(/^receiver ready/, 60_000);
    await runTask("client:send", [
      "--count",
      String(count),
      "--rate",
      flags.rate === undefined ? "max" : String(flags.rate),
      "--run-id",
      runId,
      "--ledger",
      ledger,
      "--seed",
      "1",
    ], { echo: "    send | " });
    const status = await receiver.status;
    if (flags.record) await record(receiver.lines, status.code, (performance.now() - t0) / 1000);
    console.error("6/6 stopping what the demo started");
    return status.code;
  } finally {
    for (const p of started.reverse()) await p.stop("SIGTERM");
    if (startedKafka) await runTask("kafka:stop", [], { echo: "    kafka | " });
  }
}

if (import.meta.main) await runMain(main);
