/**
 * Wires health, readiness and metrics into a worker: the registry, the
 * readiness state, the HTTP endpoints, and the hooks the worker's consumer,
 * predict and serve loop report through. Kept apart from the worker so its
 * wiring stays a few calls.
 */
import * as tf from "@tensorflow/tfjs";
import type { Consumer } from "kafkajs";
import {
  endpointHandler,
  type HttpAddress,
  type ServedEndpoints,
  serveEndpoints,
} from "./endpoints.ts";
import { initialReadiness, readiness, type ReadinessState } from "./readiness.ts";
import type { OffsetCommit } from "../shared/kafka/offset_committer.ts";
import type { RequestOutcome } from "./serve_messages.ts";
import { createWorkerMetrics, type ProcessSources, type WorkerMetrics } from "./worker_metrics.ts";

/** A worker's metrics, readiness and (unless off) listening endpoints. */
export interface Observability {
  metrics: WorkerMetrics;
  state: ReadinessState;
  /** Records the model as loaded and warmed, and its version. */
  modelLoaded(version: string): void;
  /** The bound address ("127.0.0.1:41234"), or undefined with `--http off`. */
  address: string | undefined;
  /** Marks the worker not ready, then stops listening. Idempotent. */
  close(): Promise<void>;
}

/** This process's tensors and memory, read at each scrape. */
const PROCESS: ProcessSources = {
  tensors: () => tf.memory().numTensors,
  memory: () => Deno.memoryUsage(),
};

/** Creates the registry and readiness state and, when `http` is not null, listens. */
export function startObservability(
  http: HttpAddress | null,
  sources: ProcessSources = PROCESS,
): Observability {
  const metrics = createWorkerMetrics(sources);
  const state = initialReadiness();
  const abort = new AbortController();
  let served: ServedEndpoints | undefined;
  if (http) {
    served = serveEndpoints(
      http,
      endpointHandler({
        readiness: () => readiness(state),
        metrics: () => metrics.text(),
        metricsContentType: metrics.contentType,
      }),
      abort.signal,
    );
  }
  return {
    metrics,
    state,
    modelLoaded(version) {
      state.modelLoaded = true;
      metrics.setModelVersion(version);
    },
    address: served?.address,
    async close() {
      state.stopping = true;
      abort.abort();
      await served?.finished;
    },
  };
}

/**
 * Follows the consumer's group membership: joined with its partitions of
 * `topic` on a join (dropping the metric series of partitions that moved
 * away), not joined while rebalancing, crashed or stopped.
 */
export function trackConsumer(consumer: Consumer, topic: string, o: Observability): void {
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const mine = payload.memberAssignment[topic] ?? [];
    o.state.joined = true;
    o.state.partitions = [...mine];
    o.metrics.keepPartitions(mine);
  });
  const left = () => {
    o.state.joined = false;
  };
  consumer.on(consumer.events.REBALANCING, left);
  consumer.on(consumer.events.CRASH, left);
  consumer.on(consumer.events.STOP, left);
  consumer.on(consumer.events.DISCONNECT, left);
}

/** Wraps a predict function so each call is observed as one batch. */
export function observedPredict<T>(
  predict: (images: Uint8Array[]) => T,
  metrics: WorkerMetrics,
): (images: Uint8Array[]) => T {
  return (images) => {
    const start = performance.now();
    const result = predict(images);
    metrics.observeBatch(images.length, (performance.now() - start) / 1000);
    return result;
  };
}

/** Counts the outcomes of published requests and their end-to-end latency. */
export function countOutcomes(metrics: WorkerMetrics, outcomes: readonly RequestOutcome[]): void {
  for (const o of outcomes) {
    if (o.outcome === "prediction") {
      metrics.countOutcome("prediction");
      metrics.observeEndToEnd(o.endToEndSeconds);
    } else {
      metrics.countOutcome(o.outcome, o.code);
    }
  }
}

/** Records the offsets the group accepted as each partition's committed offset. */
export function countCommitted(metrics: WorkerMetrics, offsets: readonly OffsetCommit[]): void {
  for (const c of offsets) metrics.setCommitted(c.partition, Number(c.offset));
}
