import type { TextFormats } from "../shared/cli/event_log.ts";

/** The events of a worker's model: what it serves, swaps to and refuses. */
export type ModelEvents = {
  /** At start: the version served first and where it came from. */
  model_loaded: { name: string; version: string; source: string; pinned: boolean };
  /**
   * After a swap, once the old model's last answers are out and it is
   * disposed. New batches ran on `to` from `switchedAt` (epoch ms); from
   * `swappedAt` on, no answer carries `from`.
   */
  model_swapped: {
    name: string;
    from: string;
    to: string;
    switchedAt: number;
    swappedAt: number;
    drainMs: number;
  };
  /** An announcement that failed a check; `refused` counts them (model_refused_total). */
  model_refused: { code: string; message: string; version?: string; refused: number };
  model_reader_restart: { error: string };
  model_report_failed: { error: string };
};

/** The text lines of the model events. */
export function modelEventText(): TextFormats<ModelEvents> {
  return {
    model_loaded: (f) =>
      `model ${f.name}: serving ${f.version} from ${f.source}${f.pinned ? " (pinned)" : ""}`,
    model_swapped: (f) =>
      `model ${f.name}: now serving ${f.to} (was ${f.from}; old batches drained in ${
        f.drainMs.toFixed(0)
      } ms)`,
    model_refused: (f) =>
      `model announcement refused (${f.code}): ${f.message}; ${f.refused} refused so far`,
    model_reader_restart: (f) => `model topic reader restarts: ${f.error}`,
    model_report_failed: (f) => `could not report the serving model on the model topic: ${f.error}`,
  };
}
