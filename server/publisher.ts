import type { Sender } from "../shared/kafka/producer.ts";
import type { OffsetCommit } from "../shared/kafka/offset_committer.ts";
import type { Topics } from "../shared/config.ts";
import type { OutMessage } from "./serve_messages.ts";
import { SendCoalescer } from "./send_coalescer.ts";

/** What serving one partition batch leaves to publish, and the offset to commit after. */
export interface Publication {
  responses: OutMessage[];
  deadLetters: OutMessage[];
  commit: OffsetCommit;
}

/** Sends publications' responses and dead letters; resolves when the brokers have them. */
export type PublicationSender = (items: Publication[]) => Promise<void>;

/** Where a publication's offset is noted once its messages are acknowledged. */
export interface CommitNotes {
  note(c: OffsetCommit): void;
}

/**
 * One send of the dead letters and responses of `items`, acknowledged by
 * every in-sync replica (acks -1): only then may their offsets be committed,
 * which is what makes delivery at-least-once.
 */
export function publicationSender(
  producer: Pick<Sender, "sendBatch">,
  topics: Pick<Topics, "responses" | "dlq">,
): PublicationSender {
  return async (items) => {
    const responses = items.flatMap((i) => i.responses);
    const deadLetters = items.flatMap((i) => i.deadLetters);
    // Dead letters first: the topics go out one after the other, and a dead
    // letter the broker refuses then fails the send before any response is
    // written, so a retry of the batch repeats no answer.
    const topicMessages = deadLetters.length ? [{ topic: topics.dlq, messages: deadLetters }] : [];
    topicMessages.push({ topic: topics.responses, messages: responses });
    await producer.sendBatch({ topicMessages, acks: -1 });
  };
}

/**
 * Publishes the batches of a fetch cycle together (see SendCoalescer), then
 * notes each one's offset on `committer`. Runs are sequential, so a
 * partition's commits never go backwards.
 */
export function coalescingPublisher(
  send: PublicationSender,
): (work: Publication, committer: CommitNotes) => Promise<void> {
  const coalescer = new SendCoalescer(send);
  return async (work, committer) => {
    await coalescer.submit(work);
    committer.note(work.commit);
  };
}
