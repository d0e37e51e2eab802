import type { TextFormats } from "../shared/cli/event_log.ts";

/** Every event the worker logs, with its fields (the JSON keys of --json). */
export type WorkerEvents = {
  topics_created: { topics: string[] };
  /** Once, at the first group join: the harness waits for it (see README). */
  ready: { worker: string; model: string; partitions: number[]; http: string | null };
  /** Where /healthz, /readyz and /metrics listen (not logged with --http off). */
  http: { http: string };
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
  /** The first bad request of its code in a summary interval; the rest are counted. */
  bad_request: { code: string; message: string; partition: number };
  /** Bad requests per error code over the last interval (none logged when there were none). */
  bad_request_summary: { seconds: number; counts: Record<string, number> };
  /** A partition batch failed and is tried again after delayMs. */
  batch_retry: {
    partition: number;
    attempt: number;
    kind: "outage" | "poison";
    delayMs: number;
    error: string;
  };
  /** A batch failed on every attempt: its messages are served one at a time. */
  batch_poison: { partition: number; messages: number; attempts: number; error: string };
  /** Not even a bare dead letter of this message could be published: skipped. */
  request_dropped: { partition: number; offset: string; error: string };
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
      `(max batch ${s.maxBatch}, max wait ${s.maxWaitMs} ms)${f.http ? `, http ${f.http}` : ""}`,
    http: (f) => `worker ${s.worker}: /healthz /readyz /metrics on http://${f.http}`,
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
    bad_request_summary: (f) =>
      `bad requests in the last ${f.seconds.toFixed(0)} s: ${
        Object.entries(f.counts).map(([code, n]) => `${code} ${n}`).join(", ")
      }`,
    batch_retry: (f) =>
      `partition ${f.partition} batch failed (attempt ${f.attempt}, ${f.kind}): ${f.error}; ` +
      `retrying in ${f.delayMs} ms`,
    batch_poison: (f) =>
      `partition ${f.partition} batch of ${f.messages} failed ${f.attempts} times (${f.error}); ` +
      `serving its requests one at a time`,
    request_dropped: (f) =>
      `partition ${f.partition} offset ${f.offset}: not even a dead letter could be published ` +
      `(${f.error}); skipped`,
    producer_reset: (f) => `new producer after a broker failover: ${f.error}`,
    consumer_crash: (f) => `consumer error: ${f.error}${f.restart ? " (restarting)" : ""}`,
    consumer_reconnect: (f) => `consumer stopped (${f.error}); reconnecting`,
    commit_refused: (f) =>
      `offset commit refused (the partition moved; its requests will be served again): ${f.error}`,
    stopped: (f) =>
      `worker ${s.worker} stopped after ${f.processed} requests (${f.errors} malformed)`,
  };
}
