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
  /** Epoch ms, on the worker's clock, from which new batches ran on `to`. */
  switchedAt: number;
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
  /**
   * Answers with a version their worker had left (stamped after the swap
   * event away from it) and not switched back to since.
   */
  stale: number;
  /** The first few stale answers with the swap they came after, to see why. */
  staleExamples: { answer: SwapAnswer; after: SwapEvent }[];
  /** p99 latency of requests sent in the steady span, and in the swap spans. */
  steadyP99: number;
  swapP99: number;
}

/**
 * The swap after which answer `a` came with the version that swap left,
 * with no switch back to it in between; undefined when there is none.
 * `swaps` are one worker's, in order; times are the worker's clock.
 */
function leftVersion(swaps: readonly SwapEvent[], a: SwapAnswer): SwapEvent | undefined {
  const i = swaps.findLastIndex((s) => s.swappedAt < a.completedAt && s.from === a.model);
  if (i < 0) return undefined;
  const back = swaps.slice(i + 1).some((s) => s.to === a.model && s.switchedAt <= a.completedAt);
  return back ? undefined : swaps[i];
}

/**
 * Checks `answers` against `swaps`: an answer stamped after its worker's
 * swap away from a version must not carry that version, unless the worker
 * has switched back to it since (same clock). Latencies are split by when the request was
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
  const staleExamples: SwapFindings["staleExamples"] = [];
  const steadyLatency: number[] = [];
  const swapLatency: number[] = [];
  const within = (t: number, s: Span) => t >= s.from && t <= s.to;
  for (const a of answers) {
    models[a.model] = (models[a.model] ?? 0) + 1;
    if (!expected.includes(a.model)) foreign++;
    const left = leftVersion(byWorker.get(a.worker) ?? [], a);
    if (left) {
      stale++;
      if (staleExamples.length < 5) staleExamples.push({ answer: a, after: left });
    }
    if (within(a.sentAt, steady)) steadyLatency.push(a.latencyMs);
    if (swapSpans.some((s) => within(a.sentAt, s))) swapLatency.push(a.latencyMs);
  }
  return {
    models,
    foreign,
    stale,
    staleExamples,
    steadyP99: percentile(steadyLatency, 99),
    swapP99: percentile(swapLatency, 99),
  };
}
