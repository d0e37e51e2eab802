import * as tf from "@tensorflow/tfjs";
import type { WorkerEvents } from "./worker_events.ts";

/** Requests served and malformed so far. */
export interface ServeCounts {
  processed: number;
  errors: number;
}

/** What the process measures of itself for a status line. */
export interface ResourceSample {
  tensors: number;
  rssBytes: number;
  heapBytes: number;
}

/** The last status line's count and time, to give the rate since. */
export interface RateMark {
  processed: number;
  atMs: number;
}

/** The fields of a status event: the rate is since `mark`, which the caller then moves on. */
export function statusFields(
  counts: ServeCounts,
  mark: RateMark,
  nowMs: number,
  meanBatch: number,
  sample: ResourceSample,
): WorkerEvents["status"] {
  return {
    processed: counts.processed,
    rate: ((counts.processed - mark.processed) * 1000) / Math.max(1, nowMs - mark.atMs),
    meanBatch,
    errors: counts.errors,
    tensors: sample.tensors,
    rssMb: sample.rssBytes / 2 ** 20,
    heapMb: sample.heapBytes / 2 ** 20,
  };
}

function sampleResources(): ResourceSample {
  const memory = Deno.memoryUsage();
  return { tensors: tf.memory().numTensors, rssBytes: memory.rss, heapBytes: memory.heapUsed };
}

/**
 * Emits a status event every `intervalS` seconds (none for 0); returns the
 * function that stops it. Tensors and memory are in it so that a leak shows
 * in a soak run.
 */
export function startStatusTimer(
  counts: ServeCounts,
  meanBatch: () => number,
  intervalS: number,
  emit: (fields: WorkerEvents["status"]) => void,
): () => void {
  if (intervalS <= 0) return () => {};
  let mark: RateMark = { processed: counts.processed, atMs: Date.now() };
  const timer = setInterval(() => {
    const now = Date.now();
    emit(statusFields(counts, mark, now, meanBatch(), sampleResources()));
    mark = { processed: counts.processed, atMs: now };
  }, intervalS * 1000);
  return () => clearInterval(timer);
}
