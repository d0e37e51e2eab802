import { IMAGE_BYTES } from "./classes.ts";
import { CodecError, type Decoded } from "./codec_error.ts";

// Uint8Array base64 methods ship in V8 (Deno 2.9) but not yet in TS's libs.
type Base64Uint8Array = Uint8ArrayConstructor & {
  fromBase64(s: string, o: { lastChunkHandling: "strict" }): Uint8Array;
};
type Base64Bytes = Uint8Array & { toBase64(): string };

/** Characters of a base64 image of 784 bytes: 1,048, ending in "==". */
export const IMAGE_BASE64_LENGTH = Math.ceil(IMAGE_BYTES / 3) * 4;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Encodes a 28x28 grayscale image (784 bytes, row-major) as standard
 * base64 with padding.
 *
 * @example
 * ```ts
 * encodeImage(new Uint8Array(784)).length; // 1048
 * ```
 */
export function encodeImage(pixels: Uint8Array): string {
  if (pixels.length !== IMAGE_BYTES) {
    throw new RangeError(
      `Cannot encode image: expected ${IMAGE_BYTES} bytes, got ${pixels.length}`,
    );
  }
  return (pixels as Base64Bytes).toBase64();
}

/**
 * Decodes standard, padded base64 into exactly 784 image bytes. Rejects
 * other alphabets, whitespace, missing or wrong padding, non-zero padding
 * bits and any other size.
 *
 * @example
 * ```ts
 * const r = decodeImage(text);
 * if (r.ok) predict(r.value); else console.error(r.error.message);
 * ```
 */
export function decodeImage(text: string): Decoded<Uint8Array> {
  if (text.length % 4 !== 0 || !BASE64.test(text)) {
    return fail(
      "invalid_base64",
      `Cannot decode image: expected standard padded base64 (A-Z a-z 0-9 + / and '=', length a multiple of 4), got ${
        describe(text)
      }`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = (Uint8Array as Base64Uint8Array).fromBase64(text, { lastChunkHandling: "strict" });
  } catch (e) {
    return fail("invalid_base64", `Cannot decode image: ${(e as Error).message}`);
  }
  if (bytes.length !== IMAGE_BYTES) {
    return fail(
      "wrong_image_size",
      `Cannot decode image: expected ${IMAGE_BYTES} bytes, got ${bytes.length}`,
    );
  }
  return { ok: true, value: bytes };
}

function fail(code: "invalid_base64" | "wrong_image_size", message: string): Decoded<never> {
  return { ok: false, error: new CodecError(code, message) };
}

function describe(text: string): string {
  const bad = text.search(/[^A-Za-z0-9+/=]/);
  if (bad >= 0) return `character ${JSON.stringify(text[bad])} at position ${bad}`;
  if (text.length % 4 !== 0) return `length ${text.length}`;
  return "misplaced '=' padding";
}
