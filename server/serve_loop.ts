import type { Consumer } from "kafkajs";
import { type BatchConsumer, consumeBatches } from "../shared/kafka/batch_consumer.ts";
import type { EventLog } from "../shared/cli/event_log.ts";
import type { ServeStrategy } from "./serve_strategy.ts";
import type { WorkerEvents } from "./worker_events.ts";

/** What {@linkcode serveLoop} serves and how. */
export interface ServeLoopOptions {
  /** The request topic, subscribed already. */
  topic: string;
  /** Its partition count: every partition of a fetch is served at once. */
  partitions: number;
  strategy: ServeStrategy;
  log: EventLog<WorkerEvents>;
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
      await heartbeat();
    },
    onCommitRefused: (e) => o.log("commit_refused", { error: String(e) }),
    onReconnect: (e) => o.log("consumer_reconnect", { error: String(e) }),
  });
}
