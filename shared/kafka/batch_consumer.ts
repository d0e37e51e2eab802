import type { Consumer, EachBatchPayload } from "kafkajs";
import { runKeptAlive } from "./consumer.ts";
import { type OffsetCommit, OffsetCommitter } from "./offset_committer.ts";

/** How {@linkcode consumeBatches} runs a subscribed consumer. */
export interface BatchConsumerOptions {
  /** The subscribed topic, paused on stop. */
  topic: string;
  partitionsConsumedConcurrently: number;
  /** Handles one partition batch; note offsets on `committer` once their work is done. */
  eachBatch(payload: EachBatchPayload, committer: OffsetCommitter): Promise<void>;
  /** A commit the group refused (the partition moved): its work will be done again. */
  onCommitRefused(error: unknown): void;
  /** Offsets the group accepted (e.g. for a committed-offset metric). */
  onCommitted?(offsets: OffsetCommit[]): void;
  /** The consumer crashed in a way kafkajs will not restart; it is being reconnected. */
  onReconnect(error: Error): void;
}

/** A running batch consumer; `stop()` finishes what is in hand and commits it. */
export interface BatchConsumer {
  /** Finishes the batches in hand, commits their offsets and pauses the topic. */
  stop(): Promise<void>;
}

/**
 * Runs `consumer` (connected and subscribed) the way every consumer here
 * runs: kafkajs's auto-commit and auto-resolve off (offsets are committed in
 * the background by an {@linkcode OffsetCommitter}, only for work done, and a
 * batch cut short by a rebalance is never resolved whole), and kept alive
 * through crashes kafkajs will not restart. `stop()` is the shutdown order
 * that loses nothing: end the restarts, pause the topic, wait for the
 * batches in hand and commit them, all while still a group member; the
 * caller then disconnects.
 *
 * @example
 * ```ts
 * const running = await consumeBatches(consumer, { topic, eachBatch, ... });
 * await running.stop();
 * await consumer.disconnect();
 * ```
 */
export async function consumeBatches(
  consumer: Consumer,
  o: BatchConsumerOptions,
): Promise<BatchConsumer> {
  const committer = new OffsetCommitter(
    async (offsets) => {
      await consumer.commitOffsets(offsets);
      o.onCommitted?.(offsets);
    },
    o.onCommitRefused,
  );
  let stopping: Promise<void> | undefined;
  // Once stopping, a batch's isRunning() says false: work that waits (an
  // outage waited out, retries) gives the batch up uncommitted, for the
  // partition's next owner, instead of holding the shutdown until the broker
  // is back. Work already done is still committed by drain().
  const alive = await runKeptAlive(consumer, {
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: o.partitionsConsumedConcurrently,
    eachBatch: (payload) =>
      committer.track(() =>
        o.eachBatch({ ...payload, isRunning: () => !stopping && payload.isRunning() }, committer)
      ),
  }, o.onReconnect);
  return {
    stop() {
      stopping ??= (async () => {
        await alive.stop();
        if (alive.running()) consumer.pause([{ topic: o.topic }]);
        await committer.drain();
      })();
      return stopping;
    },
  };
}
