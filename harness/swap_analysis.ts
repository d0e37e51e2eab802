/**
 * What a model-swap run proves, from its answers and the workers' swap
 * events, as pure code: which versions answered, whether a worker ever
 * answered with the version it had left, and p99 latency in steady state
 * against p99 during the swaps.
 */
import { percentile } from "../shared/stats/percentile.ts";

/** One prediction as the receiver saw it. */
export interface SwapAnswer {
  model: string;
  worker: string;
  /** Epoch ms the client sent the request (its clock). */
  sentAt: number;
  /** Epoch ms the worker stamped the answer (its clock). */
  completedAt: number;
  latencyMs: number;
}

/** A worker's `model_swapped` event. */
export interface SwapEvent {
  worker: string;
  from: string;
  to: string;
  /** Epoch ms, on the worker's clock, after which no answer carries `from`. */
  swappedAt: number;
}

/** A time span, epoch ms, on the client's clock. */
export interface Span {
  from: number;
  to: number;
}

/** What analyseSwaps() found. */
export interface SwapFindings {
  /** Predictions per model version. */
  models: Record<string, number>;
  /** Answers from a version that is none of the expected ones. */
  foreign: number;
  /** Answers a worker stamped after a swap event with a version other than the one it swapped to. */
  stale: number;
  /** p99 latency of requests sent in the steady span, and in the swap spans. */
  steadyP99: number;
  swapP99: number;
}

/**
 * Checks `answers` against `swaps`: each answer is compared with the last
 * swap its worker logged before the answer was stamped (same clock), and
 * must carry that swap's `to`. Latencies are split by when the request was
 * sent: in `steady`, or in one of `swapSpans`.
 *
 * @example
 * ```ts
 * const f = analyseSwaps(answers, swaps, [a, b], { from: t0, to: t1 }, [{ from: t1, to: t2 }]);
 * f.stale; // 0
 * ```
 */
export function analyseSwaps(
  answers: readonly SwapAnswer[],
  swaps: readonly SwapEvent[],
  expected: readonly string[],
  steady: Span,
  swapSpans: readonly Span[],
): SwapFindings {
  const byWorker = new Map<string, SwapEvent[]>();
  for (const s of [...swaps].sort((x, y) => x.swappedAt - y.swappedAt)) {
    byWorker.set(s.worker, [...(byWorker.get(s.worker) ?? []), s]);
  }
  const models: Record<string, number> = {};
  let foreign = 0;
  let stale = 0;
  const steadyLatency: number[] = [];
  const swapLatency: number[] = [];
  const within = (t: number, s: Span) => t >= s.from && t <= s.to;
  for (const a of answers) {
    models[a.model] = (models[a.model] ?? 0) + 1;
    if (!expected.includes(a.model)) foreign++;
    const last = byWorker.get(a.worker)?.findLast((s) => s.swappedAt < a.completedAt);
    if (last && a.model !== last.to) stale++;
    if (within(a.sentAt, steady)) steadyLatency.push(a.latencyMs);
    if (swapSpans.some((s) => within(a.sentAt, s))) swapLatency.push(a.latencyMs);
  }
  return {
    models,
    foreign,
    stale,
    steadyP99: percentile(steadyLatency, 99),
    swapP99: percentile(swapLatency, 99),
  };
}
