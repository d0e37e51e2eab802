/**
 * Fault cases run against the real broker: each streams labelled requests
 * through real worker processes while something is broken on purpose, then
 * counts what was sent, answered, lost and duplicated. `deno task chaos`
 * runs them all at full size; the CI tests run the cheaper ones smaller.
 */
import type { Consumer } from "kafkajs";
import { receiveResponses, type ReceiveSummary, receiveWhenJoined } from "../client/receive.ts";
import { sendRequests } from "../client/send.ts";
import { type Config, parseConfig } from "../shared/config.ts";
import { runTask, startTaskUntil, type TaskProcess } from "./deno_task.ts";
import type { ImageSet } from "../shared/data/idx.ts";
import { asBuffer } from "../shared/protocol/bytes.ts";
import { createKafka } from "../shared/kafka/connection.ts";
import { idempotentProducer } from "../shared/kafka/producer.ts";
import { decodeResponse, isErrorReply } from "../shared/protocol/schema.ts";
import { ensureTopics } from "../server/topics.ts";

export interface CaseResult {
  name: string;
  sent: number;
  answered: number;
  lost: number;
  duplicated: number;
  seconds: number;
  notes: string[];
}

export interface Service {
  config: Config;
  env: Record<string, string>;
  model: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Topics and a worker group of one case only, on `brokers`. */
export function caseService(tag: string, model: string, brokers = "localhost:9092"): Service {
  const id = `${tag}-${crypto.randomUUID().slice(0, 6)}`;
  const env = {
    KAFKA_BROKERS: brokers,
    KAFKA_REQUEST_TOPIC: `chaos-${id}-requests`,
    KAFKA_RESPONSE_TOPIC: `chaos-${id}-responses`,
    KAFKA_DLQ_TOPIC: `chaos-${id}-dlq`,
    KAFKA_WORKER_GROUP: `chaos-${id}-workers`,
  };
  return { config: parseConfig(env), env, model };
}

/** Creates the case's topics (replication min(3, brokers)). */
export async function createTopics(s: Service, partitions = 6): Promise<void> {
  const admin = (await createKafka(s.config.kafka, "chaos-admin")).admin();
  await admin.connect();
  await ensureTopics(admin, s.config.topics, partitions);
  await admin.disconnect();
}

/** Starts a worker process for the case and waits until it serves. */
export async function worker(s: Service): Promise<TaskProcess> {
  return await startTaskUntil(
    "worker",
    ["--model", s.model, "--status-interval", "0"],
    /^worker .* serving /,
    { env: s.env },
  );
}

async function receiver(s: Service, group: string): Promise<Consumer> {
  const kafka = await createKafka(s.config.kafka, `chaos-receiver`);
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100, sessionTimeout: 10_000 });
  await consumer.connect();
  return consumer;
}

/** Sent, answered, lost and duplicated, from the receivers' summaries. */
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
  for (const p of parts) {
    duplicated += p.duplicates;
    for (const id of p.ids) {
      if (answered.has(id)) duplicated++;
      answered.add(id);
    }
  }
  let lost = 0;
  for (let i = 0; i < sent; i++) if (!answered.has(`${runId}-${i}`)) lost++;
  return { name, sent, answered: answered.size, lost, duplicated, seconds, notes };
}

/**
 * Streams `count` requests at `rate`/s while `fault` runs, and receives
 * every answer (or gives up after `timeoutS` seconds without a new one).
 */
async function stream(
  name: string,
  s: Service,
  set: ImageSet,
  count: number,
  rate: number,
  fault: (progress: () => number) => Promise<string[]>,
  timeoutS = 90,
): Promise<CaseResult> {
  const runId = `c${crypto.randomUUID().slice(0, 6)}`;
  const kafka = await createKafka(s.config.kafka, "chaos-sender");
  const producer = idempotentProducer(kafka);
  await producer.connect();
  const consumer = await receiver(s, `chaos-receiver-${runId}`);
  // The case's topics are new: reading from the start misses nothing, even
  // if this receiver crashes (a broker dies) before its first commit.
  const receiving = (await receiveWhenJoined(consumer, {
    topic: s.config.topics.responses,
    count,
    timeoutS,
    runId,
  }, true)).done;
  const started = performance.now();
  let acked = 0;
  const sending = sendRequests(producer, s.config.topics.requests, {
    set,
    count,
    rate,
    order: "random",
    seed: 3,
    withLabels: true,
    runId,
    onProgress: (_, a) => (acked = a),
  });
  const notes = await fault(() => acked);
  const sent = await sending;
  const got = await receiving;
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
  return tally(name, sent.acked, runId, [got], (performance.now() - started) / 1000, notes);
}

