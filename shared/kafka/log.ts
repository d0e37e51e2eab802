import { type logCreator, logLevel } from "kafkajs";
import process from "node:process";

let warningsHidden = false;

/**
 * Hides Deno's TimeoutNegativeWarning: kafkajs 2.2.4 sometimes schedules a
 * negative timeout, which Deno's Node layer reports (and runs after 1 ms,
 * which is what kafkajs wants). Other warnings still print. createKafka()
 * calls it; importing this module changes nothing.
 */
export function hideKafkajsTimerWarnings(): void {
  if (warningsHidden) return;
  warningsHidden = true;
  process.removeAllListeners("warning");
  process.on("warning", (w: Error) => {
    if (w.name !== "TimeoutNegativeWarning") console.error(`warning: ${w.name}: ${w.message}`);
  });
}

const LEVEL_NAMES: Record<number, string> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

const lastSeen = new Map<string, number>();

/** True for a log line already printed in the last 5 s: a broker outage repeats them. */
function repeated(key: string): boolean {
  const now = Date.now();
  const seen = lastSeen.get(key);
  if (seen !== undefined && now - seen < 5000) return true;
  lastSeen.set(key, now);
  if (lastSeen.size > 1000) lastSeen.clear();
  return false;
}

/**
 * kafkajs's JSON logs as one short line each on stderr; a line repeated
 * within 5 s (a broker outage repeats them) is dropped, and so are the
 * notices of rebalances and restarts that kafkajs retries by itself.
 */
export const shortLogLines: logCreator = () => ({ namespace, level, log }) => {
  const { message, error } = log as { message: string; error?: string };
  if (repeated(`${namespace}${message}${error}`)) return;
  if (
    /coordinator is (loading|not available)|rebalanc|not the leader/i.test(`${message} ${error}`)
  ) {
    return;
  }
  console.error(
    `kafka ${LEVEL_NAMES[level] ?? level}: ${namespace}: ${message}${error ? `: ${error}` : ""}`,
  );
};
