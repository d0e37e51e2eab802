import { Buffer } from "node:buffer";

/**
 * The bytes as a Node Buffer, without a copy: Kafka clients write Buffers as
 * bytes but would stringify a plain Uint8Array.
 *
 * @example
 * ```ts
 * const value = asBuffer(new TextEncoder().encode("{}"));
 * ```
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
