import { CLASS_NAMES, NUM_CLASSES } from "./classes.ts";
import { CodecError, type CodecErrorCode, type Decoded } from "./codec_error.ts";
import { decodeImage, encodeImage } from "./image_codec.ts";

/** Where tenants' reply topics start unless KAFKA_REPLY_TOPIC_PREFIX says otherwise. */
export const DEFAULT_REPLY_TOPIC_PREFIX = "analysis-responses.";

/** Version of the message schema; decoders reject any other. */
export const SCHEMA_VERSION = 1;
/** Largest request value accepted, in bytes (an image takes 1,048). */
export const MAX_REQUEST_BYTES = 4096;
/** Largest response value accepted, in bytes. */
export const MAX_RESPONSE_BYTES = 8192;
/** Longest id, in characters. */
export const MAX_ID_LENGTH = 128;

/**
 * What an id may contain: printable ASCII without spaces (its length is
 * checked apart, against {@linkcode MAX_ID_LENGTH}).
 */
export const ID = /^[\x21-\x7e]+$/;

/**
 * The code of an error reply to a request the worker read but could not
 * serve (its predict or its publication kept failing): not a fault of the
 * request's form, so it is no {@linkcode CodecErrorCode}.
 */
export const INTERNAL_ERROR = "internal_error";

/** A classification request: the value of a message keyed by `id`. */
export interface ClassifyRequest {
  v: 1;
  id: string;
  /** 784 grayscale bytes, row-major 28x28. On the wire: base64. */
  image: Uint8Array;
  /** Epoch milliseconds when the client sent it. */
  sent_at: number;
  /** The true class 0-9, when known (for evaluation). */
  label?: number;
  /**
   * The topic the answer goes to instead of the shared response topic; it
   * must start with the configured reply prefix (tenants' topics, see
   * docs/security.md).
   */
  reply_to?: string;
}

/** A served request's answer. */
export interface Prediction {
  v: 1;
  id: string;
  label: string;
  index: number;
  probability: number;
  probabilities: number[];
  model: string;
  worker: string;
  sent_at: number;
  received_at: number;
  completed_at: number;
}

/** The answer to a request that could not be served. */
export interface ErrorReply {
  v: 1;
  id: string;
  error: { code: string; message: string };
}

export type Response = Prediction | ErrorReply;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes a request as the UTF-8 JSON value of its Kafka message.
 *
 * @example
 * ```ts
 * const value = encodeRequest({ v: 1, id: "a1", image, sent_at: Date.now(), label: 9 });
 * ```
 */
export function encodeRequest(r: ClassifyRequest): Uint8Array {
  const wire: Record<string, unknown> = {
    v: SCHEMA_VERSION,
    id: r.id,
    image: encodeImage(r.image),
    sent_at: r.sent_at,
  };
  if (r.label !== undefined) wire.label = r.label;
  if (r.reply_to !== undefined) wire.reply_to = r.reply_to;
  return encoder.encode(JSON.stringify(wire));
}

/**
 * Encodes a response (prediction or error) as the UTF-8 JSON value of its
 * Kafka message.
 */
export function encodeResponse(r: Response): Uint8Array {
  return encoder.encode(JSON.stringify(r));
}

function fail<T>(code: CodecErrorCode, message: string, id?: string): Decoded<T> {
  return id === undefined
    ? { ok: false, error: new CodecError(code, message) }
    : { ok: false, error: new CodecError(code, message), id };
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  return typeof v === "string" ? `a string` : `a ${typeof v}`;
}

