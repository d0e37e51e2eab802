/**
 * The workers' consumer group as Kafka's admin API describes it, and the
 * worker rows of the page: pure functions over what kafka_feed.ts fetched,
 * so they are tested without a broker (and without loading kafkajs).
 */
import type { SeenWorker } from "./stream_state.ts";

/** A group member with its assignment on the request topic already decoded. */
export interface MemberInput {
  clientId: string;
  clientHost: string;
  partitions: number[];
}

/** What one admin poll fetched. */
export interface GroupInput {
  group: string;
  /** Kafka's group state: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead... */
  state: string;
  members: MemberInput[];
  /** The group's committed offsets on the request topic; "-1" for none. */
  committed: { partition: number; offset: string }[];
  /** The request topic's offsets: `high` is the next offset to be written. */
  ends: { partition: number; low: string; high: string }[];
}

/** The group as the page shows it. */
export interface GroupView {
  group: string;
  state: string;
  members: { worker: string; host: string; partitions: number[]; lag: number }[];
  /** Requests written but not yet committed by the group, per partition. */
  lag: Record<number, number>;
  totalLag: number;
}

/** A worker row of the page: group membership joined with what its answers say. */
export interface WorkerRow {
  worker: string;
  host: string | null;
  partitions: number[];
  lag: number | null;
  /** A member of a stable group with partitions to serve. */
  ready: boolean;
  model: string | null;
  answers: number;
  /** Milliseconds since its last answer; null when none was seen. */
  idleMs: number | null;
}

/**
 * The worker's id in its answers is its client id without the `worker-`
 * prefix the worker gives its Kafka client (server/worker.ts).
 */
export function workerId(clientId: string): string {
  return clientId.startsWith("worker-") ? clientId.slice("worker-".length) : clientId;
}

/**
 * Lag per partition = end offset - committed offset. A partition the group
 * never committed counts from the log start: everything still in it waits.
 */
export function groupView(input: GroupInput): GroupView {
  const committed = new Map(input.committed.map((c) => [c.partition, Number(c.offset)]));
  const lag: Record<number, number> = {};
  let totalLag = 0;
  for (const e of input.ends) {
    const done = committed.get(e.partition) ?? -1;
    const from = done >= 0 ? done : Number(e.low);
    const n = Math.max(0, Number(e.high) - from);
    lag[e.partition] = n;
    totalLag += n;
  }
  const members = input.members.map((m) => ({
    worker: workerId(m.clientId),
    host: m.clientHost,
    partitions: [...m.partitions].sort((a, b) => a - b),
    lag: m.partitions.reduce((sum, p) => sum + (lag[p] ?? 0), 0),
  }));
  members.sort((a, b) => a.worker.localeCompare(b.worker));
  return { group: input.group, state: input.state, members, lag, totalLag };
}

/**
 * Rows for the workers table: every group member (ready when the group is
 * stable and it has partitions), then workers seen in answers that are no
 * longer members (not ready: stopped, crashed or restarting).
 */
export function workerRows(
  seen: SeenWorker[],
  group: GroupView | null,
  nowMs: number,
): WorkerRow[] {
  const byId = new Map(seen.map((s) => [s.worker, s]));
  const rows: WorkerRow[] = [];
  for (const m of group?.members ?? []) {
    const s = byId.get(m.worker);
    byId.delete(m.worker);
    rows.push({
      worker: m.worker,
      host: m.host,
      partitions: m.partitions,
      lag: m.lag,
      ready: group!.state === "Stable" && m.partitions.length > 0,
      model: s?.model ?? null,
      answers: s?.answers ?? 0,
      idleMs: s ? nowMs - s.lastSeenMs : null,
    });
  }
  for (const s of byId.values()) {
    rows.push({
      worker: s.worker,
      host: null,
      partitions: [],
      lag: null,
      ready: false,
      model: s.model,
      answers: s.answers,
      idleMs: nowMs - s.lastSeenMs,
    });
  }
  return rows;
}
