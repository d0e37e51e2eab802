/**
 * Whether a worker can serve right now, and if not, why: the answer of
 * `GET /readyz`. The wiring flips the fields as things happen (model
 * loaded, producer connected, group joined or left); the verdict is a pure
 * function of them, so every reason is unit-tested without a broker.
 */

/** What a worker needs before it serves; all false or empty at start. */
export interface ReadinessState {
  modelLoaded: boolean;
  producerConnected: boolean;
  /** In the consumer group: set on a join, cleared on a rebalance, crash or stop. */
  joined: boolean;
  /** Request partitions assigned at the last join. */
  partitions: number[];
  /** stop() has begun: load balancers should move on before we leave the group. */
  stopping: boolean;
}

/** The verdict: ready, or the first thing missing in start-up order. */
export type Readiness = { ready: true } | { ready: false; reason: string };

/** A state with nothing done yet. */
export function initialReadiness(): ReadinessState {
  return {
    modelLoaded: false,
    producerConnected: false,
    joined: false,
    partitions: [],
    stopping: false,
  };
}

/**
 * Ready only when the model is loaded, the producer connected and the
 * consumer has joined its group with at least one partition. Reasons are
 * checked in start-up order so the reason names what the worker waits for.
 */
export function readiness(s: ReadinessState): Readiness {
  if (s.stopping) return { ready: false, reason: "stopping" };
  if (!s.modelLoaded) return { ready: false, reason: "model not loaded" };
  if (!s.producerConnected) return { ready: false, reason: "producer not connected" };
  if (!s.joined) return { ready: false, reason: "consumer has not joined the group" };
  if (s.partitions.length === 0) {
    // A member with no partition is healthy but serves nothing: the group
    // has more workers than the request topic has partitions.
    return {
      ready: false,
      reason: "idle: no partition (the group has more workers than partitions)",
    };
  }
  return { ready: true };
}
