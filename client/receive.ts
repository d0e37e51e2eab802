/**
 * Receives classification responses, prints them, scores them against the
 * send ledger and records them. Run `deno task client:receive --help`.
 */
import type { Consumer, EachBatchPayload } from "kafkajs";
import { stringify } from "csv-stringify/sync";
import { intFlag, numberFlag, parseFlags } from "../shared/cli/legacy_flags.ts";
import { runMain, UsageError } from "../shared/cli/run_main.ts";
import { loadConfig } from "../shared/config.ts";
import { createKafka } from "../shared/kafka/connection.ts";
import { pinGroupStart, runKeptAlive } from "../shared/kafka/consumer.ts";
import { OffsetCommitter } from "../shared/kafka/offset_committer.ts";
import { StatusLine } from "../shared/cli/status_line.ts";
import { decodeResponse, isErrorReply, type Response } from "../shared/protocol/schema.ts";
import { latencySummary } from "../shared/stats/percentile.ts";
import { parseLedger } from "./ledger.ts";

const USAGE = `
Receive classification results from the response topic.

Usage: deno task client:receive [options]
  --count N           stop after N distinct requests are answered
  --timeout-s S       stop after S seconds with no new response (default: never)
  --out FILE          record every result as CSV (under results/)
  --ledger FILE       id,label ledger written by client:send (default results/sent.csv if present)
  --group ID          consumer group (default fashion-receiver); offsets are committed, so a
                      restarted receiver resumes where it stopped
  --from-beginning    a new group starts at the oldest response, not the newest
  --run-id ID         count only responses to requests of this client:send run
  --print MODE        lines (one per result), summary (a live line), or auto (default:
                      lines below 20 results/s)
  -h, --help          this help
`;

export interface ReceiveOptions {
  topic: string;
  count?: number;
  timeoutS?: number;
  ledger?: string;
  outFile?: string;
  signal?: AbortSignal;
  /** Count only ids of this client:send run ("<runId>-<n>"). */
  runId?: string;
  /** Called once the consumer has joined its group and has partitions. */
  onReady?(): void;
  onResult?(
    r: Response,
    latencyMs: number,
    trueLabel: number | undefined,
    duplicate: boolean,
  ): void;
}

/** What the receiver saw. */
export interface ReceiveSummary {
  /** Distinct request ids answered. */
  received: number;
  /** Response messages, duplicates included. */
  messages: number;
  errors: number;
  duplicates: number;
  undecodable: number;
  labelled: number;
  correct: number;
  accuracy: number;
  latencyMs: { p50: number; p95: number; p99: number };
  seconds: number;
  /** Distinct answers per second from the first request's sent_at to the last answer. */
  throughput: number;
  timedOut: boolean;
  /** Answered ids, for callers that check completeness. */
  ids: Set<string>;
}

const CSV_COLUMNS = [
  "id",
  "index",
  "label",
  "probability",
  "true_label",
  "correct",
  "latency_ms",
  "worker",
  "model",
  "error_code",
  "error_message",
];

/**
 * Consumes responses with `consumer` (already connected, not yet
 * subscribed) until `count` distinct ids are answered, `timeoutS` seconds
 * pass without a new one, or `signal` aborts. Duplicates (at-least-once
 * delivery) are counted, not double-scored.
 */
