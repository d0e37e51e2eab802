import type { Consumer, ConsumerCrashEvent, ConsumerRunConfig, Kafka } from "kafkajs";

/**
 * Gives a consumer group with no committed offsets on `topic` the topic's
 * current end offsets, so it starts at "now" like a fresh group does, but
 * durably: a consumer that crashes before its first commit would otherwise
 * restart at the then-latest offsets and skip what arrived meanwhile.
 * Call before the group's first consumer joins.
 */
export async function pinGroupStart(kafka: Kafka, groupId: string, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const partitions = committed[0]?.partitions ?? [];
    if (partitions.some((p) => p.offset !== "-1")) return;
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({
      groupId,
      topic,
      partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** What {@linkcode runKeptAlive} returns. */
export interface KeptAlive {
  /** Ends the restarts, waiting for one in progress. Call before pausing or stopping. */
  stop(): Promise<void>;
  /** False while the consumer is down after a crash kafkajs did not restart. */
  running(): boolean;
}

/**
 * consumer.run() that stays running. kafkajs restarts a crashed consumer only
 * after errors it calls retriable, and it takes some passing broker states
 * for final ones: "Failed to find group coordinator" while the broker
 * restarts is one, and the consumer then stops for good. After such a
 * crash this connects and runs it again (its subscriptions are kept), every
 * `retryMs`, until stop().
 */
export async function runKeptAlive(
  consumer: Consumer,
  config: ConsumerRunConfig,
  onRestart: (error: Error) => void,
  retryMs = 1000,
): Promise<KeptAlive> {
  let stopped = false;
  let down = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let restarting: Promise<void> | undefined;
  const restart = async () => {
    timer = undefined;
    if (stopped) return;
    try {
      await consumer.connect();
      await consumer.run(config);
      down = false;
    } catch {
      if (!stopped) timer = setTimeout(() => (restarting = restart()), retryMs);
    }
  };
  const removeListener = consumer.on(consumer.events.CRASH, ({ payload }: ConsumerCrashEvent) => {
    if (payload.restart || stopped) return;
    down = true;
    onRestart(payload.error);
    timer = setTimeout(() => (restarting = restart()), retryMs);
  });
  await consumer.run(config);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      removeListener();
      await restarting;
    },
    running: () => !down,
  };
}
