/**
 * Fault cases run against the real broker: each streams labelled requests
 * through real worker processes while something is broken on purpose, then
 * counts what was sent, answered, lost and duplicated. `deno task chaos`
 * runs them all at full size; the CI tests run the cheaper ones smaller.
 */
import type { Consumer } from "kafkajs";
import { receiveResponses, type ReceiveSummary, receiveWhenJoined } from "../client/receive.ts";
import { sendRequests } from "../client/send.ts";
import { runTask } from "./deno_task.ts";
import type { ImageSet } from "../shared/data/idx.ts";
import { asBuffer } from "../shared/protocol/bytes.ts";
import { idempotentProducer } from "../shared/kafka/producer.ts";
import { decodeResponse, isErrorReply } from "../shared/protocol/schema.ts";
import { drainTopic } from "./drain_topic.ts";
import { createTopics, type Service, serviceKafka } from "./service.ts";
import { waitUntil } from "./wait_until.ts";
import { startWorker, type WorkerProcess } from "./worker_process.ts";
import type { BadRequest } from "./bad_requests.ts";

export interface CaseResult {
  name: string;
  sent: number;
  /** Distinct requests answered by anything: a prediction or an error reply. */
  answered: number;
  /** Error replies among them: every request of a case is good, so any is a failure. */
  errorReplies: number;
  lost: number;
  duplicated: number;
  seconds: number;
  notes: string[];
}

/** What every fault case is given. */
export interface CaseOptions {
  /** The case's own topics and group (uniqueService()). */
  service: Service;
  /** The model folder the workers serve. */
  model: string;
  set: ImageSet;
  /** Requests to stream. */
  count: number;
  /** Requests per second. */
  rate: number;
}

/** A broker of kafka:start's own on `port`, keeping its files in `dir` (under .kafka/). */
export interface LocalBroker {
  port: number;
  dir: string;
}

/** How long a stream may go on while it waits for the sender to reach a point. */
const SEND_PROGRESS_MS = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function worker(o: CaseOptions): Promise<WorkerProcess> {
  return startWorker(o.service, { model: o.model });
}

/** Sends `o.count` labelled requests of run `runId` at `o.rate`, reporting acknowledgements. */
function sendLabelled(
  producer: ReturnType<typeof idempotentProducer>,
  o: { service: Service; set: ImageSet; count: number; rate: number },
  runId: string,
  seed: number,
  onAcked: (acked: number) => void = () => {},
) {
  return sendRequests(producer, o.service.config.topics.requests, {
    set: o.set,
    count: o.count,
    rate: o.rate,
    order: "random",
    seed,
    withLabels: true,
    runId,
    onProgress: (_, acked) => onAcked(acked),
  });
}

/** Waits until the sender has had `target` requests acknowledged. */
function sentAtLeast(acked: () => number, target: number): Promise<void> {
  return waitUntil(
    () => acked() >= target,
    `${target} requests to be acknowledged`,
    SEND_PROGRESS_MS,
  );
}

async function receiver(s: Service, group: string): Promise<Consumer> {
  const kafka = await serviceKafka(s, "chaos-receiver");
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100, sessionTimeout: 10_000 });
  await consumer.connect();
  return consumer;
}

/** Sent, answered, error replies, lost and duplicated, from the receivers' summaries. */
function tally(
  name: string,
  sent: number,
  runId: string,
  parts: ReceiveSummary[],
  seconds: number,
  notes: string[],
): CaseResult {
  const answered = new Set<string>();
  let duplicated = 0;
  let errorReplies = 0;
  for (const p of parts) {
    duplicated += p.duplicates;
    errorReplies += p.errors;
    for (const id of p.ids) {
      if (answered.has(id)) duplicated++;
      answered.add(id);
    }
  }
  let lost = 0;
  for (let i = 0; i < sent; i++) if (!answered.has(`${runId}-${i}`)) lost++;
  return { name, sent, answered: answered.size, errorReplies, lost, duplicated, seconds, notes };
}

/**
 * Streams `o.count` requests at `o.rate`/s while `fault` runs, and receives
 * every answer (or gives up after `timeoutS` seconds without a new one).
 */
