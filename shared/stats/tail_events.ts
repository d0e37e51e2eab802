/**
 * Where a latency tail comes from: requests over a bound, grouped into the
 * stalls that made them slow. At 1,000 requests/s one stall of 30 ms makes
 * some 30 requests slow at once, so the p99 of a run is decided by its few
 * worst stalls; each event says when it began and which leg took the time.
 * Pure, so the bench only feeds it.
 */
import { legs, type StageStamps } from "./stage_times.ts";

/** One stall: consecutive slow requests, sent within `gapMs` of each other. */
export interface TailEvent {
  /** When its first slow request was sent, in ms after the run's first request. */
  atMs: number;
  /** Slow requests in it. */
  requests: number;
  /** Its slowest request's end-to-end ms, and each leg of that request. */
  worstMs: number;
  requestLegMs: number;
  workerMs: number;
  responseLegMs: number;
}

/**
 * The stalls of a run: requests whose end-to-end time is over `boundMs`,
 * grouped while each is sent within `gapMs` of the previous slow one, in
 * the order they happened.
 *
 * @example
 * ```ts
 * tailEvents(stamps, 20).map((e) => `${e.atMs} ms: ${e.requests} slow, worst ${e.worstMs} ms`);
 * ```
 */
export function tailEvents(
  stamps: readonly StageStamps[],
  boundMs: number,
  gapMs = 50,
): TailEvent[] {
  if (stamps.length === 0) return [];
  const bySend = [...stamps].sort((a, b) => a.sent_at - b.sent_at);
  const start = bySend[0].sent_at;
  const events: TailEvent[] = [];
  let lastSlow = -Infinity;
  for (const s of bySend) {
    const l = legs(s);
    const total = l.end_to_end;
    if (total <= boundMs) continue;
    let e = events[events.length - 1];
    if (!e || s.sent_at - lastSlow > gapMs) {
      e = {
        atMs: s.sent_at - start,
        requests: 0,
        worstMs: -Infinity,
        requestLegMs: 0,
        workerMs: 0,
        responseLegMs: 0,
      };
      events.push(e);
    }
    lastSlow = s.sent_at;
    e.requests++;
    if (total > e.worstMs) {
      e.worstMs = total;
      e.requestLegMs = l.request_leg;
      e.workerMs = l.worker;
      e.responseLegMs = l.response_leg;
    }
  }
  return events;
}
