import type { Served } from "./serve_messages.ts";
import type { Source } from "./dead_letter.ts";
import type { GuardDeps } from "./poison_guard.ts";
import type { CommitNotes, Publication } from "./publisher.ts";

/** A request message as the worker reads it (kafkajs's, minus what it does not use). */
export type RequestMessage = Omit<Source, "topic" | "partition">;

/** One partition's share of a fetch, with the kafkajs controls a strategy needs. */
export interface PartitionBatch {
  topic: string;
  partition: number;
  messages: RequestMessage[];
  isRunning(): boolean;
  /** True once a rebalance has taken the partition away: resolve nothing then. */
  isStale(): boolean;
  resolveOffset(offset: string): void;
}

/**
 * How the worker turns partition batches into predictions, replies and
 * commits: micro-batching, or the original's naive one-at-a-time design
 * kept for the benchmark. Chosen once at start.
 */
export interface ServeStrategy {
  /** Serves, publishes and commits (or notes on `committer`) one partition batch. */
  serve(batch: PartitionBatch, committer: CommitNotes): Promise<void>;
  /** Mean images per predict so far (0 before the first). */
  meanBatch(): number;
}

/**
 * What a strategy uses, wired by the worker: the model version and worker
 * id that replies carry, one predict (each image's class probabilities),
 * the sender, the retry policy and its events (see poison_guard.ts).
 */
export interface StrategyDeps extends GuardDeps {
  /** Counts and logs what serving `count` messages of `partition` produced. */
  onServed(partition: number, count: number, served: Served): void;
}

/** The publication of `served`, committing past the last of `messages`. */
export function publication(
  batch: Pick<PartitionBatch, "topic" | "partition">,
  messages: RequestMessage[],
  served: Served,
): Publication {
  const last = messages[messages.length - 1].offset;
  return {
    responses: served.responses,
    deadLetters: served.deadLetters,
    commit: { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) },
  };
}
