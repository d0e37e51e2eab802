/**
 * What the model-updates topic holds and how its records are keyed. The
 * topic is compacted, so for each key only the newest record survives:
 *
 * - `<name>`: the announcement workers serve (files and all), with the
 *   versions announced before it, oldest first, for rollback;
 * - `<name>@<version>`: every version ever published, for model:list,
 *   rollback and promote, even after `<name>` moved on;
 * - `serving/<worker id>`: which version a live worker serves; a null
 *   value (tombstone) when it stops.
 *
 * Pure: keys, serving records and the next announcement of a promote or a
 * rollback.
 */
import { type Announcement, MAX_HISTORY } from "./announcement.ts";

/** The default model name: the key workers follow unless told otherwise. */
export const DEFAULT_MODEL_NAME = "fashion-cnn";

/**
 * Each worker follows the model topic in a consumer group of its own named
 * with this prefix and its id: the secure cluster grants workers this prefix.
 */
export const MODEL_FOLLOW_GROUP_PREFIX = "model-follow-";

/** The key of a model record, parsed. */
export type ModelKey =
  | { kind: "current"; name: string }
  | { kind: "archive"; name: string; version: string }
  | { kind: "serving"; worker: string }
  | { kind: "unknown"; key: string };

const SERVING = "serving/";

/**
 * The key workers follow: the model's name.
 *
 * @example
 * ```ts
 * currentKey("fashion-cnn"); // "fashion-cnn"
 * ```
 */
export function currentKey(name: string): string {
  return name;
}

/**
 * The key that keeps one published version, for rollback and promote.
 *
 * @example
 * ```ts
 * archiveKey("fashion-cnn", "sha256:0123456789abcdef"); // "fashion-cnn@sha256:0123456789abcdef"
 * ```
 */
export function archiveKey(name: string, version: string): string {
  return `${name}@${version}`;
}

/**
 * The key of a worker's serving record.
 *
 * @example
 * ```ts
 * servingKey("host-12"); // "serving/host-12"
 * ```
 */
export function servingKey(worker: string): string {
  return `${SERVING}${worker}`;
}

/**
 * Tells which kind of record a key names.
 *
 * @example
 * ```ts
 * parseModelKey("fashion-cnn@sha256:0123456789abcdef"); // { kind: "archive", ... }
 * ```
 */
export function parseModelKey(key: string): ModelKey {
  if (key.startsWith(SERVING)) return { kind: "serving", worker: key.slice(SERVING.length) };
  const at = key.indexOf("@");
  if (at > 0) return { kind: "archive", name: key.slice(0, at), version: key.slice(at + 1) };
  if (/^[A-Za-z0-9._-]+$/.test(key)) return { kind: "current", name: key };
  return { kind: "unknown", key };
}

/** What a worker reports it serves. */
export interface Serving {
  worker: string;
  name: string;
  version: string;
  pinned: boolean;
  /** ISO time it started serving this version. */
  since: string;
}

/**
 * Encodes a serving record as JSON bytes.
 *
 * @example
 * ```ts
 * const value = encodeServing({ worker, name, version, pinned: false, since: new Date().toISOString() });
 * ```
 */
export function encodeServing(s: Serving): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ v: 1, ...s }));
}

/**
 * Decodes a serving record; undefined for a tombstone (the worker stopped)
 * or bytes that are not one.
 *
 * @example
 * ```ts
 * decodeServing(null); // undefined: a tombstone
 * ```
 */
export function decodeServing(value: Uint8Array | null | undefined): Serving | undefined {
  if (!value || value.length === 0) return undefined;
  try {
    const s = JSON.parse(new TextDecoder().decode(value));
    if (typeof s?.worker === "string" && typeof s.version === "string") {
      return {
        worker: s.worker,
        name: String(s.name),
        version: s.version,
        pinned: Boolean(s.pinned),
        since: String(s.since),
      };
    }
  } catch {
    // Not a serving record: ignored like an unknown key.
  }
  return undefined;
}

/**
 * The announcement that makes `target` current after `current`: `current`
 * goes onto the history, so a rollback comes back to it. Throws a
 * RangeError when `target` is already current.
 *
 * @example
 * ```ts
 * const next = promoted(archived, current, new Date().toISOString());
 * ```
 */
export function promoted(
  target: Announcement,
  current: Announcement | undefined,
  at: string,
): Announcement {
  if (current?.version === target.version) {
    throw new RangeError(`Expected a version other than the current one, got ${target.version}`);
  }
  const history = current ? [...current.history, current.version].slice(-MAX_HISTORY) : [];
  return { ...target, announcedAt: at, history };
}

/**
 * The version a rollback returns to: the last one announced before the
 * current one. Throws a RangeError when there is none.
 *
 * @example
 * ```ts
 * const previous = archived(catalog, rollbackTarget(current));
 * ```
 */
export function rollbackTarget(current: Announcement): string {
  const previous = current.history.at(-1);
  if (previous === undefined) {
    throw new RangeError(
      `Expected a version announced before ${current.version} to roll back to, got none`,
    );
  }
  return previous;
}

/**
 * The announcement of a rollback: `previous` (the archived record of
 * rollbackTarget(current)) becomes current again and leaves the history,
 * so a second rollback goes one step further back.
 *
 * @example
 * ```ts
 * const next = rolledBack(current, previous, new Date().toISOString());
 * ```
 */
export function rolledBack(
  current: Announcement,
  previous: Announcement,
  at: string,
): Announcement {
  const target = rollbackTarget(current);
  if (previous.version !== target) {
    throw new RangeError(`Expected the archived record of ${target}, got ${previous.version}`);
  }
  return { ...previous, announcedAt: at, history: current.history.slice(0, -1) };
}