/** SIGKILLs the serving worker `kills` times mid-stream, starting a replacement each time. */
export async function killWorkers(
  s: Service,
  set: ImageSet,
  count: number,
  rate: number,
  kills: number,
): Promise<CaseResult> {
  await createTopics(s);
  let current = await worker(s);
  try {
    return await stream(
      `SIGKILL the worker ${kills}x mid-stream`,
      s,
      set,
      count,
      rate,
      async (acked) => {
        const notes: string[] = [];
        for (let k = 0; k < kills; k++) {
          const target = Math.round(((k + 1) * count) / (kills + 2));
          while (acked() < target) await sleep(50);
          await current.stop("SIGKILL");
          notes.push(`killed a worker after ${acked()} requests were sent`);
          current = await worker(s);
        }
        return notes;
      },
    );
  } finally {
    await current.stop();
  }
}

/** Restarts the receiver mid-stream: the new one resumes from the group's committed offsets. */
export async function restartReceiver(
  s: Service,
  set: ImageSet,
  count: number,
  rate: number,
): Promise<CaseResult> {
  await createTopics(s);
  const w = await worker(s);
  const runId = `r${crypto.randomUUID().slice(0, 6)}`;
  const group = `chaos-receiver-${runId}`;
  const kafka = await createKafka(s.config.kafka, "chaos-sender");
  const producer = idempotentProducer(kafka);
  await producer.connect();
  try {
    const started = performance.now();
    const first = await receiver(s, group);
    const stop = new AbortController();
    const firstRun = (await receiveWhenJoined(first, {
      topic: s.config.topics.responses,
      runId,
      signal: stop.signal,
    }, true)).done;
    let acked = 0;
    const sending = sendRequests(producer, s.config.topics.requests, {
      set,
      count,
      rate,
      order: "random",
      seed: 4,
      withLabels: true,
      runId,
      onProgress: (_, a) => (acked = a),
    });
    while (acked < count / 3) await sleep(50);
    stop.abort();
    const part1 = await firstRun;
    await first.disconnect();
    const notes = [`receiver stopped after ${part1.received} answers; restarted in the same group`];
    const second = await receiver(s, group);
    // Runs until answers stop coming: a count could be met early by re-deliveries.
    const part2 = await receiveResponses(second, {
      topic: s.config.topics.responses,
      runId,
      timeoutS: 8,
    }, true);
    await second.disconnect();
    const sent = await sending;
    notes.push(`the new receiver got ${part2.received} answers, ${part2.duplicates} seen twice`);
    return tally(
      "restart the receiver mid-stream",
      sent.acked,
      runId,
      [part1, part2],
      (performance.now() - started) / 1000,
      notes,
    );
  } finally {
    await producer.disconnect();
    await w.stop();
  }
}

/** Stops the local broker (gracefully) mid-stream and starts it again. */
export async function restartBroker(
  s: Service,
  set: ImageSet,
  count: number,
  rate: number,
): Promise<CaseResult> {
  await createTopics(s);
  const w = await worker(s);
  try {
    return await stream(
      "stop and restart the broker mid-stream",
      s,
      set,
      count,
      rate,
      async (acked) => {
        while (acked() < count / 3) await sleep(50);
        const at = acked();
        await runTask("kafka:stop");
        await sleep(2000);
        await runTask("kafka:start");
        return [
          `broker stopped after ${at} requests were sent, down for about 2 s plus its restart`,
        ];
      },
      120,
    );
  } finally {
    await w.stop();
  }
}

