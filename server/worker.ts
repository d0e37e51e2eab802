/**
 * The classification worker: consumes requests in the consumer group, runs
 * the model on micro-batches and publishes one response per request.
 * Flags and wiring only; each concern has its module. Run `deno task worker --help`.
 */
import type { Consumer, Kafka } from "kafkajs";
import { createEventLog, type EventLog } from "../shared/cli/event_log.ts";
import { type FlagValues, parseCli } from "../shared/cli/flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { type Config, loadConfig } from "../shared/config.ts";
import { createKafka } from "../shared/kafka/connection.ts";
import { idempotentProducer } from "../shared/kafka/producer.ts";
import { useBackend } from "../shared/model/backend.ts";
import { DEFAULT_MODEL_NAME } from "../shared/model/catalog.ts";
import { type ModelFollower, startModelFollower } from "./model_follower.ts";
import { holdingModel } from "./model_slot.ts";
import { BadInputLog } from "./bad_input_log.ts";
import { DEFAULT_HTTP, type HttpAddress, parseHttpAddress } from "./endpoints.ts";
import { replyTopicChecker } from "./reply_topics.ts";
import { requireReadable } from "../shared/fs/path_access.ts";
import { logGroupEvents } from "./group_events.ts";
import { microBatchStrategy } from "./micro_batch_strategy.ts";
import { naiveStrategy } from "./naive_strategy.ts";
import {
  countCommitted,
  countOutcomes,
  type Observability,
  observedPredict,
  startObservability,
  trackConsumer,
} from "./observability.ts";
import { predictScored } from "./predictor.ts";
import { publicationSender } from "./publisher.ts";
import { RETRY_POLICY } from "./retry_policy.ts";
import type { ClassifyItem } from "./serve_messages.ts";
import { serveLoop } from "./serve_loop.ts";
import type { ServeStrategy, StrategyDeps } from "./serve_strategy.ts";
import { prepareTopics } from "./topics.ts";
import { type WorkerEvents, workerEventText } from "./worker_events.ts";
import { type ServeCounts, startStatusTimer } from "./worker_status.ts";

export const WORKER_CLI = {
  summary: `
Serve the model: consume requests, classify them in micro-batches, publish responses.
Run it in several terminals to share the partitions among workers.`,
  usage: "deno task worker [options]",
  flags: {
    model: {
      type: "string",
      arg: "DIR",
      help: "model folder served when the model topic has no valid announcement",
      default: "artifacts/model",
    },
    "model-name": {
      type: "string",
      arg: "NAME",
      help: "the announcements followed on the model topic (see docs/models.md)",
      default: DEFAULT_MODEL_NAME,
    },
    pin: {
      type: "boolean",
      help: "keep the model this worker starts with: follow no announcement",
    },
    "max-batch": {
      type: "int",
      help: "most images per predict (1: the original's naive mode, a predict, send, commit each)",
      default: 256,
      min: 1,
      max: 10_000,
    },
    "max-wait-ms": {
      type: "number",
      arg: "MS",
      help: "longest wait to fill a batch",
      default: 5,
      min: 0,
      max: 60_000,
    },
    partitions: {
      type: "int",
      help: "partitions for topics this worker creates",
      default: 6,
      min: 1,
      max: 10_000,
    },
    "status-interval": {
      type: "number",
      arg: "S",
      help: "seconds between status lines (0 for none)",
      default: 5,
      min: 0,
      max: 3600,
    },
    json: { type: "boolean", help: "events as JSON lines (the first 'ready' one when serving)" },
    "test-poison-id": {
      type: "string",
      arg: "ID",
      help: "TEST HOOK for fault tests: any predict whose batch holds this request id throws",
    },
    "fetch-wait-ms": {
      type: "int",
      arg: "MS",
      help: "longest a fetch waits at the broker for requests (kafkajs maxWaitTimeInMs)",
      default: 10,
      min: 1,
      max: 60_000,
    },
    http: {
      type: "string",
      arg: "HOST:PORT|off",
      help: "where /healthz, /readyz and /metrics listen (port 0: any free one, logged)",
      default: DEFAULT_HTTP,
    },
  },
  notes: `
Environment: KAFKA_BROKERS (default localhost:9092), KAFKA_WORKER_GROUP
(default read-ml-requests), KAFKA_MODEL_TOPIC (default model-updates), topic
names and TLS/SASL settings: see README.`,
} as const;