export async function receiveResponses(
  consumer: Consumer,
  o: ReceiveOptions,
  fromBeginning = false,
): Promise<ReceiveSummary> {
  const labels = new Map<string, number>();
  let ledgerText = "";
  let ledgerRead = 0;
  let refreshing: Promise<void> | undefined;
  const decoder = new TextDecoder();
  // Single flight: concurrent partition batches would otherwise read the tail twice.
  function refreshLedger(): Promise<void> {
    refreshing ??= readLedgerTail().finally(() => (refreshing = undefined));
    return refreshing;
  }
  /**
   * Reads only what was appended since the last read: an answer whose id is
   * not in the ledger yet costs a seek, not a read of the whole file.
   */
  async function readLedgerTail() {
    if (!o.ledger) return;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(o.ledger, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    try {
      await file.seek(ledgerRead, Deno.SeekMode.Start);
      const tail = new Uint8Array(await new Response(file.readable).arrayBuffer());
      ledgerRead += tail.length;
      ledgerText += decoder.decode(tail, { stream: true });
      ledgerText = ledgerText.slice(parseLedger(ledgerText, labels));
    } catch (e) {
      try {
        file.close();
      } catch {
        // The stream already closed it.
      }
      throw e;
    }
  }
  await refreshLedger();
  const out = o.outFile
    ? await Deno.open(o.outFile, { write: true, create: true, truncate: true })
    : undefined;
  const encoder = new TextEncoder();
  if (out) await out.write(encoder.encode(stringify([CSV_COLUMNS])));

  const s = {
    received: 0,
    messages: 0,
    errors: 0,
    duplicates: 0,
    undecodable: 0,
    labelled: 0,
    correct: 0,
  };
  const ids = new Set<string>();
  const latencies: number[] = [];
  const started = performance.now();
  let firstSentAt = Infinity;
  let lastAnswerAt = 0;
  let lastNew = performance.now();
  let finish!: (timedOut: boolean) => void;
  const finished = new Promise<boolean>((r) => (finish = r));
  if (o.count !== undefined && o.count <= 0) finish(false);

  consumer.on(consumer.events.GROUP_JOIN, () => o.onReady?.());
  await consumer.subscribe({ topic: o.topic, fromBeginning });
  const committer = new OffsetCommitter(
    (offsets) => consumer.commitOffsets(offsets),
    (e) => console.error(`offset commit refused: ${e}`),
  );
  const alive = await runKeptAlive(consumer, {
    autoCommit: false,
    // A batch cut short by a rebalance must not be resolved whole: that would
    // move the fetch position past answers never read.
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 16,
    eachBatch: (payload) => committer.track(() => handleBatch(payload)),
  }, (e) => console.error(`consumer stopped (${e.message}); reconnecting`));

  async function handleBatch(
    { batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload,
  ) {
    const rows: unknown[][] = [];
    let last: string | undefined;
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) break;
      last = m.offset;
      const now = Date.now();
      s.messages++;
      const d = decodeResponse(m.value);
      if (!d.ok) {
        s.undecodable++;
        console.error(
          `undecodable response at ${batch.topic}/${batch.partition}@${m.offset}: ${d.error.message}`,
        );
        resolveOffset(m.offset);
        continue;
      }
      const r = d.value;
      if (o.runId !== undefined && !r.id.startsWith(`${o.runId}-`)) {
        resolveOffset(m.offset);
        continue;
      }
      const duplicate = ids.has(r.id);
      if (!labels.has(r.id)) await refreshLedger();
      const trueLabel = labels.get(r.id);
      const latency = isErrorReply(r) ? NaN : now - r.sent_at;
      if (duplicate) {
        s.duplicates++;
      } else {
        ids.add(r.id);
        s.received++;
        lastNew = performance.now();
        lastAnswerAt = now;
        if (!isErrorReply(r)) firstSentAt = Math.min(firstSentAt, r.sent_at);
        if (isErrorReply(r)) {
          s.errors++;
        } else {
          latencies.push(latency);
          if (trueLabel !== undefined) {
            s.labelled++;
            if (trueLabel === r.index) s.correct++;
          }
        }
        if (out) {
          rows.push(
            isErrorReply(r)
              ? [r.id, "", "", "", trueLabel ?? "", "", "", "", "", r.error.code, r.error.message]
              : [
                r.id,
                r.index,
                r.label,
                r.probability,
                trueLabel ?? "",
                trueLabel === undefined ? "" : String(trueLabel === r.index),
                latency,
                r.worker,
                r.model,
                "",
                "",
              ],
          );
        }
      }
      o.onResult?.(r, latency, trueLabel, duplicate);
      resolveOffset(m.offset);
      if (o.count !== undefined && s.received >= o.count) finish(false);
    }
    if (out && rows.length) await out.write(encoder.encode(stringify(rows)));
    // Recorded: commit soon, so a restarted receiver resumes right here. Only
    // up to the last message handled: a batch cut short by a rebalance must
    // leave the rest to be fetched again.
    if (last !== undefined) {
      committer.note({
        topic: batch.topic,
        partition: batch.partition,
        offset: (BigInt(last) + 1n).toString(),
      });
    }
    await heartbeat();
  }
  const idle = o.timeoutS === undefined ? undefined : setInterval(() => {
    if ((performance.now() - lastNew) / 1000 >= o.timeoutS!) finish(true);
  }, 200);
  o.signal?.addEventListener("abort", () => finish(false));
  const timedOut = await finished;
  clearInterval(idle);
  await alive.stop();
  if (alive.running()) consumer.pause([{ topic: o.topic }]);
  await committer.drain();
  await consumer.stop();
  await out?.close();
  return {
    ...s,
    accuracy: s.labelled ? s.correct / s.labelled : NaN,
    latencyMs: latencySummary(latencies),
    seconds: (performance.now() - started) / 1000,
    throughput: s.received / Math.max(0.001, (lastAnswerAt - firstSentAt) / 1000),
    timedOut,
    ids,
  };
}

/**
 * Starts {@linkcode receiveResponses} and resolves once the consumer has
 * joined its group, so that a sender started afterwards loses nothing to a
 * late join; `done` settles with the summary.
 */
