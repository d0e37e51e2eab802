/**
 * The classification worker: consumes requests in the consumer group, runs
 * the model on micro-batches and publishes one response per request.
 * Run `deno task worker --help`.
 */
import type { Consumer, EachBatchPayload } from "kafkajs";
import { useBackend } from "../shared/model/backend.ts";
import { intFlag, numberFlag, parseFlags } from "../shared/cli/legacy_flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { type Config, loadConfig } from "../shared/config.ts";
import { createKafka } from "../shared/kafka/connection.ts";
import { idempotentProducer } from "../shared/kafka/producer.ts";
import { runKeptAlive } from "../shared/kafka/consumer.ts";
import { loadModel } from "../shared/model/model_io.ts";
import { MicroBatcher } from "./micro_batcher.ts";
import { OffsetCommitter } from "../shared/kafka/offset_committer.ts";
import { predictBatch } from "./predictor.ts";
import { type OutMessage, serveMessages } from "./serve_messages.ts";
import { ensureTopics, partitionCount } from "./topics.ts";
import * as tf from "@tensorflow/tfjs";

const USAGE = `
Serve the model: consume requests, classify them in micro-batches, publish responses.
Run it in several terminals to share the partitions among workers.

Usage: deno task worker [options]
  --model DIR           trained model folder (default artifacts/model)
  --max-batch N         most images per predict (default 256); 1 is the original's naive
                        mode: one predict, one send and one commit per message
  --max-wait-ms MS      longest wait to fill a batch (default 5)
  --partitions N        partitions for topics this worker creates (default 6)
  --status-interval S   seconds between status lines (default 5; 0 for none)
  --json                status and events as JSON lines
  -h, --help            this help

Environment: KAFKA_BROKERS (default localhost:9092), KAFKA_WORKER_GROUP
(default read-ml-requests), topic names and TLS/SASL settings: see README.
`;

/** What serving one partition batch leaves to publish and commit. */
interface Publication {
  responses: OutMessage[];
  /** Answers to requests with a reply_to, by topic. */
  replies: Map<string, OutMessage[]>;
  deadLetters: OutMessage[];
  commit: { topic: string; partition: number; offset: string };
}

export interface WorkerOptions {
  modelDir: string;
  maxBatch: number;
  maxWaitMs: number;
  partitions: number;
  statusIntervalS: number;
  json: boolean;
}

interface Stats {
  processed: number;
  errors: number;
  started: number;
  lastProcessed: number;
  lastAt: number;
}

function log(json: boolean, event: string, fields: Record<string, unknown>, text: string): void {
  console.error(json ? JSON.stringify({ event, at: new Date().toISOString(), ...fields }) : text);
}

/** A running worker; `stop()` is idempotent. */
export interface RunningWorker {
  id: string;
  stop(): Promise<void>;
  /** Settles when the worker has stopped. */
  stopped: Promise<void>;
}

/**
 * Loads the model, ensures the topics, joins the group and serves until
 * stopped. Offsets are committed only after the responses (and dead
 * letters) of a batch are acknowledged by the brokers, so a worker killed at
 * any point loses no request: another one serves it again.
 */