export interface WorkerOptions {
  modelDir: string;
  modelName: string;
  pin: boolean;
  maxBatch: number;
  maxWaitMs: number;
  /** Longest a fetch waits at the broker when no request is there. */
  fetchWaitMs: number;
  partitions: number;
  statusIntervalS: number;
  json: boolean;
  /** Test hook: predicts of batches holding this id throw. */
  testPoisonId?: string;
  /** Where the endpoints listen; null for none. */
  http: HttpAddress | null;
}

/** The options of parsed worker flags. */
export function workerOptions(flags: FlagValues<typeof WORKER_CLI>): WorkerOptions {
  return {
    modelDir: flags.model,
    modelName: flags["model-name"],
    pin: flags.pin,
    maxBatch: flags["max-batch"],
    maxWaitMs: flags["max-wait-ms"],
    fetchWaitMs: flags["fetch-wait-ms"],
    partitions: flags.partitions,
    statusIntervalS: flags["status-interval"],
    json: flags.json,
    testPoisonId: flags["test-poison-id"],
    http: parseHttpAddress(flags.http),
  };
}

/** A running worker; `stop()` is idempotent. */
export interface RunningWorker {
  id: string;
  stop(): Promise<void>;
  /** Settles when the worker has stopped. */
  stopped: Promise<void>;
}

/** Bad input is logged in full once per code per interval, and counted in a summary. */
const BAD_INPUT_SUMMARY_MS = 10_000;

/** The --test-poison-id hook: `predict`, but throwing for any batch that holds `id`. */
function poisonHook<T>(
  id: string | undefined,
  predict: (items: ClassifyItem[]) => T,
): (items: ClassifyItem[]) => T {
  if (id === undefined) return predict;
  return (items) => {
    if (items.some((i) => i.id === id)) {
      throw new Error(`test hook --test-poison-id: predict refuses a batch holding ${id}`);
    }
    return predict(items);
  };
}

/**
 * The worker's model, from the model topic or --model, kept up to date
 * (model_follower.ts); its events go to the log, its version and refusals
 * to the metrics.
 */
function followModels(
  o: WorkerOptions,
  w: {
    kafka: Kafka;
    worker: string;
    topic: string;
    log: EventLog<WorkerEvents>;
    obs: Observability;
  },
): Promise<ModelFollower> {
  return startModelFollower({
    kafka: w.kafka,
    topic: w.topic,
    name: o.modelName,
    worker: w.worker,
    fallbackDir: o.modelDir,
    pin: o.pin,
    // WorkerEvents includes ModelEvents: a model event is a worker event.
    log: (event, fields) => w.log(event, fields as WorkerEvents[typeof event]),
    hooks: {
      loaded: (version) => w.obs.modelLoaded(version),
      refused: (code) => w.obs.metrics.countModelRefused(code),
    },
  });
}

// The one place the mode is chosen: nothing else asks whether it is naive.
function chooseStrategy(
  o: WorkerOptions,
  deps: StrategyDeps,
  consumer: Consumer,
  obs: Observability,
): ServeStrategy {
  return o.maxBatch > 1 ? microBatchStrategy(deps, o) : naiveStrategy(deps, async (offsets) => {
    await consumer.commitOffsets(offsets);
    countCommitted(obs.metrics, offsets);
  });
}

/** The worker's event log: JSON lines with --json, else text lines with its settings. */
function workerLog(
  o: WorkerOptions,
  config: Config,
  id: string,
  partitionCount: number,
): EventLog<WorkerEvents> {
  return createEventLog<WorkerEvents>({
    json: o.json,
    text: workerEventText({
      worker: id,
      group: config.workerGroup,
      requests: config.topics.requests,
      responses: config.topics.responses,
      partitionCount,
      maxBatch: o.maxBatch,
      maxWaitMs: o.maxWaitMs,
    }),
  });
}

