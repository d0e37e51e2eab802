/**
 * The model-update case: requests stream through two workers while model B
 * is published, then rolled back to A, then corrupt announcements arrive.
 * `deno task chaos` runs it at 1,000 requests/s; tests/model_swap_test.ts
 * runs it smaller.
 */
import type { Consumer, Kafka } from "kafkajs";
import { receiveWhenJoined } from "../client/receive.ts";
import { sendRequests } from "../client/send.ts";
import type { ImageSet } from "../shared/data/idx.ts";
import { idempotentProducer, type Sender } from "../shared/kafka/producer.ts";
import { currentKey } from "../shared/model/catalog.ts";
import type { Announcement } from "../shared/model/announcement.ts";
import { useBackend } from "../shared/model/backend.ts";
import { asBuffer } from "../shared/protocol/bytes.ts";
import { isErrorReply } from "../shared/protocol/schema.ts";
import { announce, announceFolder, readCatalog, rollback } from "../models/registry.ts";
import type { CaseResult } from "./chaos_cases.ts";
import { parseEvent, type TaskEvent } from "./deno_task.ts";
import { corruptAnnouncements } from "./model_pair.ts";
import { createTopics, deleteTopics, type Service, serviceKafka } from "./service.ts";
import {
  analyseSwaps,
  type Span,
  type SwapAnswer,
  type SwapEvent,
  type SwapFindings,
} from "./swap_analysis.ts";
import { waitUntil } from "./wait_until.ts";
import { startWorkers, type WorkerProcess } from "./worker_process.ts";

/** Which corrupt announcements the case sends after the rollback. */
export type Corruption = "badHash" | "truncated" | "wrongShape";

export interface ModelSwapOptions {
  service: Service;
  /** Model folders: A is served first, B is published mid-stream. */
  models: { a: string; b: string };
  set: ImageSet;
  count: number;
  rate: number;
  corrupt: Corruption[];
}

export interface ModelSwapResult extends CaseResult, SwapFindings {
  versions: { a: string; b: string };
  /** model_refused events per worker. */
  refused: number[];
}

const NAME = "fashion-cnn";
const STEP_MS = 60_000;

/** The JSON events named `event` a worker has logged so far. */
function events(w: WorkerProcess, event: string): TaskEvent[] {
  return w.lines.map((l) => parseEvent(l)).filter((e): e is TaskEvent => e?.event === event);
}

/** Waits until every worker has logged `n` events named `event` that `match` accepts. */
async function allLogged(
  workers: WorkerProcess[],
  event: string,
  n: number,
  match: (e: TaskEvent) => boolean = () => true,
): Promise<void> {
  await waitUntil(
    () => workers.every((w) => events(w, event).filter(match).length >= n),
    `${workers.length} workers to log ${n} ${event} event(s)`,
    STEP_MS,
  );
}

async function sendCorrupt(producer: Sender, topic: string, values: Uint8Array[]): Promise<void> {
  const messages = values.map((v) => ({ key: currentKey(NAME), value: asBuffer(v) }));
  await producer.send({ topic, acks: -1, messages });
}

/** What the phases of the case need. */
interface PhaseContext {
  acked(): number;
  count: number;
  kafka: Kafka;
  topic: string;
  producer: Sender;
  workers: WorkerProcess[];
  a: Announcement;
  b: Announcement;
  corrupt: Corruption[];
}

/**
 * At a quarter of the stream publishes B and waits for both workers to
 * swap, past half rolls back to A, past 80% announces the corrupt models.
 * Returns the steady span (before B), the swap spans (from an announcement
 * on the topic to a second after the last worker swapped) and notes.
 */
async function phases(c: PhaseContext): Promise<{ steady: Span; swaps: Span[]; notes: string[] }> {
  const at = (share: number) =>
    waitUntil(() => c.acked() >= c.count * share, `${share * c.count} acks`, STEP_MS);
  const notes: string[] = [];
  const swaps: Span[] = [];
  const swapTo = async (version: string, act: () => Promise<unknown>, what: string) => {
    await act();
    const from = Date.now();
    await allLogged(c.workers, "model_swapped", 1, (e) => e.to === version);
    swaps.push({ from, to: Date.now() + 1000 });
    notes.push(
      `${what} after ${c.acked()} acks: both workers swapped ${Date.now() - from} ms later`,
    );
  };
  await at(0.05);
  const steady = { from: Date.now(), to: NaN };
  await at(0.25);
  steady.to = Date.now();
  await swapTo(c.b.version, async () => {
    await announce(c.kafka, c.topic, c.b, await readCatalog(c.kafka, c.topic, NAME));
  }, "B published");
  await at(0.55);
  await swapTo(c.a.version, () => rollback(c.kafka, c.topic, NAME), "rolled back to A");
  if (c.corrupt.length) {
    await at(0.8);
    const bad = await corruptAnnouncements(c.b);
    await sendCorrupt(c.producer, c.topic, c.corrupt.map((k) => bad[k]));
    await allLogged(c.workers, "model_refused", c.corrupt.length);
    notes.push(
      `${c.corrupt.join(", ")} announced after ${c.acked()} acks: refused by both workers`,
    );
  }
  return { steady, swaps, notes };
}

