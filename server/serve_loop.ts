import type { Consumer } from "kafkajs";
import { type BatchConsumer, consumeBatches } from "../shared/kafka/batch_consumer.ts";
import type { EventLog } from "../shared/cli/event_log.ts";
import type { ServeStrategy } from "./serve_strategy.ts";
import type { WorkerEvents } from "./worker_events.ts";
import { countCommitted } from "./observability.ts";
import { partitionLag, type WorkerMetrics } from "./worker_metrics.ts";

/** What {@linkcode serveLoop} serves and how. */
export interface ServeLoopOptions {
  /** The request topic, subscribed already. */
  topic: string;
  /** Its partition count: every partition of a fetch is served at once. */
  partitions: number;
  strategy: ServeStrategy;
  log: EventLog<WorkerEvents>;
  /** Where each partition's lag and committed offset are reported. */
  metrics: WorkerMetrics;
}

/**
 * Runs the worker's consumer: each partition batch of a fetch goes to the
 * strategy, concurrently, so that their images can share a predict. The
 * consumer lifecycle (manual offsets, keep-alive, stop order) is
 * consumeBatches()'s.
 */
export function serveLoop(consumer: Consumer, o: ServeLoopOptions): Promise<BatchConsumer> {
  return consumeBatches(consumer, {
    topic: o.topic,
    partitionsConsumedConcurrently: Math.max(1, o.partitions),
    async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }, committer) {
      if (!isRunning() || isStale() || batch.messages.length === 0) return;
      // The strategy resolves offsets by hand, and not for a batch gone stale
      // in a rebalance: kafkajs would otherwise move the new assignment's
      // fetch position past requests nobody served.
      await o.strategy.serve({
        topic: batch.topic,
        partition: batch.partition,
        messages: batch.messages,
        isRunning,
        isStale,
        resolveOffset,
      }, committer);
      // A batch cut short (stopping, or moved in a rebalance) says nothing of the lag.
      if (isRunning() && !isStale()) {
        // The batch's high watermark is the partition's end when it was
        // fetched: lag is 0 once the last batch of a backlog is served.
        const next = String(BigInt(batch.messages[batch.messages.length - 1].offset) + 1n);
        o.metrics.setLag(batch.partition, partitionLag(batch.highWatermark, next));
      }
      await heartbeat();
    },
    onCommitRefused: (e) => o.log("commit_refused", { error: String(e) }),
    onReconnect: (e) => o.log("consumer_reconnect", { error: String(e) }),
    onCommitted: (offsets) => countCommitted(o.metrics, offsets),
  });
}