function workerConsumer(kafka: Kafka, groupId: string, fetchWaitMs: number): Consumer {
  return kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 2_000,
    rebalanceTimeout: 30_000,
    // Not 100: a fetch that found nothing waited up to 100 ms at the broker,
    // and at 1,000 requests/s (bursts every few ms, each send of the client
    // carrying what fell due) that wait was most of the p99 (bench:e2e
    // --only latency, 100 ms against 10 ms, three pairs back to back: request
    // leg p99 52-79 ms against 15-24 ms, end to end 89-158 against 36-48).
    // kafkajs issues #1365 and #1397 report the same. Idle, a worker then
    // fetches 100 times a second.
    maxWaitTimeInMs: fetchWaitMs,
    maxBytesPerPartition: 512 * 1024,
  });
}

/**
 * Loads and warms the model (the newest valid announcement on the model
 * topic, else --model), ensures the topics, joins the group and serves
 * until stopped, swapping in each new model announced (see model_follower.ts). Offsets are committed only after the responses (and dead
 * letters) of a batch are acknowledged by the brokers, so a worker killed at
 * any point loses no request: another one serves it again.
 */
export async function startWorker(o: WorkerOptions, config: Config): Promise<RunningWorker> {
  // Listening before the model loads: /healthz answers and /readyz says what is awaited.
  const obs = startObservability(o.http);
  try {
    return await assembleWorker(o, config, obs);
  } catch (e) {
    // A start that fails (no model, no broker) leaves no listener behind.
    await obs.close().catch(() => {});
    throw e;
  }
}

/** The worker's parts, wired and started, around its already listening endpoints. */
async function assembleWorker(
  o: WorkerOptions,
  config: Config,
  obs: Observability,
): Promise<RunningWorker> {
  await useBackend("wasm");
  const id = `${Deno.hostname()}-${Deno.pid}`;
  const kafka = await createKafka(config.kafka, `worker-${id}`);
  const admin = kafka.admin(); // for the reply topics' existence
  const { created, requestPartitions } = await prepareTopics(kafka, config.topics, o.partitions);
  const log = workerLog(o, config, id, requestPartitions);
  if (obs.address) log("http", { http: obs.address });
  if (created.length) log("topics_created", { topics: created });
  // Checked and warmed up by its smoke batch before the consumer joins.
  const models = await followModels(o, { kafka, worker: id, topic: config.modelTopic, log, obs });

  const producer = idempotentProducer(kafka, (e) => log("producer_reset", { error: String(e) }));
  const consumer = workerConsumer(kafka, config.workerGroup, o.fetchWaitMs);
  const who = {
    worker: id,
    model: models.slot.current().version,
    group: config.workerGroup,
    http: obs.address ?? null,
  };
  logGroupEvents(consumer, { ...who, topic: config.topics.requests }, requestPartitions, log);
  trackConsumer(consumer, config.topics.requests, obs);
  // Producer first: the "ready" event of the first group join promises a worker that can reply.
  await producer.connect();
  await admin.connect();
  obs.state.producerConnected = true;
  await consumer.connect();
  await consumer.subscribe({ topic: config.topics.requests, fromBeginning: true });

  const counts: ServeCounts = { processed: 0, errors: 0 };
  const badInput = badInputSummaries(log);
  // One model per predict, read from the slot: a swap lands between two batches.
  const observed = observedPredict(
    (images) => models.slot.use((m) => predictScored(m, images)),
    obs.metrics,
  );
  const strategy = chooseStrategy(
    o,
    {
      worker: id,
      replyTopicPrefix: config.replyTopicPrefix,
      existingReplyTopics: replyTopicChecker(() => admin.listTopics()),
      predict: poisonHook(o.testPoisonId, (items) => observed(items.map((i) => i.image))),
      send: publicationSender(producer, config.topics),
      policy: RETRY_POLICY,
      ...failureEvents(log),
      onServed: servedCounter(counts, badInput.log, log, obs),
    },
    consumer,
    obs,
  );
  const loop = await serveLoop(consumer, {
    topic: config.topics.requests,
    partitions: requestPartitions,
    strategy: { ...strategy, serve: holdingModel(models.slot, strategy.serve) },
    log,
    metrics: obs.metrics,
  });
  const stopStatus = startStatusTimer(
    counts,
    strategy.meanBatch,
    o.statusIntervalS,
    (f) => log("status", f),
  );

  const timers = [stopStatus, () => badInput.stop()];
  const parts = { obs, timers, loop, consumer, producer, admin, models };
  return stoppable(id, () => shutDown(parts).then(() => log("stopped", { ...counts })));
}

