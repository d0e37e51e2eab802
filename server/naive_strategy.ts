import type { OffsetCommit } from "../shared/kafka/offset_committer.ts";
import { serveMessages } from "./serve_messages.ts";
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
  const classify = (batch: Uint8Array[]) => {
    predicts++;
    images += batch.length;
    return Promise.resolve(deps.predict(batch));
  };
  return {
    async serve(batch) {
      for (const m of batch.messages) {
        if (!batch.isRunning() || batch.isStale()) break;
        const served = await serveMessages([m], {
          topic: batch.topic,
          partition: batch.partition,
          model: deps.model,
          worker: deps.worker,
          replyTopicPrefix: deps.replyTopicPrefix,
          classify,
        });
        const work = publication(batch, [m], served);
        await deps.send([work]);
        await commitNow([work.commit]);
        deps.onServed(batch.partition, 1, served);
        if (!batch.isStale()) batch.resolveOffset(m.offset);
      }
    },
    meanBatch: () => (predicts ? images / predicts : 0),
  };
}
