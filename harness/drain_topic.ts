/**
 * Reads a topic from its beginning in a fresh consumer group until the
 * caller has seen what it waits for, or fails after a timeout saying what.
 */
import type { Kafka, KafkaMessage } from "kafkajs";

export interface DrainOptions {
  topic: string;
  /** What the caller waits for, for the timeout message ("3 dead letters"). */
  what: string;
  timeoutMs: number;
  /** Called for each message; returns true once everything awaited has come. */
  onMessage: (message: KafkaMessage) => boolean;
}

/** Drains `o.topic` until `o.onMessage` returns true; resolves with the messages read. */
export async function drainTopic(kafka: Kafka, o: DrainOptions): Promise<number> {
  const consumer = kafka.consumer({
    groupId: `drain-${crypto.randomUUID()}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  let read = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await consumer.subscribe({ topic: o.topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        reject(
          new Error(
            `waited ${o.timeoutMs} ms on topic ${o.topic} for ${o.what}; read ${read} messages`,
          ),
        );
      }, o.timeoutMs);
      consumer.run({
        eachMessage: ({ message }) => {
          read++;
          if (o.onMessage(message)) resolve();
          return Promise.resolve();
        },
      }).catch(reject);
    });
    return read;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}
