import { parse } from "csv-parse/sync";
import { IMAGE_BYTES, NUM_CLASSES } from "../protocol/classes.ts";
import { DataError } from "./data_error.ts";
import type { ImageSet } from "./idx.ts";

/**
 * Parses labelled images from CSV text in the common Fashion-MNIST layout:
 * a header row, then `label,pixel1,...,pixel784` per image, labels 0-9 and
 * pixels 0-255 as integers. Row numbers in errors count the header as row 1.
 *
 * @example
 * ```ts
 * const set = parseImageCsv(await Deno.readTextFile("train.csv"), "train.csv");
 * ```
 */
export function parseImageCsv(text: string, file: string): ImageSet {
  let records: string[][];
  try {
    records = parse(text, { relax_column_count: true, skip_empty_lines: true });
  } catch (e) {
    throw new DataError("bad_row", `${file}: not valid CSV: ${(e as Error).message}`);
  }
  if (records.length === 0) {
    throw new DataError("bad_row", `${file}: empty: expected a header row and image rows`);
  }
  const width = IMAGE_BYTES + 1;
  const rows = records.slice(1);
  const images = new Uint8Array(rows.length * IMAGE_BYTES);
  const labels = new Uint8Array(rows.length);
  rows.forEach((record, i) => {
    const row = i + 2;
    if (record.length !== width) {
      throw new DataError(
        "bad_row",
        `${file}: row ${row} has ${record.length} columns, expected ${width} (label + ${IMAGE_BYTES} pixels)`,
      );
    }
    labels[i] = integerIn(record[0], NUM_CLASSES - 1, file, row, "label");
    for (let p = 0; p < IMAGE_BYTES; p++) {
      images[i * IMAGE_BYTES + p] = integerIn(record[p + 1], 255, file, row, `pixel${p + 1}`);
    }
  });
  return { count: rows.length, images, labels };
}

function integerIn(
  text: string,
  max: number,
  file: string,
  row: number,
  column: string,
): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isInteger(value) || value < 0 || value > max) {
    throw new DataError(
      "bad_value",
      `${file}: row ${row}, ${column} is '${text}', expected an integer 0-${max}`,
    );
  }
  return value;
}
