/**
 * kafkajs errors that mean "the brokers cannot be reached or are moving
 * leadership right now", whatever kafkajs's own `retriable` flag says: its
 * retrier wraps the last of them in KafkaJSNumberOfRetriesExceeded or
 * KafkaJSNonRetriableError (retriable false), so the chain is walked.
 */
const OUTAGE_NAMES = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSBrokerNotFound",
  "KafkaJSMetadataNotLoaded",
  "KafkaJSLockTimeout",
]);

/** Kafka protocol error types of a broker restart or a leader election. */
const OUTAGE_TYPES = new Set([
  "NOT_LEADER_FOR_PARTITION",
  "NOT_LEADER_OR_FOLLOWER",
  "LEADER_NOT_AVAILABLE",
  "NOT_ENOUGH_REPLICAS",
  "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
  "REQUEST_TIMED_OUT",
  "NETWORK_EXCEPTION",
  "NOT_COORDINATOR_FOR_GROUP",
  "GROUP_COORDINATOR_NOT_AVAILABLE",
  "COORDINATOR_LOAD_IN_PROGRESS",
  "KAFKA_STORAGE_ERROR",
]);

interface ErrorLike {
  name?: unknown;
  type?: unknown;
  retriable?: unknown;
  cause?: unknown;
  originalError?: unknown;
}

/**
 * True when `error` (or an error it wraps, through `cause` or kafkajs's
 * `originalError`) is a broker outage: a connection or request-timeout
 * error, a leader or replica moving, or any kafkajs protocol error flagged
 * `retriable`. Such a failure is waited out, never blamed on the requests
 * in hand. Anything else (a record the broker refuses for good, such as
 * MESSAGE_TOO_LARGE, or an exception of our own code) is the batch's own:
 * retrying it cannot help for long.
 *
 * @example
 * ```ts
 * if (isBrokerOutage(e)) await sleep(backoff); else deadLetterTheBatch(e);
 * ```
 */
export function isBrokerOutage(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = error; typeof e === "object" && e !== null && !seen.has(e);) {
    seen.add(e);
    const err = e as ErrorLike;
    if (typeof err.name === "string" && OUTAGE_NAMES.has(err.name)) return true;
    if (typeof err.type === "string" && OUTAGE_TYPES.has(err.type)) return true;
    if (err.name === "KafkaJSProtocolError" && err.retriable === true) return true;
    e = err.cause ?? err.originalError;
  }
  return false;
}
