import { DataError } from "./data_error.ts";
import { type ImageSet, parseIdxPair } from "./idx.ts";
import { parseImageCsv } from "./image_csv.ts";
import { exists } from "../fs/exists.ts";

/** The original project's layout: the dataset repository cloned beside this one. */
export const SIBLING_DATA_DIR = "../fashion-mnist/data/fashion";
/** Where Debian's `dataset-fashion-mnist` package puts the files. */
export const SYSTEM_DATA_DIR = "/usr/share/datasets/fashion-mnist";

const FILES = {
  train: ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"],
  test: ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"],
} as const;

export type Split = keyof typeof FILES;

/**
 * Finds the folder that holds the four Fashion-MNIST IDX .gz files, trying
 * in order: `explicit` (--data), `fromEnv` (FASHION_MNIST_DIR), the
 * original project's sibling clone, then Debian's package folder.
 */
export async function findDataDir(
  explicit?: string,
  fromEnv?: string,
): Promise<string> {
  const given = explicit ?? fromEnv;
  const candidates = given ? [given] : [SIBLING_DATA_DIR, SYSTEM_DATA_DIR];
  for (const dir of candidates) {
    if (await exists(`${dir}/${FILES.test[0]}`)) return dir;
  }
  const where = given
    ? `${given} (from ${explicit ? "--data" : "FASHION_MNIST_DIR"}) has no ${FILES.test[0]}`
    : "no Fashion-MNIST files found";
  throw new DataError(
    "not_found",
    `${where}. Get the data in one of these ways: pass --data DIR; set FASHION_MNIST_DIR=DIR; ` +
      `clone the fashion-mnist repository beside this one (${SIBLING_DATA_DIR}); ` +
      `or install Debian's package: sudo apt-get install dataset-fashion-mnist (${SYSTEM_DATA_DIR}).`,
  );
}

async function gunzipFile(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
  try {
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new DataError("truncated", `${path}: not a complete gzip file: ${(e as Error).message}`);
  }
}

/** Reads and validates one split of Fashion-MNIST from `dir`. */
export async function loadFashionMnist(dir: string, split: Split): Promise<ImageSet> {
  const [imageFile, labelFile] = FILES[split].map((f) => `${dir}/${f}`);
  const [images, labels] = await Promise.all([gunzipFile(imageFile), gunzipFile(labelFile)]);
  return parseIdxPair(images, imageFile, labels, labelFile);
}

/** Reads and validates labelled images from a CSV file (see parseImageCsv). */
export async function loadImageCsv(path: string): Promise<ImageSet> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DataError("not_found", `${path}: no such file`);
    }
    throw e;
  }
  return parseImageCsv(text, path);
}
