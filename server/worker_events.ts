import type { TextFormats } from "../shared/cli/event_log.ts";

/** Every event the worker logs, with its fields (the JSON keys of --json). */
export type WorkerEvents = {
  topics_created: { topics: string[] };
  /** Once, at the first group join: the harness waits for it (see README). */
  ready: { worker: string; model: string; partitions: number[] };
  group_join: { group: string; partitions: number[] };
  /** The group has more workers than the request topic has partitions. */
  idle: { partitions: number };
  status: {
    processed: number;
    rate: number;
    meanBatch: number;
    errors: number;
    tensors: number;
    rssMb: number;
    heapMb: number;
  };
  bad_request: { code: string; message: string; partition: number };
  producer_reset: { error: string };
  consumer_crash: { error: string; restart: boolean };
  consumer_reconnect: { error: string };
  commit_refused: { error: string };
  stopped: { processed: number; errors: number };
};

/** What the text lines say beside an event's own fields: fixed for a worker's life. */
export interface WorkerSettings {
  worker: string;
  group: string;
  requests: string;
  responses: string;
  /** Partitions of the request topic when the worker started. */
  partitionCount: number;
  maxBatch: number;
  maxWaitMs: number;
}

/** The text lines of the worker's events (JSON mode prints the fields alone). */
export function workerEventText(s: WorkerSettings): TextFormats<WorkerEvents> {
  const list = (partitions: number[]) => `[${partitions.join(",")}]`;
  return {
    topics_created: (f) => `created topics: ${f.topics.join(", ")}`,
    ready: (f) =>
      `worker ${f.worker} ready: serving ${s.requests} -> ${s.responses} with model ${f.model}, ` +
      `partitions ${list(f.partitions)} of ${s.partitionCount} ` +
      `(max batch ${s.maxBatch}, max wait ${s.maxWaitMs} ms)`,
    group_join: (f) =>
      `worker ${s.worker} joined ${f.group}: partitions ${
        list(f.partitions)
      } of ${s.partitionCount}`,
    idle: (f) =>
      `warning: this worker got no partition: the group has more workers than the ${f.partitions} ` +
      `partitions of ${s.requests}; it stays idle until one leaves ` +
      `(create the topic with more --partitions to scale further)`,
    status: (f) =>
      `status: processed ${f.processed}, ${f.rate.toFixed(0)}/s, mean batch ${
        f.meanBatch.toFixed(1)
      }, errors ${f.errors}, tensors ${f.tensors}, rss ${f.rssMb.toFixed(0)} MB, js heap ${
        f.heapMb.toFixed(0)
      } MB`,
    bad_request: (f) => `bad request in partition ${f.partition}: ${f.code}: ${f.message}`,
    producer_reset: (f) => `new producer after a broker failover: ${f.error}`,
    consumer_crash: (f) => `consumer error: ${f.error}${f.restart ? " (restarting)" : ""}`,
    consumer_reconnect: (f) => `consumer stopped (${f.error}); reconnecting`,
    commit_refused: (f) =>
      `offset commit refused (the partition moved; its requests will be served again): ${f.error}`,
    stopped: (f) =>
      `worker ${s.worker} stopped after ${f.processed} requests (${f.errors} malformed)`,
  };
}