export async function receiveWhenJoined(
  consumer: Consumer,
  o: Omit<ReceiveOptions, "onReady">,
  fromBeginning = false,
): Promise<{ done: Promise<ReceiveSummary> }> {
  let ready!: () => void;
  const joined = new Promise<void>((r) => (ready = r));
  const done = receiveResponses(consumer, { ...o, onReady: ready }, fromBeginning);
  await Promise.race([joined, done]);
  return { done };
}

/** The exit summary, one fact per line. */
export function formatSummary(s: ReceiveSummary, expected?: number): string {
  const of = expected === undefined ? "" : ` of ${expected}`;
  const acc = s.labelled
    ? `${(s.accuracy * 100).toFixed(2)}% (${s.correct}/${s.labelled} labelled)`
    : "n/a (no labels known: run client:send with its ledger)";
  const l = s.latencyMs;
  return [
    `received:   ${s.received}${of} answered (${s.messages} messages in ${s.seconds.toFixed(1)} s${
      s.timedOut ? ", stopped by --timeout-s" : ""
    })`,
    `errors:     ${s.errors} error replies${s.undecodable ? `, ${s.undecodable} undecodable` : ""}`,
    `duplicates: ${s.duplicates}`,
    `throughput: ${s.throughput.toFixed(0)} answers/s (first request sent to last answer received)`,
    `accuracy:   ${acc}`,
    `latency:    p50 ${l.p50.toFixed(1)} ms, p95 ${l.p95.toFixed(1)} ms, p99 ${
      l.p99.toFixed(1)
    } ms (end to end, sent_at to received)`,
  ].join("\n");
}

async function main(): Promise<number> {
  const flags = parseFlags(Deno.args, {
    count: { type: "string" },
    "timeout-s": { type: "string" },
    out: { type: "string" },
    ledger: { type: "string" },
    group: { type: "string" },
    "from-beginning": { type: "boolean" },
    "run-id": { type: "string" },
    print: { type: "string" },
  }, USAGE);
  if (!flags) return 0;
  const count = flags.count === undefined ? undefined : intFlag(flags.count, "count", 0, 1);
  const timeoutS = flags["timeout-s"] === undefined
    ? undefined
    : numberFlag(flags["timeout-s"], "timeout-s", 0, 0.1);
  const print = flags.print ?? "auto";
  if (!["lines", "summary", "auto"].includes(print)) {
    throw new UsageError(`--print expects lines, summary or auto, got '${print}'`);
  }
  if (flags.out) {
    await Deno.mkdir(flags.out.replace(/\/[^/]*$/, "") || ".", { recursive: true }).catch(() => {});
  }
  const ledger = flags.ledger ?? "results/sent.csv";
  const config = loadConfig();
  const kafka = await createKafka(config.kafka, "client-receive");
  const group = flags.group ?? "fashion-receiver";
  const fromBeginning = Boolean(flags["from-beginning"]);
  if (!fromBeginning) await pinGroupStart(kafka, group, config.topics.responses);
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
  await consumer.connect();
  const abort = new AbortController();
  Deno.addSignalListener("SIGINT", () => abort.abort());
  Deno.addSignalListener("SIGTERM", () => abort.abort());
  const line = new StatusLine();
  let window: number[] = [];
  let seen = 0;
  console.error(
    `receiving from ${config.topics.responses}${
      count ? ` until ${count} are answered` : ""
    } (Ctrl-C to stop)`,
  );
  try {
    const summary = await receiveResponses(consumer, {
      topic: config.topics.responses,
      count,
      timeoutS,
      ledger,
      outFile: flags.out,
      signal: abort.signal,
      runId: flags["run-id"],
      onReady: () => console.error("receiver ready: joined its group"),
      onResult(r, latency, trueLabel, duplicate) {
        const now = performance.now();
        window = window.filter((t) => now - t < 1000);
        window.push(now);
        seen++;
        const lines = print === "lines" || (print === "auto" && window.length < 20);
        if (lines) {
          const verdict = trueLabel === undefined || isErrorReply(r)
            ? ""
            : trueLabel === r.index
            ? " ✓"
            : ` ✗ (true ${trueLabel})`;
          line.done(
            isErrorReply(r)
              ? `${r.id}  error ${r.error.code}: ${r.error.message}${
                duplicate ? " (duplicate)" : ""
              }`
              : `${r.id}  ${r.label.padEnd(11)} p=${r.probability.toFixed(3)}  ${
                latency.toFixed(0)
              } ms${verdict}${duplicate ? " (duplicate)" : ""}`,
          );
        } else {
          line.update(`received ${seen} responses, ${window.length}/s`);
        }
      },
    }, fromBeginning);
    line.done("");
    console.log(formatSummary(summary, count));
    if (flags.out) console.log(`results:    ${flags.out}`);
    return count !== undefined && summary.received < count ? 1 : 0;
  } finally {
    await consumer.disconnect();
  }
}

if (import.meta.main) await runMain(main);
