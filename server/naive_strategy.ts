import type { OffsetCommit } from "../shared/kafka/offset_committer.ts";
import { serveGuarded } from "./poison_guard.ts";
import { type ClassifyItem, serveMessages } from "./serve_messages.ts";
import { publication, type ServeStrategy, type StrategyDeps } from "./serve_strategy.ts";

/**
 * The original's design, kept as the benchmark's baseline (--max-batch 1):
 * each message gets its own predict, its own send and its own synchronous
 * commit, in order, before the next one is read.
 */
export function naiveStrategy(
  deps: StrategyDeps,
  commitNow: (offsets: OffsetCommit[]) => Promise<void>,
): ServeStrategy {
  let predicts = 0;
  let images = 0;
  const classify = (batch: ClassifyItem[]) => {
    predicts++;
    images += batch.length;
    return deps.predict(batch);
  };
  return {
    async serve(batch) {
      for (const m of batch.messages) {
        if (!batch.isRunning() || batch.isStale()) break;
        const one = { ...batch, messages: [m] };
        const done = await serveGuarded(one, async () => {
          const served = await serveMessages([m], {
            topic: batch.topic,
            partition: batch.partition,
            worker: deps.worker,
            replyTopicPrefix: deps.replyTopicPrefix,
            existingReplyTopics: deps.existingReplyTopics,
            classify,
          });
          await deps.send([publication(batch, [m], served)]);
          return served;
        }, deps);
        if (!done) break; // the partition moved: its next owner serves the message again
        await commitNow([publication(batch, [m], done.served).commit]);
        deps.onServed(batch.partition, 1, done.served);
        if (!batch.isStale()) batch.resolveOffset(m.offset);
      }
    },
    meanBatch: () => (predicts ? images / predicts : 0),
  };
}
