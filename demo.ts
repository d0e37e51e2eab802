/**
 * The newcomer's one command: broker, model, topics, a worker, 1,000
 * labelled test images sent and received, a summary; then it stops what it
 * started. Run `deno task demo --help`.
 */
import { intFlag, parseFlags } from "./shared/cli/legacy_flags.ts";
import { runMain } from "./shared/cli/run_main.ts";
import { loadConfig } from "./shared/config.ts";
import { runTask, startTask, type TaskProcess } from "./harness/deno_task.ts";
import { brokerAnswers } from "./shared/kafka/connection.ts";
import { ensureSecureBroker, releaseSecureBroker } from "./harness/secure_cluster.ts";
import { type Principal, secureEnv } from "./local_broker/secure_config.ts";

const USAGE = `
Run the whole service once: start (or reuse) Kafka, train a model if there is none,
create the topics, start a worker, send labelled test images, receive every answer,
print the summary, and stop what was started.

Usage: deno task demo [--count N] [--rate R] [--secure]
  --count N   images to classify (default 1000)
  --rate R    requests per second (default: as fast as possible)
  --secure    on the secure local cluster (kafka:start --secure: TLS, SCRAM-SHA-512, ACLs):
              topics and ACLs by the admin (deno task acls), the worker and the clients
              each as their own principal; see docs/security.md
`;

/** The environment of each step: the caller's own, or a principal's on the secure cluster. */
function envFor(secure: boolean): (p: Principal) => Record<string, string> {
  return secure ? (p) => secureEnv(p) : () => ({});
}

async function main(): Promise<number> {
  const flags = parseFlags(Deno.args, {
    count: { type: "string" },
    rate: { type: "string" },
    secure: { type: "boolean" },
  }, USAGE);
  if (!flags) return 0;
  const count = intFlag(flags.count, "count", 1000, 1, 1_000_000);
  const secure = Boolean(flags.secure);
  const env = envFor(secure);
  const config = loadConfig();
  const started: TaskProcess[] = [];
  let startedKafka = false;
  const runId = `demo${Date.now().toString(36)}`;
  const ledger = `results/${runId}-sent.csv`;
  const out = `results/${runId}.csv`;
  try {
    console.error(
      `1/6 Kafka at ${secure ? env("client").KAFKA_BROKERS : config.kafka.brokers.join(",")}`,
    );
    if (secure) {
      await ensureSecureBroker();
    } else if (!(await brokerAnswers(config.kafka))) {
      await runTask("kafka:start", [], { echo: "    kafka | " });
      startedKafka = true;
    } else {
      console.error("    a broker answers: reusing it");
    }
    console.error("2/6 model");
    try {
      await Deno.stat("artifacts/model/model.json");
      console.error("    artifacts/model exists: using it (delete it to retrain)");
    } catch {
      console.error("    no model yet: training one (about 10 minutes on 2 cores)");
      await runTask("train", [], { inherit: true });
    }
    console.error(secure ? "3/6 topics and ACLs, as admin" : "3/6 topics");
    await runTask(secure ? "acls" : "topics", [], { echo: "    ", env: env("admin") });
    console.error("4/6 worker");
    const worker = startTask("worker", ["--status-interval", "5"], {
      echo: "    worker | ",
      env: env("worker"),
    });
    started.push(worker);
    await worker.waitFor(/^worker .* serving /, 120_000);
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
      `fashion-receiver-${runId}`,
      "--ledger",
      ledger,
      "--out",
      out,
      "--print",
      "summary",
    ], { echo: "    ", env: env("client") });
    started.push(receiver);
    await receiver.waitFor(/^receiver ready/, 60_000);
    await runTask("client:send", [
      "--count",
      String(count),
      ...(flags.rate ? ["--rate", flags.rate] : ["--rate", "max"]),
      "--run-id",
      runId,
      "--ledger",
      ledger,
      "--seed",
      "1",
    ], { echo: "    send | ", env: env("client") });
    const status = await receiver.status;
    console.error("6/6 stopping what the demo started");
    return status.code;
  } finally {
    for (const p of started.reverse()) await p.stop("SIGTERM");
    if (startedKafka) await runTask("kafka:stop", [], { echo: "    kafka | " });
    if (secure) await releaseSecureBroker();
  }
}

if (import.meta.main) await runMain(main);