async function stream(
  name: string,
  o: CaseOptions,
  fault: (progress: () => number) => Promise<string[]>,
  timeoutS = 90,
): Promise<CaseResult> {
  const { service, count } = o;
  const runId = `c${crypto.randomUUID().slice(0, 6)}`;
  const producer = idempotentProducer(await serviceKafka(service, "chaos-sender"));
  await producer.connect();
  const consumer = await receiver(service, `chaos-receiver-${runId}`);
  // The case's topics are new: reading from the start misses nothing, even
  // if this receiver crashes (a broker dies) before its first commit.
  const receiving = (await receiveWhenJoined(consumer, {
    topic: service.config.topics.responses,
    count,
    timeoutS,
    runId,
  }, true)).done;
  const started = performance.now();
  let acked = 0;
  const sending = sendLabelled(producer, o, runId, 3, (a) => (acked = a));
  const notes = await fault(() => acked);
  const sent = await sending;
  const got = await receiving;
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
  return tally(name, sent.acked, runId, [got], (performance.now() - started) / 1000, notes);
}

/** SIGKILLs the serving worker `kills` times mid-stream, starting a replacement each time. */
export async function killWorkers(o: CaseOptions & { kills: number }): Promise<CaseResult> {
  await createTopics(o.service);
  let current = await worker(o);
  try {
    return await stream(`SIGKILL the worker ${o.kills}x mid-stream`, o, async (acked) => {
      const notes: string[] = [];
      for (let k = 0; k < o.kills; k++) {
        await sentAtLeast(acked, Math.round(((k + 1) * o.count) / (o.kills + 2)));
        await current.stop("SIGKILL");
        notes.push(`killed a worker after ${acked()} requests were sent`);
        current = await worker(o);
      }
      return notes;
    });
  } finally {
    await current.stop();
  }
}

/** Restarts the receiver mid-stream: the new one resumes from the group's committed offsets. */
export async function restartReceiver(o: CaseOptions): Promise<CaseResult> {
  const { service, count } = o;
  await createTopics(service);
  const w = await worker(o);
  const runId = `r${crypto.randomUUID().slice(0, 6)}`;
  const group = `chaos-receiver-${runId}`;
  const topic = service.config.topics.responses;
  const producer = idempotentProducer(await serviceKafka(service, "chaos-sender"));
  await producer.connect();
  try {
    const started = performance.now();
    const first = await receiver(service, group);
    const stop = new AbortController();
    // Without a count a receiver keeps no ids unless asked, and tally() needs them.
    const firstRun = (await receiveWhenJoined(first, {
      topic,
      runId,
      signal: stop.signal,
      keepIds: true,
    }, true))
      .done;
    let acked = 0;
    const sending = sendLabelled(producer, o, runId, 4, (a) => (acked = a));
    await sentAtLeast(() => acked, count / 3);
    stop.abort();
    const part1 = await firstRun;
    await first.disconnect();
    const notes = [`receiver stopped after ${part1.received} answers; restarted in the same group`];
    const second = await receiver(service, group);
    // Runs until answers stop coming: a count could be met early by re-deliveries.
    const part2 = await receiveResponses(
      second,
      { topic, runId, timeoutS: 8, keepIds: true },
      true,
    );
    await second.disconnect();
    const sent = await sending;
    notes.push(`the new receiver got ${part2.received} answers, ${part2.duplicates} seen twice`);
    const seconds = (performance.now() - started) / 1000;
    return tally(
      "restart the receiver mid-stream",
      sent.acked,
      runId,
      [part1, part2],
      seconds,
      notes,
    );
  } finally {
    await producer.disconnect();
    await w.stop();
  }
}

/**
 * Stops a broker of kafka:start's (gracefully) mid-stream and starts it
 * again: `o.broker` names one on its own port and folder, else the default
 * one on 9092 is restarted.
 */
