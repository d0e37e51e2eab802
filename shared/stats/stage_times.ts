/**
 * Where a request's time goes, from the timestamps its prediction carries
 * and the moment the client got it: pure, so the bench only feeds it.
 * All four clocks are the same host's `Date.now()` in the bench.
 */
import { percentile } from "./percentile.ts";

/** A prediction's timestamps, and when the client received it (epoch ms). */
export interface StageStamps {
  sent_at: number;
  received_at: number;
  completed_at: number;
  answeredAt: number;
}

/**
 * The legs of one request, in order; they add up to end_to_end.
 * - request_leg: client's send, the broker, the worker's fetch, until its serve starts
 * - worker: decode, waiting for the micro-batch, predict
 * - response_leg: encode, the worker's send (acks all), the receiver's fetch
 */
export const STAGES = ["request_leg", "worker", "response_leg", "end_to_end"] as const;
export type Stage = typeof STAGES[number];

/** A spread of milliseconds: p10, median and p90 tell noise from change; p99 is the target. */
export interface Spread {
  p10: number;
  p50: number;
  p90: number;
  p99: number;
}

/** The legs of one request, in ms. */
export function legs(s: StageStamps): Record<Stage, number> {
  return {
    request_leg: s.received_at - s.sent_at,
    worker: s.completed_at - s.received_at,
    response_leg: s.answeredAt - s.completed_at,
    end_to_end: s.answeredAt - s.sent_at,
  };
}

/** The p10, p50, p90 and p99 of `values` (nearest rank); NaN for none. */
export function spread(values: ArrayLike<number>): Spread {
  return {
    p10: percentile(values, 10),
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
  };
}

/**
 * Collects the legs of every prediction of a run and summarises each as a
 * {@linkcode Spread}. Keeps one number per request and leg: fine for a
 * bench run of tens of thousands.
 *
 * @example
 * ```ts
 * const t = new StageTimes();
 * t.record({ sent_at: 0, received_at: 3, completed_at: 5, answeredAt: 9 });
 * t.summary().worker.p50; // 2
 * ```
 */
export class StageTimes {
  readonly #values: Record<Stage, number[]> = {
    request_leg: [],
    worker: [],
    response_leg: [],
    end_to_end: [],
  };

  /** How many requests were recorded. */
  get count(): number {
    return this.#values.end_to_end.length;
  }

  /** Records the legs of one answered request. */
  record(s: StageStamps): void {
    const l = legs(s);
    for (const stage of STAGES) this.#values[stage].push(l[stage]);
  }

  /** Each leg's spread in milliseconds. */
  summary(): Record<Stage, Spread> {
    return Object.fromEntries(
      STAGES.map((stage) => [stage, spread(this.#values[stage])]),
    ) as Record<Stage, Spread>;
  }
}