/** Parses a UTF-8 JSON object of at most `limit` bytes. */
function parseObject(
  bytes: Uint8Array | null | undefined,
  limit: number,
  what: string,
): Decoded<Record<string, unknown>> {
  if (!bytes || bytes.length === 0) {
    return fail("empty", `Cannot decode ${what}: the value is empty`);
  }
  if (bytes.length > limit) {
    return fail(
      "too_large",
      `Cannot decode ${what}: expected at most ${limit} bytes, got ${bytes.length}`,
    );
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return fail("invalid_utf8", `Cannot decode ${what}: the value is not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail("invalid_json", `Cannot decode ${what}: not JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return fail(
      "not_object",
      `Cannot decode ${what}: expected a JSON object, got ${typeName(json)}`,
    );
  }
  return { ok: true, value: json as Record<string, unknown> };
}

function readId(o: Record<string, unknown>, what: string): Decoded<string> {
  const id = o.id;
  if (id === undefined) return fail("missing_field", `Cannot decode ${what}: expected field 'id'`);
  if (typeof id !== "string") {
    return fail(
      "invalid_id",
      `Cannot decode ${what}: expected 'id' to be a string, got ${typeName(id)}`,
    );
  }
  if (id.length === 0 || id.length > MAX_ID_LENGTH || !ID.test(id)) {
    return fail(
      "invalid_id",
      `Cannot decode ${what}: expected 'id' of 1-${MAX_ID_LENGTH} printable ASCII characters without spaces, got ${
        id.length === 0 ? "an empty string" : `${id.length} characters`
      }`,
    );
  }
  return { ok: true, value: id };
}

function checkVersion(o: Record<string, unknown>, what: string, id?: string): Decoded<1> {
  if (o.v === undefined) {
    return fail("missing_field", `Cannot decode ${what}: expected field 'v'`, id);
  }
  if (o.v !== SCHEMA_VERSION) {
    return fail(
      "unsupported_version",
      `Cannot decode ${what}: expected schema version ${SCHEMA_VERSION}, got ${
        JSON.stringify(o.v)
      }`,
      id,
    );
  }
  return { ok: true, value: 1 };
}

function finiteTime(
  o: Record<string, unknown>,
  key: string,
  what: string,
  id: string,
): Decoded<number> {
  const t = o[key];
  if (t === undefined) {
    return fail("missing_field", `Cannot decode ${what}: expected field '${key}'`, id);
  }
  if (typeof t !== "number" || !Number.isFinite(t) || t < 0) {
    return fail(
      "invalid_field",
      `Cannot decode ${what}: expected '${key}' to be epoch milliseconds (a finite number >= 0), got ${
        typeof t === "number" ? t : typeName(t)
      }`,
      id,
    );
  }
  return { ok: true, value: t };
}

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** An optional `reply_to`: a topic name that starts with `prefix` and has more after it. */
function readReplyTo(o: Record<string, unknown>, prefix: string, id: string): Decoded<unknown> {
  const to = o.reply_to;
  if (to === undefined || to === null) return { ok: true, value: undefined };
  if (
    typeof to !== "string" || !TOPIC_NAME.test(to) || !to.startsWith(prefix) ||
    to.length === prefix.length
  ) {
    return fail(
      "invalid_reply_to",
      `Cannot decode request: expected 'reply_to' to be a topic name starting with '${prefix}', got ${
        typeof to === "string" ? JSON.stringify(to.slice(0, 300)) : typeName(to)
      }`,
      id,
    );
  }
  return { ok: true, value: to };
}

/**
 * Decodes and validates a request value: size, UTF-8, JSON object, version,
 * id, image (strict base64 of exactly 784 bytes), sent_at, optional label
 * 0-9, optional reply_to (a topic starting with `replyTopicPrefix`). Never
 * throws; a failure carries the id when it could be read, so the caller can
 * still answer the client (on the shared topic: a bad reply_to is not used).
 *
 * @example
 * ```ts
 * const r = decodeRequest(message.value, config.replyTopicPrefix);
 * if (!r.ok) deadLetter(message, r.error, r.id);
 * ```
 */
export function decodeRequest(
  bytes: Uint8Array | null | undefined,
  replyTopicPrefix = DEFAULT_REPLY_TOPIC_PREFIX,
): Decoded<ClassifyRequest> {
  const what = "request";
  const parsed = parseObject(bytes, MAX_REQUEST_BYTES, what);
  if (!parsed.ok) return parsed;
  const o = parsed.value;
  const idResult = readId(o, what);
  const id = idResult.ok ? idResult.value : undefined;
  const version = checkVersion(o, what, id);
  if (!version.ok) return version as Decoded<never>;
  if (!idResult.ok) return idResult as Decoded<never>;
  const image = o.image;
  if (image === undefined) {
    return fail("missing_field", `Cannot decode request: expected field 'image'`, id);
  }
  if (typeof image !== "string") {
    return fail(
      "invalid_field",
      `Cannot decode request: expected 'image' to be a base64 string, got ${typeName(image)}`,
      id,
    );
  }
  const pixels = decodeImage(image);
  if (!pixels.ok) return { ...pixels, id };
  const sent = finiteTime(o, "sent_at", what, id!);
  if (!sent.ok) return sent as Decoded<never>;
  const request: ClassifyRequest = { v: 1, id: id!, image: pixels.value, sent_at: sent.value };
  if (o.label !== undefined && o.label !== null) {
    const label = o.label;
    if (
      typeof label !== "number" || !Number.isInteger(label) || label < 0 || label >= NUM_CLASSES
    ) {
      return fail(
        "invalid_label",
        `Cannot decode request: expected 'label' to be an integer 0-${NUM_CLASSES - 1}, got ${
          typeof label === "number" ? label : typeName(label)
        }`,
        id,
      );
    }
    request.label = label;
  }
  const replyTo = readReplyTo(o, replyTopicPrefix, id!);
  if (!replyTo.ok) return replyTo as Decoded<never>;
  if (replyTo.value !== undefined) request.reply_to = replyTo.value as string;
  return { ok: true, value: request };
}

/**
 * Decodes and validates a response value: either a prediction (all fields,
 * ten finite probabilities, a label that matches the index) or an error.
 */
export function decodeResponse(bytes: Uint8Array | null | undefined): Decoded<Response> {
  const what = "response";
  const parsed = parseObject(bytes, MAX_RESPONSE_BYTES, what);
  if (!parsed.ok) return parsed;
  const o = parsed.value;
  const idResult = readId(o, what);
  if (!idResult.ok) return idResult as Decoded<never>;
  const id = idResult.value;
  const version = checkVersion(o, what, id);
  if (!version.ok) return version as Decoded<never>;
  // Any `error` field makes it an error reply: prediction fields are then not required.
  return o.error !== undefined ? readErrorReply(o, id) : readPrediction(o, id);
}

/** An error reply's `error`: an object with `code` and `message` strings. */
function readErrorReply(o: Record<string, unknown>, id: string): Decoded<ErrorReply> {
  const e = o.error as Record<string, unknown>;
  if (
    typeof e !== "object" || e === null || typeof e.code !== "string" ||
    typeof e.message !== "string"
  ) {
    return fail(
      "invalid_field",
      `Cannot decode response: expected 'error' to be {code, message} strings`,
      id,
    );
  }
  return { ok: true, value: { v: 1, id, error: { code: e.code, message: e.message } } };
}

/**
 * A prediction's fields, checked in a fixed order (index and label,
 * probabilities, probability, model and worker, times) so that the first bad
 * field is the one reported.
 */
function readPrediction(o: Record<string, unknown>, id: string): Decoded<Prediction> {
  const index = readClass(o, id);
  if (!index.ok) return index as Decoded<never>;
  const probs = readProbabilities(o, id);
  if (!probs.ok) return probs as Decoded<never>;
  const served = readServedBy(o, id);
  if (!served.ok) return served as Decoded<never>;
  const times = readResponseTimes(o, id);
  if (!times.ok) return times as Decoded<never>;
  const [sent_at, received_at, completed_at] = times.value;
  return {
    ok: true,
    value: {
      v: 1,
      id,
      label: o.label as string,
      index: index.value,
      probability: served.value.probability,
      probabilities: probs.value,
      model: served.value.model,
      worker: served.value.worker,
      sent_at,
      received_at,
      completed_at,
    },
  };
}

/** The class `index` 0-9, and a `label` that is that class's name. */
function readClass(o: Record<string, unknown>, id: string): Decoded<number> {
  const index = o.index;
  if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= NUM_CLASSES) {
    return fail(
      "invalid_field",
      `Cannot decode response: expected 'index' 0-${NUM_CLASSES - 1}, got ${JSON.stringify(index)}`,
      id,
    );
  }
  if (o.label !== CLASS_NAMES[index]) {
    return fail(
      "invalid_field",
      `Cannot decode response: expected 'label' ${
        JSON.stringify(CLASS_NAMES[index])
      } for index ${index}, got ${JSON.stringify(o.label)}`,
      id,
    );
  }
  return { ok: true, value: index };
}

