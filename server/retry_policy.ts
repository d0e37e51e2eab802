/** How a failing batch is retried; see {@linkcode nextStep}. */
export interface RetryPolicy {
  /**
   * Waits before each retry of a batch that failed for a reason of its own
   * (not a broker outage); their count bounds those retries. After the last
   * the batch is poison: its requests get dead letters and error replies.
   */
  poisonDelaysMs: readonly number[];
  /** First wait after a broker outage; it doubles per failure up to outageMaxMs. */
  outageInitialMs: number;
  outageMaxMs: number;
}

/**
 * Three retries at 100, 400 and 1,600 ms: a fault that lasts longer than
 * about 2 s of the same batch is taken to be the batch's. Outages are waited
 * out without limit, at most 5 s apart, like the producer's own retries.
 */
export const RETRY_POLICY: RetryPolicy = {
  poisonDelaysMs: [100, 400, 1600],
  outageInitialMs: 200,
  outageMaxMs: 5000,
};

/** A broker outage (waited out) or a failure of the batch's own (retried a bounded number of times). */
export type FailureKind = "outage" | "poison";

/** Failures of one batch so far, this one included. */
export interface Failures {
  poison: number;
  outage: number;
}

/** Retry after `delayMs`, or stop: the batch is poison. */
export type RetryStep = { retry: true; delayMs: number } | { retry: false };

/** What to do after the latest failure, of `kind`, given the counts so far. */
export function nextStep(policy: RetryPolicy, failures: Failures, kind: FailureKind): RetryStep {
  if (kind === "outage") {
    const doubled = policy.outageInitialMs * 2 ** Math.min(30, Math.max(0, failures.outage - 1));
    return { retry: true, delayMs: Math.min(policy.outageMaxMs, doubled) };
  }
  const delayMs = policy.poisonDelaysMs[failures.poison - 1];
  return delayMs === undefined ? { retry: false } : { retry: true, delayMs };
}

/** What {@linkcode retrying} tells and asks its caller. */
export interface RetryHooks {
  classify(error: unknown): FailureKind;
  onRetry(r: { attempt: number; kind: FailureKind; delayMs: number; error: unknown }): void;
  /** False once the work is no longer ours (a rebalance took the partition): stop trying. */
  active(): boolean;
  /** For tests; setTimeout by default. */
  sleep?(ms: number): Promise<void>;
}

/** The end of {@linkcode retrying}. */
export type Retried<T> =
  | { outcome: "done"; value: T }
  /** Failed for its own reasons on every attempt the policy allows. */
  | { outcome: "poison"; error: unknown; attempts: number }
  /** No longer active: the work belongs to someone else now. */
  | { outcome: "abandoned"; error: unknown };

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `work` until it succeeds, retrying as `policy` says: broker outages
 * are waited out for as long as the work stays active, other failures are
 * retried a bounded number of times and then reported as poison, so that a
 * fault that happens on every attempt cannot hold a partition for good.
 */
export async function retrying<T>(
  work: () => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks,
): Promise<Retried<T>> {
  const failures: Failures = { poison: 0, outage: 0 };
  const sleep = hooks.sleep ?? defaultSleep;
  for (let attempt = 1;; attempt++) {
    try {
      return { outcome: "done", value: await work() };
    } catch (error) {
      const kind = hooks.classify(error);
      failures[kind]++;
      const step = nextStep(policy, failures, kind);
      if (!hooks.active()) return { outcome: "abandoned", error };
      if (!step.retry) return { outcome: "poison", error, attempts: attempt };
      hooks.onRetry({ attempt, kind, delayMs: step.delayMs, error });
      await sleep(step.delayMs);
      if (!hooks.active()) return { outcome: "abandoned", error };
    }
  }
}