/** Every worker's model_swapped events. */
function swapEvents(workers: WorkerProcess[]): SwapEvent[] {
  return workers.flatMap((w) =>
    events(w, "model_swapped").map((e) => ({
      worker: String(w.ready.worker),
      from: String(e.from),
      to: String(e.to),
      switchedAt: Number(e.switchedAt),
      swappedAt: Number(e.swappedAt),
    }))
  );
}

/**
 * Starts the receiver of run `runId` and resolves once it joined its group;
 * `done` settles with its summary. Each first prediction goes onto `answers`.
 */
function receiveAnswers(
  consumer: Consumer,
  o: ModelSwapOptions,
  runId: string,
  answers: SwapAnswer[],
) {
  return receiveWhenJoined(consumer, {
    topic: o.service.config.topics.responses,
    count: o.count,
    timeoutS: 60,
    runId,
    onResult(r, latencyMs, _label, duplicate) {
      if (duplicate || isErrorReply(r)) return;
      answers.push({
        model: r.model,
        worker: r.worker,
        sentAt: r.sent_at,
        completedAt: r.completed_at,
        latencyMs,
      });
    },
  }, true);
}

/**
 * Streams `o.count` requests at `o.rate`/s through two workers serving A
 * (announced before they start) while phases() publishes B, rolls back and
 * announces `o.corrupt`; returns the counts and what analyseSwaps() found.
 */
export async function modelSwaps(o: ModelSwapOptions): Promise<ModelSwapResult> {
  await useBackend("wasm");
  const topic = o.service.config.modelTopic;
  const kafka = await serviceKafka(o.service, "swap-case");
  const a = await announceFolder(o.models.a, NAME, null);
  const b = await announceFolder(o.models.b, NAME, null);
  await createTopics(o.service);
  await announce(kafka, topic, a, await readCatalog(kafka, topic, NAME));
  const workers = await startWorkers(o.service, 2, { model: o.models.a });
  const producer = idempotentProducer(kafka);
  await producer.connect();
  const consumer = kafka.consumer({
    groupId: `swap-receiver-${crypto.randomUUID()}`,
    maxWaitTimeInMs: 100,
    sessionTimeout: 10_000,
  });
  await consumer.connect();
  const answers: SwapAnswer[] = [];
  const runId = `m${crypto.randomUUID().slice(0, 6)}`;
  try {
    const receiving = (await receiveAnswers(consumer, o, runId, answers)).done;
    const started = performance.now();
    let acked = 0;
    const sending = sendRequests(producer, o.service.config.topics.requests, {
      set: o.set,
      count: o.count,
      rate: o.rate,
      order: "random",
      seed: 7,
      withLabels: true,
      runId,
      onProgress: (_, n) => (acked = n),
    });
    const p = await phases({ ...o, acked: () => acked, kafka, topic, producer, workers, a, b });
    const sent = await sending;
    const got = await receiving;
    const lost = [...Array(sent.acked).keys()].filter((i) => !got.ids.has(`${runId}-${i}`)).length;
    const versions = { a: a.version, b: b.version };
    return {
      name: `publish B, roll back to A, ${o.corrupt.length} corrupt announcement(s), 2 workers`,
      sent: sent.acked,
      answered: got.received,
      lost,
      duplicated: got.duplicates,
      errorReplies: got.errors,
      versions,
      refused: workers.map((w) => events(w, "model_refused").length),
      seconds: (performance.now() - started) / 1000,
      notes: p.notes,
      ...analyseSwaps(answers, swapEvents(workers), [a.version, b.version], p.steady, p.swaps),
    };
  } finally {
    await Promise.all([consumer.disconnect(), producer.disconnect()]);
    await Promise.all(workers.map((w) => w.stop()));
    await deleteTopics(o.service);
  }
}