/** On a 3-broker cluster (RF 3, min.insync.replicas 2), SIGKILLs one broker mid-stream. */
export async function killBroker(
  s: Service,
  set: ImageSet,
  count: number,
  rate: number,
): Promise<CaseResult> {
  await createTopics(s);
  const w = await worker(s);
  try {
    return await stream("3 brokers: SIGKILL one mid-stream", s, set, count, rate, async (acked) => {
      while (acked() < count / 3) await sleep(50);
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
  good: number;
  goodAnswered: number;
  /** Dead letters by id-less index: the error code each bad request got. */
  deadLetters: { kind: string; expected: string; got?: string; message?: string }[];
  /** Error replies for bad requests whose id was readable. */
  errorReplies: { id: string; code: string }[];
  expectedReplies: number;
  workers: Set<string>;
  workerExited: boolean;
  goodPerSecondClean: number;
  goodPerSecondMixed: number;
}

/**
 * Sends every kind of malformed request in `bad` into a live stream of
 * `good` good ones (and, before that, the same good stream alone as a
 * baseline), then reads back the DLQ and the responses.
 */
export async function badInput(
  s: Service,
  set: ImageSet,
  good: number,
  bad: { kind: string; value: Uint8Array | null; code: string; id?: string }[],
): Promise<BadInputResult> {
  await createTopics(s, 3);
  const w = await worker(s);
  const kafka = await createKafka(s.config.kafka, "chaos-bad-input");
  const producer = idempotentProducer(kafka);
  await producer.connect();
  try {
    const timed = async (runId: string, mix: boolean) => {
      const consumer = await receiver(s, `bad-input-${runId}`);
      const receiving = (await receiveWhenJoined(consumer, {
        topic: s.config.topics.responses,
        runId,
        count: good,
        timeoutS: 60,
      }, true)).done;
      const sending = sendRequests(producer, s.config.topics.requests, {
        set,
        count: good,
        rate: Infinity,
        order: "random",
        seed: 5,
        withLabels: true,
        runId,
      });
      if (mix) {
        for (const b of bad) {
          await producer.send({
            topic: s.config.topics.requests,
            acks: -1,
            messages: [{
              key: `bad-key-${b.kind.replace(/\W+/g, "-")}`,
              value: b.value === null ? null : asBuffer(b.value),
              headers: { "bad-kind": b.kind },
            }],
          });
        }
      }
      await sending;
      const got = await receiving;
      await consumer.disconnect();
      return got;
    };
    const clean = await timed(`clean${crypto.randomUUID().slice(0, 5)}`, false);
    const mixed = await timed(`mixed${crypto.randomUUID().slice(0, 5)}`, true);

    // Every dead letter, matched to its kind by the header we sent.
    const dlq = kafka.consumer({ groupId: `dlq-${crypto.randomUUID()}`, maxWaitTimeInMs: 100 });
    await dlq.connect();
    await dlq.subscribe({ topic: s.config.topics.dlq, fromBeginning: true });
    const letters = new Map<string, { code: string; message: string }>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      dlq.run({
        eachMessage: ({ message }) => {
          const h = message.headers ?? {};
          letters.set(String(h["bad-kind"]), {
            code: String(h["dlq-error-code"]),
            message: String(h["dlq-error-message"]),
          });
          if (letters.size >= bad.length) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      });
    });
    await dlq.disconnect();

    // Error replies, read from the response topic.
    const replies = new Map<string, string>();
    const expected = bad.filter((b) => b.id !== undefined);
    const rc = kafka.consumer({ groupId: `replies-${crypto.randomUUID()}`, maxWaitTimeInMs: 100 });
    await rc.connect();
    await rc.subscribe({ topic: s.config.topics.responses, fromBeginning: true });
    const workers = new Set<string>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      rc.run({
        eachMessage: ({ message }) => {
          const d = decodeResponse(message.value);
          if (d.ok && isErrorReply(d.value)) replies.set(d.value.id, d.value.error.code);
          if (d.ok && !isErrorReply(d.value)) workers.add(d.value.worker);
          if (replies.size >= expected.length) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      });
    });
    await rc.disconnect();
    const exited = await Promise.race([w.status.then(() => true), sleep(100).then(() => false)]);
    return {
      kinds: bad.length,
      good,
      goodAnswered: mixed.received,
      deadLetters: bad.map((b) => ({
        kind: b.kind,
        expected: b.code,
        got: letters.get(b.kind)?.code,
        message: letters.get(b.kind)?.message,
      })),
      errorReplies: [...replies].map(([id, code]) => ({ id, code })),
      expectedReplies: expected.length,
      workers,
      workerExited: exited,
      goodPerSecondClean: clean.throughput,
      goodPerSecondMixed: mixed.throughput,
    };
  } finally {
    await producer.disconnect();
    await w.stop();
  }
}
