import type { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { asBuffer } from "../shared/protocol/bytes.ts";

/** Header values of a Kafka message as kafkajs delivers them. */
export type Headers = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

/** What the worker knows of a message it could not serve. */
export interface Source {
  topic: string;
  partition: number;
  offset: string;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: Headers;
}

/**
 * Most bytes of the original value a dead letter keeps. The worker may read
 * topics it did not create, whose values reach the broker default of about
 * 1 MB; a whole copy plus headers then exceeds the DLQ's own limit, the
 * broker refuses it for good and the partition stalls. 64 KiB keeps a
 * request of any valid size (4 KiB) whole and leaves room for headers.
 */
export const DLQ_VALUE_PREFIX_BYTES = 64 * 1024;
/** Most bytes of the original key kept (an id is at most 128). */
export const DLQ_KEY_PREFIX_BYTES = 1024;
/** Most bytes of original headers copied; past it they are dropped, and counted. */
export const DLQ_COPIED_HEADER_BYTES = 16 * 1024;
/** Longest error message kept in a header. */
const DLQ_MESSAGE_CHARS = 1000;

function headerBytes(headers: Headers): number {
  let n = 0;
  for (const [name, v] of Object.entries(headers)) {
    for (const part of Array.isArray(v) ? v : [v]) {
      n += name.length + (part === undefined ? 0 : part.length);
    }
  }
  return n;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The original headers, or none with their size when they are too large to copy. */
function copiedHeaders(headers: Headers | undefined): Headers {
  if (!headers) return {};
  const bytes = headerBytes(headers);
  return bytes <= DLQ_COPIED_HEADER_BYTES ? headers : { "dlq-dropped-header-bytes": String(bytes) };
}

/**
 * The dead-letter record of a request that could not be served: its
 * original key, value and headers, plus headers naming the error and where
 * it came from, so it can be inspected and replayed. Its size is bounded
 * whatever the original's: the value keeps at most
 * {@linkcode DLQ_VALUE_PREFIX_BYTES}, and `dlq-original-bytes`,
 * `dlq-truncated` and `dlq-original-sha256` (of the whole value) say what
 * the original was.
 */
export function deadLetter(
  source: Source,
  error: { code: string; message: string },
  worker: string,
) {
  const value = source.value;
  const truncated = value !== null && value.length > DLQ_VALUE_PREFIX_BYTES;
  const key = source.key;
  const keyTruncated = key !== null && key.length > DLQ_KEY_PREFIX_BYTES;
  return {
    key: key === null ? null : asBuffer(keyTruncated ? key.subarray(0, DLQ_KEY_PREFIX_BYTES) : key),
    value: value === null
      ? null
      : asBuffer(truncated ? value.subarray(0, DLQ_VALUE_PREFIX_BYTES) : value),
    headers: {
      ...copiedHeaders(source.headers),
      "dlq-error-code": error.code,
      "dlq-error-message": error.message.slice(0, DLQ_MESSAGE_CHARS),
      "dlq-source-topic": source.topic,
      "dlq-source-partition": String(source.partition),
      "dlq-source-offset": source.offset,
      "dlq-worker": worker,
      "dlq-failed-at": String(Date.now()),
      ...(value === null ? {} : {
        "dlq-original-bytes": String(value.length),
        "dlq-truncated": String(truncated),
        "dlq-original-sha256": sha256(value),
      }),
      ...(keyTruncated ? { "dlq-original-key-bytes": String(key.length) } : {}),
    } as Headers,
  };
}
