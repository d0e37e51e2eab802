import { MicroBatcher } from "./micro_batcher.ts";
import { coalescingPublisher } from "./publisher.ts";
import { serveGuarded } from "./poison_guard.ts";
import { serveMessages } from "./serve_messages.ts";
import { publication, type ServeStrategy, type StrategyDeps } from "./serve_strategy.ts";

/** Limits of a micro-batch: most images per predict, longest wait to fill one. */
export interface MicroBatchLimits {
  maxBatch: number;
  maxWaitMs: number;
}

/**
 * The worker's normal mode: the partition batches of a fetch share
 * predicts of up to `maxBatch` images, and one send and one offset note
 * serve all of them (see coalescingPublisher). Offsets are committed in the
 * background by the committer, once responses are acknowledged.
 */
export function microBatchStrategy(deps: StrategyDeps, limits: MicroBatchLimits): ServeStrategy {
  const batcher = new MicroBatcher(limits.maxBatch, limits.maxWaitMs, deps.predict);
  const publish = coalescingPublisher(deps.send);
  // Batches of one fetch arrive together and nothing more comes until the
  // next fetch, so once each has queued its images the predict runs at once
  // rather than after maxWaitMs (which stays the upper bound).
  let yetToSubmit = 0;
  return {
    async serve(batch, committer) {
      yetToSubmit++;
      let counted = true;
      const submitted = () => {
        if (!counted) return;
        counted = false;
        if (--yetToSubmit === 0) batcher.flush();
      };
      try {
        const done = await serveGuarded(batch, async () => {
          const served = await serveMessages(batch.messages, {
            topic: batch.topic,
            partition: batch.partition,
            worker: deps.worker,
            replyTopicPrefix: deps.replyTopicPrefix,
            existingReplyTopics: deps.existingReplyTopics,
            classify: (items) => {
              const results = batcher.submit(items);
              submitted();
              return results;
            },
          });
          submitted(); // a batch of malformed requests only submits nothing
          await publish(publication(batch, batch.messages, served), committer);
          return served;
        }, deps);
        if (!done) return; // the partition moved: its next owner serves the batch again
        // The fallback published by itself, outside the coalescer: note its offset here.
        if (done.fallback) committer.note(publication(batch, batch.messages, done.served).commit);
        deps.onServed(batch.partition, batch.messages.length, done.served);
        if (!batch.isStale()) batch.resolveOffset(batch.messages[batch.messages.length - 1].offset);
      } finally {
        submitted();
      }
    },
    meanBatch: () => (batcher.batches ? batcher.items / batcher.batches : 0),
  };
}
