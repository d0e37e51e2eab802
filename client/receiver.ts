/**
 * The receiver: consumes classification responses, scores them against the
 * send ledger, records them as CSV and counts them. The command line is
 * client/receive.ts; the harness, the benchmarks and the tests call
 * {@linkcode receiveResponses} directly.
 */
import type { Batch, Consumer, EachBatchPayload, KafkaMessage } from "kafkajs";
import { consumeBatches } from "../shared/kafka/batch_consumer.ts";
import type { OffsetCommitter } from "../shared/kafka/offset_committer.ts";
import { decodeResponse, type Response } from "../shared/protocol/schema.ts";
import { LedgerTail } from "./ledger.ts";
import { ReceiveTally, type TallySummary } from "./receive_tally.ts";
import { type ResultAnswer, resultsCsv, resultsHeaderCsv } from "./results_csv.ts";

export interface ReceiveOptions {
  topic: string;
  count?: number;
  timeoutS?: number;
  ledger?: string;
  outFile?: string;
  signal?: AbortSignal;
  /** Count only ids of this client:send run ("<runId>-<n>"). */
  runId?: string;
  /**
   * Keep every answered id in the summary's `ids` (memory grows with them).
   * Default: only with a `count`, which bounds them; otherwise duplicates
   * are spotted among the last RECENT_IDS (100,000) ids.
   */
  keepIds?: boolean;
  /** Called once the consumer has joined its group and has partitions. */
  onReady?(): void;
  onResult?(
    r: Response,
    latencyMs: number,
    trueLabel: number | undefined,
    duplicate: boolean,
  ): void;
}

/** What the receiver saw: the tally, and how the run ended. */
export interface ReceiveSummary extends TallySummary {
  seconds: number;
  /** Stopped because `timeoutS` passed without a new answer. */
  timedOut: boolean;
}

/** When a run ends: `count` answered, `timeoutS` idle, or `signal` aborted. */
interface RunEnd {
  /** Settles with true when the idle timeout ended the run. */
  finished: Promise<boolean>;
  /** A new id was answered; `received` distinct ids so far. */
  answered(received: number): void;
  dispose(): void;
}

function runEnd(o: ReceiveOptions): RunEnd {
  let finish!: (timedOut: boolean) => void;
  const finished = new Promise<boolean>((r) => (finish = r));
  let lastNew = performance.now();
  const idle = o.timeoutS === undefined ? undefined : setInterval(() => {
    if ((performance.now() - lastNew) / 1000 >= o.timeoutS!) finish(true);
  }, 200);
  const onAbort = () => finish(false);
  o.signal?.addEventListener("abort", onAbort);
  if (o.signal?.aborted || (o.count !== undefined && o.count <= 0)) finish(false);
  return {
    finished,
    answered(received) {
      lastNew = performance.now();
      if (o.count !== undefined && received >= o.count) finish(false);
    },
    dispose() {
      clearInterval(idle);
      o.signal?.removeEventListener("abort", onAbort);
    },
  };
}

/** What every batch of one run shares. */
interface Run {
  o: ReceiveOptions;
  ledger: LedgerTail;
  tally: ReceiveTally;
  end: RunEnd;
  /** The results file; a stream writer writes every byte, in order. */
  out?: WritableStreamDefaultWriter<Uint8Array>;
}

const encoder = new TextEncoder();

/**
 * Consumes responses with `consumer` (already connected, not yet
 * subscribed) until `count` distinct ids are answered, `timeoutS` seconds
 * pass without a new one, or `signal` aborts; then stops the consumer
 * (the caller disconnects it). Duplicates (at-least-once delivery) are
 * counted, not double-scored.
 */
