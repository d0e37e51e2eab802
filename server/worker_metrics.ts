/**
 * The worker's Prometheus metrics: one registry per process and the small
 * interface the serve loop calls. Names follow Prometheus conventions (base
 * units, counters end in `_total`, versions in an `_info` gauge); labels take
 * few values (outcome, error code, partition), never request ids.
 *
 * prom-client's collectDefaultMetrics() is not used: under Deno it reports
 * `process_resident_memory_bytes 0` and `process_open_fds 0` (it reads
 * /proc the way Node exposes it) and a Node version in `nodejs_version_info`,
 * so RSS and heap come from `Deno.memoryUsage()` here instead.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** What became of one request. */
export type Outcome = "prediction" | "error_reply" | "dead_letter";

/** The calls the worker makes as it serves; each is cheap (no I/O). */
export interface WorkerMetrics {
  /** One model predict of `size` images that took `predictSeconds`. */
  observeBatch(size: number, predictSeconds: number): void;
  /** One request answered or dead-lettered; `code` is the error code of a bad one. */
  countOutcome(outcome: Outcome, code?: string): void;
  /** Seconds from a request's `sent_at` to its response's `completed_at`. */
  observeEndToEnd(seconds: number): void;
  /** Requests of a partition not yet served by this worker. */
  setLag(partition: number, lag: number): void;
  /** The next offset this worker committed for a partition. */
  setCommitted(partition: number, offset: number): void;
  /** Drops the series of partitions no longer assigned, so sums over workers stay true. */
  keepPartitions(partitions: readonly number[]): void;
  /** The model served, as the `version` label of `fashion_model_info`. */
  setModelVersion(version: string): void;
  /** A model announcement refused with `code` (bad_hash, truncated, wrong_shape...). */
  countModelRefused(code: string): void;
  /** The exposition text of every metric. */
  text(): Promise<string>;
  /** The Content-Type of `text()`. */
  readonly contentType: string;
}

/** Where the process gauges read their values at each scrape. */
export interface ProcessSources {
  tensors(): number;
  memory(): { rss: number; heapUsed: number; heapTotal: number };
}

// Buckets span what was measured on this machine (a predict of 1 to 256
// images takes about 2 to 150 ms) with room on both sides.
const PREDICT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const END_TO_END_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Requests of a partition not yet served: the batch's high watermark (the
 * offset the next produced message will get) minus the next offset to
 * serve. 0 when caught up; never negative.
 */
export function partitionLag(highWatermark: string, nextOffset: string): number {
  const lag = BigInt(highWatermark) - BigInt(nextOffset);
  return lag > 0n ? Number(lag) : 0;
}