export async function startWorker(o: WorkerOptions, config: Config): Promise<RunningWorker> {
  await useBackend("wasm");
  const { model, version } = await loadModel(o.modelDir);
  predictBatch(model, [new Uint8Array(784)]); // warm-up: first predict compiles kernels
  const id = `${Deno.hostname()}-${Deno.pid}`;
  const kafka = await createKafka(config.kafka, `worker-${id}`);
  const admin = kafka.admin();
  await admin.connect();
  const created = await ensureTopics(admin, config.topics, o.partitions);
  const partitions = await partitionCount(admin, config.topics.requests);
  await admin.disconnect();
  if (created.length) {
    log(o.json, "topics_created", { topics: created }, `created topics: ${created.join(", ")}`);
  }

  const producer = idempotentProducer(
    kafka,
    (e) =>
      log(
        o.json,
        "producer_reset",
        { error: String(e) },
        `new producer after a broker failover: ${e}`,
      ),
  );
  const consumer: Consumer = kafka.consumer({
    groupId: config.workerGroup,
    sessionTimeout: 10_000,
    heartbeatInterval: 2_000,
    rebalanceTimeout: 30_000,
    maxWaitTimeInMs: 100,
    maxBytesPerPartition: 512 * 1024,
  });
  const batcher = new MicroBatcher(
    o.maxBatch,
    o.maxWaitMs,
    (images: Uint8Array[]) => predictBatch(model, images),
  );
  const stats: Stats = {
    processed: 0,
    errors: 0,
    started: Date.now(),
    lastProcessed: 0,
    lastAt: Date.now(),
  };

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const mine = payload.memberAssignment[config.topics.requests] ?? [];
    log(
      o.json,
      "group_join",
      { group: config.workerGroup, partitions: mine },
      `worker ${id} joined ${config.workerGroup}: partitions [${mine.join(",")}] of ${partitions}`,
    );
    if (mine.length === 0) {
      log(
        o.json,
        "idle",
        { partitions },
        `warning: this worker got no partition: the group has more workers than the ${partitions} partitions of ${config.topics.requests}; it stays idle until one leaves (create the topic with more --partitions to scale further)`,
      );
    }
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    log(
      o.json,
      "consumer_crash",
      { error: String(payload.error), restart: payload.restart },
      `consumer error: ${payload.error}${payload.restart ? " (restarting)" : ""}`,
    );
  });

  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: config.topics.requests, fromBeginning: true });

  /** Serves `messages` of one partition, publishes, then commits past them. */
  /**
   * Publishes responses and dead letters, waits for the brokers' acks, then
   * commits the consumed offsets: the order that makes delivery at-least-once.
   */
  async function publish(items: Publication[]): Promise<void[]> {
    const responses = items.flatMap((i) => i.responses);
    const deadLetters = items.flatMap((i) => i.deadLetters);
    const topicMessages = [{ topic: config.topics.responses, messages: responses }];
    for (const i of items) {
      for (const [topic, messages] of i.replies) topicMessages.push({ topic, messages });
    }
    if (deadLetters.length) topicMessages.push({ topic: config.topics.dlq, messages: deadLetters });
    await producer.sendBatch({ topicMessages, acks: -1 });
    if (o.maxBatch > 1) {
      for (const i of items) committer.note(i.commit);
    } else {
      await consumer.commitOffsets(items.map((i) => i.commit));
    }
    return items.map(() => undefined);
  }
  const committer = new OffsetCommitter(
    (offsets) => consumer.commitOffsets(offsets),
    (e) =>
      log(
        o.json,
        "commit_refused",
        { error: String(e) },
        `offset commit refused (the partition moved; its requests will be served again): ${e}`,
      ),
  );
  // The partitions of one fetch finish together (their images share a
  // predict); one send and one commit for all of them instead of one each
  // saves a dozen round trips per cycle. Runs are sequential, so commits of
  // a partition never go backwards.
  const publisher = new MicroBatcher(10_000, 1, publish);

  async function serveAndCommit(
    topic: string,
    partition: number,
    messages: EachBatchPayload["batch"]["messages"],
    onSubmitted: () => void,
  ) {
    const served = await serveMessages(messages, {
      topic,
      partition,
      model: version,
      worker: id,
      replyTopicPrefix: config.replyTopicPrefix,
      classify: (images) => {
        const results = batcher.submit(images);
        onSubmitted();
        return results;
      },
    });
    const last = messages[messages.length - 1].offset;
    const work: Publication = {
      responses: served.responses,
      replies: served.replies,
      deadLetters: served.deadLetters,
      commit: { topic, partition, offset: (BigInt(last) + 1n).toString() },
    };
    await (o.maxBatch > 1 ? publisher.submit([work]) : publish([work]));
    stats.processed += messages.length;
    stats.errors += served.errors.length;
    for (const e of served.errors) {
      log(
        o.json,
        "bad_request",
        { code: e.code, message: e.message, partition },
        `bad request in partition ${partition}: ${e.code}: ${e.message}`,
      );
    }
    return last;
  }

  // Batches of one fetch arrive together and nothing more comes until the
  // next fetch, so once each has queued its images the predict runs at once
  // rather than after --max-wait-ms (which stays the upper bound).
  let yetToSubmit = 0;
  const eachBatch = (payload: EachBatchPayload) =>
    committer.track(async () => {
      yetToSubmit++;
      let counted = true;
      const submitted = () => {
        if (!counted) return;
        counted = false;
        if (--yetToSubmit === 0) batcher.flush();
      };
      try {
        await serveBatch(payload, submitted);
      } finally {
        submitted();
      }
    });

  async function serveBatch(
    { batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload,
    submitted: () => void,
  ) {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    // Offsets are resolved by hand, and not for a batch gone stale in a
    // rebalance: kafkajs would otherwise move the new assignment's fetch
    // position past requests nobody served (see eachBatchAutoResolve below).
    if (o.maxBatch > 1) {
      const last = await serveAndCommit(batch.topic, batch.partition, batch.messages, submitted);
      if (!isStale()) resolveOffset(last);
    } else {
      // Naive mode, the original design: one predict, one send, one commit per message.
      for (const m of batch.messages) {
        if (!isRunning() || isStale()) break;
        const last = await serveAndCommit(batch.topic, batch.partition, [m], () => {});
        if (!isStale()) resolveOffset(last);
      }
    }
    await heartbeat();
  }

  const alive = await runKeptAlive(consumer, {
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: Math.max(1, partitions),
    eachBatch,
  }, (e) =>
    log(
      o.json,
      "consumer_reconnect",
      { error: String(e) },
      `consumer stopped (${e.message}); reconnecting`,
    ));
  log(
    o.json,
    "started",
    { worker: id, model: version, maxBatch: o.maxBatch, maxWaitMs: o.maxWaitMs },
    `worker ${id} serving ${config.topics.requests} -> ${config.topics.responses} with model ${version} (max batch ${o.maxBatch}, max wait ${o.maxWaitMs} ms)`,
  );

  const timer = o.statusIntervalS > 0
    ? setInterval(() => {
      const now = Date.now();
      const rate = ((stats.processed - stats.lastProcessed) * 1000) /
        Math.max(1, now - stats.lastAt);
      stats.lastProcessed = stats.processed;
      stats.lastAt = now;
      const meanBatch = batcher.batches ? batcher.items / batcher.batches : 0;
      const memory = Deno.memoryUsage();
      const rssMb = memory.rss / 2 ** 20;
      const heapMb = memory.heapUsed / 2 ** 20;
      log(
        o.json,
        "status",
        {
          processed: stats.processed,
          rate,
          meanBatch,
          errors: stats.errors,
          tensors: tf.memory().numTensors,
          rssMb,
          heapMb,
        },
        `status: processed ${stats.processed}, ${rate.toFixed(0)}/s, mean batch ${
          meanBatch.toFixed(1)
        }, errors ${stats.errors}, tensors ${tf.memory().numTensors}, rss ${
          rssMb.toFixed(0)
        } MB, js heap ${heapMb.toFixed(0)} MB`,
      );
    }, o.statusIntervalS * 1000)
    : undefined;

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  function stop(): Promise<void> {
    stopping ??= (async () => {
      clearInterval(timer);
      // Finish the batches in hand (responses acknowledged), commit their
      // offsets while still a group member, then leave so partitions move on.
      await alive.stop();
      if (alive.running()) consumer.pause([{ topic: config.topics.requests }]);
      await committer.drain();
      await consumer.disconnect();
      await producer.disconnect();
      log(
        o.json,
        "stopped",
        { processed: stats.processed, errors: stats.errors },
        `worker ${id} stopped after ${stats.processed} requests (${stats.errors} malformed)`,
      );
      model.dispose();
      resolveStopped();
    })();
    return stopping;
  }
  return { id, stop, stopped };
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    model: { type: "string" },
    "max-batch": { type: "string" },
    "max-wait-ms": { type: "string" },
    partitions: { type: "string" },
    "status-interval": { type: "string" },
    json: { type: "boolean" },
  }, USAGE);
  if (!flags) return;
  const options: WorkerOptions = {
    modelDir: flags.model ?? "artifacts/model",
    maxBatch: intFlag(flags["max-batch"], "max-batch", 256, 1, 10_000),
    maxWaitMs: numberFlag(flags["max-wait-ms"], "max-wait-ms", 5, 0, 60_000),
    partitions: intFlag(flags.partitions, "partitions", 6, 1, 10_000),
    statusIntervalS: numberFlag(flags["status-interval"], "status-interval", 5, 0, 3600),
    json: Boolean(flags.json),
  };
  const worker = await startWorker(options, loadConfig());
  const onSignal = () => void worker.stop();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await worker.stopped;
}

if (import.meta.main) await runMain(main);
