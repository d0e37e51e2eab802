import type { Buffer } from "node:buffer";
import type { CodecError } from "../shared/protocol/codec_error.ts";

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
 * The dead-letter record of a malformed request: its original key, value
 * and headers, plus headers naming the error and where it came from, so it
 * can be inspected and replayed.
 */
export function deadLetter(source: Source, error: CodecError, worker: string) {
  return {
    key: source.key as Buffer | null,
    value: source.value as Buffer | null,
    headers: {
      ...(source.headers ?? {}),
      "dlq-error-code": error.code,
      "dlq-error-message": error.message,
      "dlq-source-topic": source.topic,
      "dlq-source-partition": String(source.partition),
      "dlq-source-offset": source.offset,
      "dlq-worker": worker,
      "dlq-failed-at": String(Date.now()),
    },
  };
}