export async function restartBroker(
  o: CaseOptions & { broker?: LocalBroker },
): Promise<CaseResult> {
  const dir = o.broker ? ["--dir", o.broker.dir] : [];
  const port = o.broker ? ["--port", String(o.broker.port)] : [];
  await createTopics(o.service);
  const w = await worker(o);
  try {
    return await stream("stop and restart the broker mid-stream", o, async (acked) => {
      await sentAtLeast(acked, o.count / 3);
      const at = acked();
      const stopped = await runTask("kafka:stop", dir);
      // A broker kafka:start did not start cannot be restarted: say so, never pass without it.
      if (!stopped.some((l) => l.startsWith("stopped broker"))) {
        throw new Error(
          `kafka:stop ${
            dir.join(" ")
          } stopped no broker: the restart case needs one that kafka:start started`,
        );
      }
      await sleep(2000);
      await runTask("kafka:start", [...port, ...dir]);
      return [`broker stopped after ${at} requests were sent, down for about 2 s plus its restart`];
    }, 120);
  } finally {
    await w.stop();
  }
}

/** On a 3-broker cluster (RF 3, min.insync.replicas 2), SIGKILLs one broker mid-stream. */
export async function killBroker(o: CaseOptions): Promise<CaseResult> {
  await createTopics(o.service);
  const w = await worker(o);
  try {
    return await stream("3 brokers: SIGKILL one mid-stream", o, async (acked) => {
      await sentAtLeast(acked, o.count / 3);
      const at = acked();
      await runTask("kafka:stop", ["--broker", "2"]);
      return [`SIGKILLed broker 2 after ${at} requests were sent; brokers 1 and 3 carried on`];
    }, 120);
  } finally {
    await w.stop();
  }
}

/** What the bad-input suite saw. */
export interface BadInputResult {
  kinds: number;
  /** Good requests per stream. */
  good: number;
  /** Good requests answered with a prediction, over both mixed streams. */
  goodAnswered: number;
  /** Good requests sent in the mixed streams (2 x good). */
  goodSentMixed: number;
  /** Error replies to good requests, over all four streams: must be 0. */
  goodErrorReplies: number;
  /** Dead letters by id-less index: the error code each bad request got. */
  deadLetters: { kind: string; expected: string; got?: string; message?: string }[];
  /** Error replies for bad requests whose id was readable, with the code each should have. */
  errorReplies: { id: string; code: string; expected: string }[];
  expectedReplies: number;
  workers: Set<string>;
  workerExited: boolean;
  /** Good answers per second of each stream, in the order run: clean, mixed, clean, mixed. */
  goodPerSecondRuns: { mixed: boolean; perSecond: number }[];
  /** Means of the clean and of the mixed streams. */
  goodPerSecondClean: number;
  goodPerSecondMixed: number;
}

/** What the bad-input suite is given: `good` good requests and the `bad` ones to mix in. */
export interface BadInputOptions {
  service: Service;
  model: string;
  set: ImageSet;
  good: number;
  bad: BadRequest[];
}

/** How long the suite waits for the dead letters and the error replies. */
const DRAIN_MS = 30_000;

/** Streams the good requests (mixing in the bad ones when `mix`); receives the good answers. */
async function goodStream(
  o: BadInputOptions,
  producer: ReturnType<typeof idempotentProducer>,
  mix: boolean,
): Promise<ReceiveSummary> {
  const runId = `${mix ? "mixed" : "clean"}${crypto.randomUUID().slice(0, 5)}`;
  const { requests, responses } = o.service.config.topics;
  const consumer = await receiver(o.service, `bad-input-${runId}`);
  const receiving = (await receiveWhenJoined(consumer, {
    topic: responses,
    runId,
    count: o.good,
    timeoutS: 60,
  }, true)).done;
  const sending = sendLabelled(producer, { ...o, count: o.good, rate: Infinity }, runId, 5);
  for (const b of mix ? o.bad : []) {
    await producer.send({
      topic: requests,
      acks: -1,
      messages: [{
        key: badKey(b),
        value: b.value === null ? null : asBuffer(b.value),
        headers: { "bad-kind": b.kind },
      }],
    });
  }
  await sending;
  const got = await receiving;
  await consumer.disconnect();
  return got;
}

/** The key a bad request is sent with: the id a worker may answer when the value has none. */
function badKey(b: BadRequest): string {
  return `bad-key-${b.kind.replace(/\W+/g, "-")}`;
}