/** Creates the registry and its metrics; call once per process. */
export function createWorkerMetrics(sources: ProcessSources): WorkerMetrics {
  const registry = new Registry();
  const registers = [registry];
  // The exposition text lists metrics in the order they are created here.
  const serving = servingMetrics(registers);
  const partitions = partitionMetrics(registers);
  const model = modelMetrics(registers);
  processMetrics(registers, sources);
  return {
    ...servingMethods(serving),
    ...partitionMethods(partitions),
    ...modelMethods(model),
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

/** The registries a metric joins: always the one of its process. */
type Registers = Registry[];

/** Requests by outcome, and the time and size of each predict and each request. */
interface ServingMetrics {
  requests: Counter<"outcome" | "code">;
  batchSize: Histogram;
  predictSeconds: Histogram;
  endToEnd: Histogram;
}

function servingMetrics(registers: Registers): ServingMetrics {
  const requests = new Counter({
    name: "fashion_requests_total",
    help: "Requests handled, by outcome (prediction, error_reply, dead_letter) and error code",
    labelNames: ["outcome", "code"] as const,
    registers,
  });
  // Present from the start, so a scrape before the first request reads 0.
  requests.inc({ outcome: "prediction" }, 0);
  const batchSize = new Histogram({
    name: "fashion_predict_batch_size",
    help: "Images per model predict call (its _count is the number of batches)",
    buckets: BATCH_BUCKETS,
    registers,
  });
  const predictSeconds = new Histogram({
    name: "fashion_predict_seconds",
    help: "Seconds one model predict call took",
    buckets: PREDICT_BUCKETS,
    registers,
  });
  const endToEnd = new Histogram({
    name: "fashion_end_to_end_seconds",
    help: "Seconds from a request's sent_at to its response's completed_at",
    buckets: END_TO_END_BUCKETS,
    registers,
  });
  return { requests, batchSize, predictSeconds, endToEnd };
}

/** The Kafka side: per assigned partition, the lag and the committed offset. */
interface PartitionMetrics {
  lag: Gauge<"partition">;
  committed: Gauge<"partition">;
}

function partitionMetrics(registers: Registers): PartitionMetrics {
  const lag = new Gauge({
    name: "fashion_consumer_lag",
    help: "Requests in an assigned partition not yet served (high watermark minus next offset)",
    labelNames: ["partition"] as const,
    registers,
  });
  const committed = new Gauge({
    name: "fashion_committed_offset",
    help: "Next offset of an assigned request partition that this worker committed",
    labelNames: ["partition"] as const,
    registers,
  });
  return { lag, committed };
}

/** The model served, and the announcements refused. */
interface ModelMetrics {
  modelInfo: Gauge<"version">;
  modelRefused: Counter<"code">;
}

function modelMetrics(registers: Registers): ModelMetrics {
  const modelInfo = new Gauge({
    name: "fashion_model_info",
    help: "The model served (content hash of topology and weights); always 1",
    labelNames: ["version"] as const,
    registers,
  });
  const modelRefused = new Counter({
    name: "fashion_model_refused_total",
    help: "Model announcements refused (failed a check); the old model kept serving",
    labelNames: ["code"] as const,
    registers,
  });
  return { modelInfo, modelRefused };
}

/** Tensors and memory, read from `sources` at each scrape rather than kept up to date. */
function processMetrics(registers: Registers, sources: ProcessSources): void {
  const sampled: [string, string, () => number][] = [
    [
      "fashion_tfjs_tensors",
      "Tensors held by TensorFlow.js (must not grow while serving)",
      sources.tensors,
    ],
    ["process_resident_memory_bytes", "Resident memory size in bytes", () => sources.memory().rss],
    [
      "deno_heap_used_bytes",
      "V8 heap used by JavaScript objects, in bytes",
      () => sources.memory().heapUsed,
    ],
    ["deno_heap_total_bytes", "V8 heap reserved, in bytes", () => sources.memory().heapTotal],
  ];
  for (const [name, help, read] of sampled) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  }
}

function servingMethods(
  m: ServingMetrics,
): Pick<WorkerMetrics, "observeBatch" | "countOutcome" | "observeEndToEnd"> {
  return {
    observeBatch(size, seconds) {
      m.batchSize.observe(size);
      m.predictSeconds.observe(seconds);
    },
    countOutcome(outcome, code) {
      m.requests.inc(code === undefined ? { outcome } : { outcome, code });
    },
    observeEndToEnd(seconds) {
      // sent_at is the client's clock: a skewed one must not give a negative latency.
      m.endToEnd.observe(Math.max(0, seconds));
    },
  };
}

function partitionMethods(
  m: PartitionMetrics,
): Pick<WorkerMetrics, "setLag" | "setCommitted" | "keepPartitions"> {
  // The partitions with series, so those no longer assigned can be dropped.
  const seen = new Set<number>();
  return {
    setLag(partition, value) {
      seen.add(partition);
      m.lag.set({ partition: String(partition) }, value);
    },
    setCommitted(partition, offset) {
      seen.add(partition);
      m.committed.set({ partition: String(partition) }, offset);
    },
    keepPartitions(partitions) {
      for (const p of [...seen]) {
        if (partitions.includes(p)) continue;
        seen.delete(p);
        m.lag.remove({ partition: String(p) });
        m.committed.remove({ partition: String(p) });
      }
    },
  };
}

function modelMethods(
  m: ModelMetrics,
): Pick<WorkerMetrics, "setModelVersion" | "countModelRefused"> {
  return {
    setModelVersion(version) {
      // One series only: the old version's would otherwise stay at 1.
      m.modelInfo.reset();
      m.modelInfo.set({ version }, 1);
    },
    countModelRefused(code) {
      m.modelRefused.inc({ code });
    },
  };
}