/** `probabilities`: exactly one finite number per class. */
function readProbabilities(o: Record<string, unknown>, id: string): Decoded<number[]> {
  const probs = o.probabilities;
  if (
    !Array.isArray(probs) || probs.length !== NUM_CLASSES ||
    !probs.every((p) => typeof p === "number" && Number.isFinite(p))
  ) {
    return fail(
      "invalid_field",
      `Cannot decode response: expected 'probabilities' to be ${NUM_CLASSES} finite numbers`,
      id,
    );
  }
  return { ok: true, value: probs as number[] };
}

/** The winning `probability` (finite), and the `model` and `worker` that served it. */
function readServedBy(
  o: Record<string, unknown>,
  id: string,
): Decoded<{ probability: number; model: string; worker: string }> {
  if (typeof o.probability !== "number" || !Number.isFinite(o.probability)) {
    return fail(
      "invalid_field",
      `Cannot decode response: expected 'probability' to be a finite number`,
      id,
    );
  }
  if (typeof o.model !== "string" || typeof o.worker !== "string") {
    return fail(
      "invalid_field",
      `Cannot decode response: expected 'model' and 'worker' strings`,
      id,
    );
  }
  return { ok: true, value: { probability: o.probability, model: o.model, worker: o.worker } };
}

/** `sent_at`, `received_at` and `completed_at`, in that order; the first bad one fails. */
function readResponseTimes(
  o: Record<string, unknown>,
  id: string,
): Decoded<[number, number, number]> {
  const times: number[] = [];
  for (const key of ["sent_at", "received_at", "completed_at"]) {
    const t = finiteTime(o, key, "response", id);
    if (!t.ok) return t as Decoded<never>;
    times.push(t.value);
  }
  return { ok: true, value: [times[0], times[1], times[2]] };
}