/** Every dead letter, by the `bad-kind` header it was sent with. */
async function deadLetters(o: BadInputOptions, kafka: Awaited<ReturnType<typeof serviceKafka>>) {
  const letters = new Map<string, { code: string; message: string }>();
  await drainTopic(kafka, {
    topic: o.service.config.topics.dlq,
    what: `${o.bad.length} dead letters, one per kind of bad request`,
    timeoutMs: DRAIN_MS,
    onMessage: (message) => {
      const h = message.headers ?? {};
      letters.set(String(h["bad-kind"]), {
        code: String(h["dlq-error-code"]),
        message: String(h["dlq-error-message"]),
      });
      return letters.size >= o.bad.length;
    },
  });
  return letters;
}

/** Error replies by id, and the workers that answered good requests. */
async function errorReplies(o: BadInputOptions, kafka: Awaited<ReturnType<typeof serviceKafka>>) {
  const replies = new Map<string, string>();
  const workers = new Set<string>();
  const expected = o.bad.filter((b) => b.id !== undefined).length;
  await drainTopic(kafka, {
    topic: o.service.config.topics.responses,
    what: `${expected} error replies to bad requests with a readable id`,
    timeoutMs: DRAIN_MS,
    onMessage: (message) => {
      const d = decodeResponse(message.value);
      // Only bad requests' ids: an error reply to a good one is counted by its stream.
      if (d.ok && isErrorReply(d.value) && d.value.id.startsWith("bad-")) {
        replies.set(d.value.id, d.value.error.code);
      }
      if (d.ok && !isErrorReply(d.value)) workers.add(d.value.worker);
      return replies.size >= expected;
    },
  });
  return { replies, workers, expected };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Sends every kind of malformed request in `o.bad` into live streams of
 * `o.good` good ones, alternating with the same good stream alone
 * (clean, mixed, clean, mixed, so a machine warming up or slowing down
 * favours neither), then reads back the DLQ and the responses.
 */
export async function badInput(o: BadInputOptions): Promise<BadInputResult> {
  await createTopics(o.service, 3);
  const w = await startWorker(o.service, { model: o.model });
  const kafka = await serviceKafka(o.service, "chaos-bad-input");
  const producer = idempotentProducer(kafka);
  await producer.connect();
  try {
    const runs: { mixed: boolean; got: ReceiveSummary }[] = [];
    for (const mixed of [false, true, false, true]) {
      runs.push({ mixed, got: await goodStream(o, producer, mixed) });
    }
    const letters = await deadLetters(o, kafka);
    const { replies, workers, expected } = await errorReplies(o, kafka);
    const exited = await Promise.race([w.status.then(() => true), sleep(100).then(() => false)]);
    // A reply carries the request's id or, when the value could not be read, its key.
    const expectedCode = new Map(o.bad.flatMap((b) => [[badKey(b), b.code], [b.id, b.code]]));
    const perSecond = (mixed: boolean) =>
      mean(runs.filter((r) => r.mixed === mixed).map((r) => r.got.throughput));
    return {
      kinds: o.bad.length,
      good: o.good,
      goodAnswered: runs.reduce((n, r) => n + (r.mixed ? r.got.predictions : 0), 0),
      goodSentMixed: 2 * o.good,
      goodErrorReplies: runs.reduce((n, r) => n + r.got.errors, 0),
      deadLetters: o.bad.map((b) => ({
        kind: b.kind,
        expected: b.code,
        got: letters.get(b.kind)?.code,
        message: letters.get(b.kind)?.message,
      })),
      errorReplies: [...replies].map(([id, code]) => ({
        id,
        code,
        expected: expectedCode.get(id) ?? "(no bad request has this id)",
      })),
      expectedReplies: expected,
      workers,
      workerExited: exited,
      goodPerSecondRuns: runs.map((r) => ({ mixed: r.mixed, perSecond: r.got.throughput })),
      goodPerSecondClean: perSecond(false),
      goodPerSecondMixed: perSecond(true),
    };
  } finally {
    await producer.disconnect();
    await w.stop();
  }
}
