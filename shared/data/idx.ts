import { IMAGE_SIZE, NUM_CLASSES } from "../protocol/classes.ts";
import { DataError } from "./data_error.ts";

const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;

/** A set of labelled 28x28 grayscale images, row-major, one byte a pixel. */
export interface ImageSet {
  count: number;
  /** count * 784 bytes. */
  images: Uint8Array;
  /** count labels, 0-9. */
  labels: Uint8Array;
}

function header(bytes: Uint8Array, file: string, words: number): DataView {
  if (bytes.length < words * 4) {
    throw new DataError(
      "truncated",
      `${file}: truncated IDX header: expected ${words * 4} bytes, found ${bytes.length}`,
    );
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkMagic(view: DataView, file: string, expected: number): void {
  const magic = view.getUint32(0);
  if (magic !== expected) {
    throw new DataError(
      "bad_magic",
      `${file}: bad IDX magic number at byte 0: expected 0x${hex(expected)}, found 0x${hex(magic)}`,
    );
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function checkLength(
  bytes: Uint8Array,
  file: string,
  offset: number,
  expected: number,
): void {
  const found = bytes.length - offset;
  if (found < expected) {
    throw new DataError(
      "truncated",
      `${file}: truncated IDX data at byte ${bytes.length}: expected ${expected} bytes after the header, found ${found}`,
    );
  }
  if (found > expected) {
    throw new DataError(
      "bad_shape",
      `${file}: ${found - expected} unexpected bytes after byte ${offset + expected}`,
    );
  }
}

/**
 * Parses an IDX3 image file (already decompressed): magic 0x803, count, 28,
 * 28, then the pixels.
 *
 * @example
 * ```ts
 * const { count, images } = parseIdxImages(bytes, "t10k-images-idx3-ubyte");
 * ```
 */
export function parseIdxImages(
  bytes: Uint8Array,
  file: string,
): { count: number; images: Uint8Array } {
  const view = header(bytes, file, 4);
  checkMagic(view, file, IMAGES_MAGIC);
  const count = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  if (rows !== IMAGE_SIZE || cols !== IMAGE_SIZE) {
    throw new DataError(
      "bad_shape",
      `${file}: expected ${IMAGE_SIZE}x${IMAGE_SIZE} images, found ${rows}x${cols}`,
    );
  }
  checkLength(bytes, file, 16, count * rows * cols);
  return { count, images: bytes.subarray(16) };
}

/**
 * Parses an IDX1 label file (already decompressed): magic 0x801, count,
 * then one byte a label, each 0-9.
 *
 * @example
 * ```ts
 * const labels = parseIdxLabels(bytes, "t10k-labels-idx1-ubyte");
 * ```
 */
export function parseIdxLabels(bytes: Uint8Array, file: string): Uint8Array {
  const view = header(bytes, file, 2);
  checkMagic(view, file, LABELS_MAGIC);
  const count = view.getUint32(4);
  checkLength(bytes, file, 8, count);
  const labels = bytes.subarray(8);
  const bad = labels.findIndex((l) => l >= NUM_CLASSES);
  if (bad >= 0) {
    throw new DataError(
      "bad_value",
      `${file}: label at byte ${8 + bad} is ${labels[bad]}, expected 0-${NUM_CLASSES - 1}`,
    );
  }
  return labels;
}

/**
 * Pairs an image file with its label file, checking that the counts agree.
 *
 * @example
 * ```ts
 * const test = parseIdxPair(imageBytes, "t10k-images", labelBytes, "t10k-labels");
 * ```
 */
export function parseIdxPair(
  imageBytes: Uint8Array,
  imageFile: string,
  labelBytes: Uint8Array,
  labelFile: string,
): ImageSet {
  const { count, images } = parseIdxImages(imageBytes, imageFile);
  const labels = parseIdxLabels(labelBytes, labelFile);
  if (labels.length !== count) {
    throw new DataError(
      "count_mismatch",
      `${imageFile} has ${count} images but ${labelFile} has ${labels.length} labels: expected equal counts`,
    );
  }
  return { count, images, labels };
}
