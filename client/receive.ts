/**
 * The command line of the receiver: `deno task client:receive --help`.
 * What it runs is client/receiver.ts.
 */
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { StatusLine } from "../shared/cli/status_line.ts";
import { loadConfig } from "../shared/config.ts";
import { createKafka } from "../shared/kafka/connection.ts";
import { pinGroupStart } from "../shared/kafka/consumer.ts";
import { isErrorReply, type Response } from "../shared/protocol/schema.ts";
import { RECENT_IDS } from "./received_ids.ts";
import { requirePathAccess } from "../shared/fs/path_access.ts";
import { formatSummary, receiveResponses } from "./receiver.ts";

// Until harness/, bench/ and tests/ import these from ./receiver.ts.
export {
  formatSummary,
  type ReceiveOptions,
  receiveResponses,
  type ReceiveSummary,
  receiveWhenJoined,
} from "./receiver.ts";

/** Below this many results a second, `--print auto` prints one line per result. */
const LINES_BELOW_PER_S = 20;

const RECEIVE_CLI = {
  summary: "Receive classification results from the response topic.",
  usage: "deno task client:receive [options]",
  flags: {
    count: { type: "int", min: 1, help: "stop after N distinct requests are answered" },
    "timeout-s": {
      type: "number",
      arg: "S",
      min: 0.1,
      help: "stop after S seconds with no new response (default: never)",
    },
    out: { type: "string", arg: "FILE", help: "record every result as CSV (under results/)" },
    ledger: {
      type: "string",
      arg: "FILE",
      default: "results/sent.csv",
      help: "id,label ledger of client:send, read if present",
    },
    group: {
      type: "string",
      arg: "ID",
      default: "fashion-receiver",
      help: "consumer group (offsets are committed: a restart resumes)",
    },
    "from-beginning": {
      type: "boolean",
      help: "a new group starts at the oldest response, not the newest",
    },
    "run-id": {
      type: "string",
      arg: "ID",
      help: "count only responses to requests of this client:send run",
    },
    print: {
      type: "string",
      choices: ["lines", "summary", "auto"],
      default: "auto",
      help: `one line per result, a live summary line, or lines below ${LINES_BELOW_PER_S}/s`,
    },
  },
  notes: `
Duplicates are spotted among the last ${RECENT_IDS.toLocaleString("en")} distinct ids (with --count,
among all of them), so a receiver left running keeps its memory bounded; latency
percentiles come from a histogram of 0.1 ms buckets up to 60 s.`,
} as const satisfies CliSpec;

/** One printed line per result. */
function resultLine(
  r: Response,
  latencyMs: number,
  trueLabel: number | undefined,
  duplicate: boolean,
): string {
  const dup = duplicate ? " (duplicate)" : "";
  if (isErrorReply(r)) return `${r.id}  error ${r.error.code}: ${r.error.message}${dup}`;
  const verdict = trueLabel === undefined
    ? ""
    : trueLabel === r.index
    ? " ✓"
    : ` ✗ (true ${trueLabel})`;
  return `${r.id}  ${r.label.padEnd(11)} p=${r.probability.toFixed(3)}  ${
    latencyMs.toFixed(0)
  } ms${verdict}${dup}`;
}

/** Results in the last second, counted in fixed memory (whole seconds). */
function perSecond(): () => number {
  let second = 0;
  let current = 0;
  let previous = 0;
  return () => {
    const now = Math.floor(performance.now() / 1000);
    if (now !== second) {
      previous = now === second + 1 ? current : 0;
      current = 0;
      second = now;
    }
    current++;
    return Math.max(current, previous);
  };
}

async function main(): Promise<number> {
  const flags = parseCli(Deno.args, RECEIVE_CLI);
  if (!flags) return 0;
  const { count, print } = flags;
  requirePathAccess({
    set: "client",
    read: { "--ledger": flags.ledger },
    write: { "--out": flags.out },
  });
  if (flags.out) {
    await Deno.mkdir(flags.out.replace(/\/[^/]*$/, "") || ".", { recursive: true }).catch(() => {});
  }
  const config = loadConfig();
  const topic = config.topics.responses;
  const kafka = await createKafka(config.kafka, "client-receive");
  if (!flags["from-beginning"]) await pinGroupStart(kafka, flags.group, topic);
  const consumer = kafka.consumer({ groupId: flags.group, maxWaitTimeInMs: 100 });
  await consumer.connect();
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const line = new StatusLine();
  const rate = perSecond();
  let seen = 0;
  console.error(
    `receiving from ${topic}${count ? ` until ${count} are answered` : ""} (Ctrl-C to stop)`,
  );
  try {
    const summary = await receiveResponses(consumer, {
      topic,
      count,
      timeoutS: flags["timeout-s"],
      ledger: flags.ledger,
      outFile: flags.out,
      signal: abort.signal,
      runId: flags["run-id"],
      onReady: () => console.error("receiver ready: joined its group"),
      onResult(r, latencyMs, trueLabel, duplicate) {
        const perS = rate();
        seen++;
        if (print === "lines" || (print === "auto" && perS < LINES_BELOW_PER_S)) {
          line.done(resultLine(r, latencyMs, trueLabel, duplicate));
        } else {
          line.update(`received ${seen} responses, ${perS}/s`);
        }
      },
    }, flags["from-beginning"]);
    line.done("");
    console.log(formatSummary(summary, count));
    if (flags.out) console.log(`results:     ${flags.out}`);
    return count !== undefined && summary.received < count ? 1 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await consumer.disconnect();
  }
}

if (import.meta.main) await runMain(main);