/** Errors found before a request's JSON is read: its key is then the only id there is. */
export const UNREAD_ERRORS: ReadonlySet<string> = new Set(["too_large", "invalid_utf8"]);

/**
 * The id an error reply to a refused request goes to: the id read from its
 * JSON, else (when it was refused before its JSON was read) its key if that
 * is a valid id, else none.
 *
 * @example
 * ```ts
 * replyIdOf("too_large", undefined, key); // the key, when it is a valid id
 * ```
 */
export function replyIdOf(
  code: string,
  readId: string | undefined,
  key: Uint8Array | string | null | undefined,
): string | undefined {
  return readId ?? (UNREAD_ERRORS.has(code) ? idFromKey(key) : undefined);
}

/**
 * The request id a message key holds, or undefined when the key is no valid
 * id. The schema keys each request by its id, so a request refused before
 * its JSON is read (too large, not UTF-8) can still be answered by its key.
 *
 * @example
 * ```ts
 * const id = idFromKey(message.key); // "a1" for the key bytes of "a1"
 * ```
 */
export function idFromKey(key: Uint8Array | string | null | undefined): string | undefined {
  if (key === null || key === undefined) return undefined;
  let id: string;
  try {
    id = typeof key === "string" ? key : decoder.decode(key);
  } catch {
    return undefined;
  }
  return id.length > 0 && id.length <= MAX_ID_LENGTH && ID.test(id) ? id : undefined;
}

/** True for an error reply. */
export function isErrorReply(r: Response): r is ErrorReply {
  return "error" in r;
}