/**
 * The stop order that loses nothing: finish the batches in hand (responses
 * acknowledged) and commit them while still a group member, then leave so
 * partitions move on, then disconnect the producer the last batches needed.
 */
async function shutDown(p: {
  obs: Observability;
  timers: (() => void)[];
  loop: { stop(): Promise<void> };
  consumer: Consumer;
  producer: { disconnect(): Promise<void> };
  admin: { disconnect(): Promise<void> };
  models: { stop(): Promise<void> };
}): Promise<void> {
  p.obs.state.stopping = true; // /readyz says 503 at once; /healthz answers to the end
  for (const stop of p.timers) stop();
  await p.loop.stop();
  await p.consumer.disconnect();
  await p.producer.disconnect();
  await p.admin.disconnect();
  await p.obs.close();
  await p.models.stop();
}

/** A RunningWorker whose idempotent stop() runs `shutdown` once. */
function stoppable(id: string, shutdown: () => Promise<void>): RunningWorker {
  let resolveStopped!: () => void;
  let rejectStopped!: (e: unknown) => void;
  const stopped = new Promise<void>((resolve, reject) => {
    resolveStopped = resolve;
    rejectStopped = reject;
  });
  let stopping: Promise<void> | undefined;
  // stop() itself never rejects (signal handlers call it unawaited); a failed
  // shutdown rejects `stopped`, which main() turns into one line and exit 1.
  const stop = () => (stopping ??= shutdown().then(resolveStopped, rejectStopped));
  return { id, stop, stopped };
}

/** Bad input logged in full once per code per interval, then summed up each interval. */
function badInputSummaries(log: EventLog<WorkerEvents>) {
  const badInput = new BadInputLog(BAD_INPUT_SUMMARY_MS, Date.now());
  const summaries = setInterval(() => {
    const summary = badInput.summary(Date.now());
    if (summary) log("bad_request_summary", summary);
  }, BAD_INPUT_SUMMARY_MS);
  return { log: badInput, stop: () => clearInterval(summaries) };
}

/** The events of batches that failed: retried, served one by one, or dropped. */
function failureEvents(log: EventLog<WorkerEvents>): Pick<
  StrategyDeps,
  "onRetry" | "onPoison" | "onDropped"
> {
  return {
    onRetry: (partition, r) => log("batch_retry", { partition, ...r, error: String(r.error) }),
    onPoison: (partition, messages, attempts, e) =>
      log("batch_poison", { partition, messages, attempts, error: String(e) }),
    onDropped: (partition, offset, e) =>
      log("request_dropped", { partition, offset, error: String(e) }),
  };
}

/** Counts what each served batch became, for the status line, the metrics and the log. */
function servedCounter(
  counts: ServeCounts,
  badInput: BadInputLog,
  log: EventLog<WorkerEvents>,
  obs: Observability,
): StrategyDeps["onServed"] {
  return (partition, count, served) => {
    counts.processed += count;
    counts.errors += served.errors.length;
    countOutcomes(obs.metrics, served.outcomes);
    for (const e of served.errors) {
      if (badInput.note(e.code)) {
        log("bad_request", { code: e.code, message: e.message, partition });
      }
    }
  };
}

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, WORKER_CLI);
  if (!flags) return;
  requireReadable("worker", "--model", flags.model);
  const worker = await startWorker(workerOptions(flags), loadConfig());
  const onSignal = () => void worker.stop();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await worker.stopped;
}

if (import.meta.main) await runMain(main);