export async function receiveResponses(
  consumer: Consumer,
  o: ReceiveOptions,
  fromBeginning = false,
): Promise<ReceiveSummary> {
  const started = performance.now();
  const ledger = new LedgerTail(o.ledger);
  await ledger.refresh();
  const out = o.outFile ? await openResults(o.outFile) : undefined;
  const run: Run = {
    o,
    ledger,
    tally: new ReceiveTally({ keepIds: o.keepIds ?? o.count !== undefined }),
    end: runEnd(o),
    out,
  };
  const removeJoin = consumer.on(consumer.events.GROUP_JOIN, () => o.onReady?.());
  try {
    await consumer.subscribe({ topic: o.topic, fromBeginning });
    const running = await consumeBatches(consumer, {
      topic: o.topic,
      partitionsConsumedConcurrently: 16,
      eachBatch: (payload, committer) => handleBatch(payload, committer, run),
      onCommitRefused: (e) => console.error(`offset commit refused: ${e}`),
      onReconnect: (e) => console.error(`consumer stopped (${e.message}); reconnecting`),
    });
    const timedOut = await run.end.finished;
    await running.stop();
    await consumer.stop();
    return {
      ...run.tally.summary(),
      seconds: (performance.now() - started) / 1000,
      timedOut,
    };
  } finally {
    removeJoin();
    run.end.dispose();
    await out?.close();
  }
}

async function openResults(path: string): Promise<WritableStreamDefaultWriter<Uint8Array>> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const out = file.writable.getWriter();
  await out.write(encoder.encode(resultsHeaderCsv()));
  return out;
}

async function handleBatch(
  { batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload,
  committer: OffsetCommitter,
  run: Run,
): Promise<void> {
  const answers: ResultAnswer[] = [];
  let last: string | undefined;
  for (const m of batch.messages) {
    if (!isRunning() || isStale()) break;
    last = m.offset;
    const answer = await handleMessage(m, batch, run);
    if (answer) answers.push(answer);
    resolveOffset(m.offset);
  }
  if (run.out && answers.length) await run.out.write(encoder.encode(resultsCsv(answers)));
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

/** Counts one message; the answer to record, unless it is a duplicate or not ours. */
async function handleMessage(
  m: KafkaMessage,
  batch: Batch,
  run: Run,
): Promise<ResultAnswer | undefined> {
  const receivedAt = Date.now();
  const d = decodeResponse(m.value);
  if (!d.ok) {
    run.tally.undecodable();
    console.error(
      `undecodable response at ${batch.topic}/${batch.partition}@${m.offset}: ${d.error.message}`,
    );
    return undefined;
  }
  const r = d.value;
  if (run.o.runId !== undefined && !r.id.startsWith(`${run.o.runId}-`)) return undefined;
  if (run.ledger.label(r.id) === undefined) await run.ledger.refresh();
  const trueLabel = run.ledger.label(r.id);
  const { duplicate, latencyMs } = run.tally.record(r, receivedAt, trueLabel);
  run.o.onResult?.(r, latencyMs, trueLabel, duplicate);
  if (duplicate) return undefined;
  run.end.answered(run.tally.received);
  return { response: r, trueLabel, latencyMs };
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

/** A line of formatSummary(): "<fact>:  <value>", for scripts that record a child receiver's summary. */
export const SUMMARY_LINE =
  /^(answered|predictions|errors|duplicates|models|throughput|accuracy|latency):\s+(.*)$/;

/** The exit summary, one fact per line; predictions and error replies apart. */
export function formatSummary(s: ReceiveSummary, expected?: number): string {
  const of = expected === undefined ? "" : ` of ${expected}`;
  const acc = s.labelled
    ? `${(s.accuracy * 100).toFixed(2)}% (${s.correct}/${s.labelled} labelled predictions)`
    : "n/a (no labels known: run client:send with its ledger)";
  const l = s.latencyMs;
  const stopped = s.timedOut ? ", stopped by --timeout-s" : "";
  const tput = Number.isNaN(s.throughput)
    ? "n/a (no predictions)"
    : `${s.throughput.toFixed(0)} answers/s (first request sent to last answer received)`;
  return [
    `answered:    ${s.received}${of} distinct ids (${s.messages} messages in ${
      s.seconds.toFixed(1)
    } s${stopped})`,
    `predictions: ${s.predictions}`,
    `errors:      ${s.errors} error replies${
      s.undecodable ? `, ${s.undecodable} undecodable` : ""
    }`,
    `duplicates:  ${s.duplicates}`,
    `models:      ${
      Object.entries(s.models).map(([m, n]) => `${m} ${n}`).join(", ") || "none"
    } (predictions per model version)`,
    `throughput:  ${tput}`,
    `accuracy:    ${acc}`,
    `latency:     p50 ${l.p50.toFixed(1)} ms, p95 ${l.p95.toFixed(1)} ms, p99 ${
      l.p99.toFixed(1)
    } ms (end to end, sent_at to received, predictions only)`,
  ].join("\n");
}
