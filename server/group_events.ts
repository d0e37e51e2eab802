import type { Consumer } from "kafkajs";
import type { EventLog } from "../shared/cli/event_log.ts";
import type { WorkerEvents } from "./worker_events.ts";

/** Who is joining and with what, for the events of {@linkcode logGroupEvents}. */
export interface GroupIdentity {
  worker: string;
  model: string;
  group: string;
  /** The request topic. */
  topic: string;
  /** Where the worker's endpoints listen, or null with `--http off`. */
  http: string | null;
}

/**
 * Logs the consumer's group joins (with the "idle" warning when it got no
 * partition) and crashes. The first join also logs "ready", once: the
 * caller connects the producer and warms the model before the consumer, so
 * a ready worker serves at once.
 */
export function logGroupEvents(
  consumer: Consumer,
  who: GroupIdentity,
  partitionCount: number,
  log: EventLog<WorkerEvents>,
): void {
  let ready = false;
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const partitions = payload.memberAssignment[who.topic] ?? [];
    log("group_join", { group: who.group, partitions });
    if (partitions.length === 0) log("idle", { partitions: partitionCount });
    if (ready) return;
    ready = true;
    log("ready", { worker: who.worker, model: who.model, partitions, http: who.http });
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    log("consumer_crash", { error: String(payload.error), restart: payload.restart });
  });
}
