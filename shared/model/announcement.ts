/**
 * The value of a model announcement on the model-updates topic: a model's
 * files, their SHA-256, its content-addressed version and the chain of
 * versions announced before it. Pure: bytes in, bytes or a coded error out.
 *
 * Layout: "FMA1", a 4-byte big-endian header length, the header as UTF-8
 * JSON, then the files' bytes back to back in the header's order. Binary
 * rather than JSON with base64 because the weights (2.2 MB for the CNN)
 * would grow by a third.
 */
import { modelVersion, sha256Hex, weightBytes, type WeightSpec } from "./model_version.ts";
import { IMAGE_SIZE } from "../protocol/classes.ts";

const MAGIC = [0x46, 0x4d, 0x41, 0x31]; // "FMA1"
const PREFIX_BYTES = 8;
/** Largest header accepted: it holds names, hashes, metrics and history only. */
export const MAX_HEADER_BYTES = 256 * 1024;
/**
 * Largest announcement value. The topic is created with max.message.bytes
 * 8 MiB; the 64 KiB margin leaves room for the record's key and framing.
 */
export const MAX_ANNOUNCEMENT_BYTES = 8 * 1024 * 1024 - 64 * 1024;
/** Most versions an announcement remembers for rollback. */
export const MAX_HISTORY = 50;
const NAME = /^[A-Za-z0-9._-]{1,100}$/;
const VERSION = /^sha256:[0-9a-f]{16}$/;

/** Why an announcement was refused; stable strings a caller can switch on. */
export type AnnouncementErrorCode =
  | "too_large"
  | "bad_magic"
  | "bad_header"
  | "truncated"
  | "bad_hash"
  | "wrong_shape";

/** A refused announcement, with a message that says what was expected and found. */
export class AnnouncementError extends Error {
  readonly code: AnnouncementErrorCode;
  constructor(code: AnnouncementErrorCode, message: string) {
    super(message);
    this.name = "AnnouncementError";
    this.code = code;
  }
}

/** Test figures of a model, from the metrics.json its training wrote. */
export interface AnnouncedMetrics {
  test_accuracy?: number;
  [key: string]: unknown;
}

/** A model as announced: what a worker needs to check, load and serve it. */
export interface Announcement {
  /** The model's name: the record's key. */
  name: string;
  /** Content-addressed: see modelVersion(). */
  version: string;
  /** ISO time of this announcement (a rollback re-announces with a new time). */
  announcedAt: string;
  /** Versions announced before this one, oldest first: what rollback goes back to. */
  history: string[];
  metrics: AnnouncedMetrics | null;
  /** The model.json file as written by training, parsed. */
  modelJson: {
    modelTopology: unknown;
    weightsManifest: { paths?: string[]; weights: WeightSpec[] }[];
  };
  /** All weight bytes, in manifest order. */
  weights: Uint8Array;
}

interface FileEntry {
  path: string;
  bytes: number;
  sha256: string;
}

interface Header {
  v: 1;
  name: string;
  version: string;
  announced_at: string;
  history: string[];
  metrics: AnnouncedMetrics | null;
  files: FileEntry[];
}

/** The outcome of decodeAnnouncement(): never an exception. */
export type CheckedAnnouncement =
  | { ok: true; value: Announcement }
  | { ok: false; error: AnnouncementError };

/**
 * The weight specs of a model.json, in manifest order: what the weight
 * bytes hold, one spec after another.
 *
 * @example
 * ```ts
 * weightBytes(weightSpecsOf(announcement.modelJson)); // 2,168,920 for the CNN
 * ```
 */
export function weightSpecsOf(modelJson: Announcement["modelJson"]): WeightSpec[] {
  return modelJson.weightsManifest.flatMap((g) => g.weights);
}

/**
 * Encodes an announcement into one record value, with each file's SHA-256
 * in the header. Throws a RangeError when it would not fit the topic.
 *
 * @example
 * ```ts
 * const value = await encodeAnnouncement(announcement);
 * await producer.send({ topic, messages: [{ key: announcement.name, value: asBuffer(value) }] });
 * ```
 */
export async function encodeAnnouncement(a: Announcement): Promise<Uint8Array> {
  if (!NAME.test(a.name)) {
    throw new TypeError(`Model name: expected letters, digits, '.', '_' or '-', got '${a.name}'`);
  }
  const modelJson = new TextEncoder().encode(JSON.stringify(a.modelJson));
  const files = [
    { path: "model.json", data: modelJson },
    { path: "weights.bin", data: a.weights },
  ];
  const header: Header = {
    v: 1,
    name: a.name,
    version: a.version,
    announced_at: a.announcedAt,
    history: a.history.slice(-MAX_HISTORY),
    metrics: a.metrics,
    files: await Promise.all(
      files.map(async (f) => ({
        path: f.path,
        bytes: f.data.length,
        sha256: await sha256Hex(f.data),
      })),
    ),
  };
  const head = new TextEncoder().encode(JSON.stringify(header));
  const total = PREFIX_BYTES + head.length + modelJson.length + a.weights.length;
  if (total > MAX_ANNOUNCEMENT_BYTES) {
    throw new RangeError(
      `Model ${a.name} ${a.version}: expected an announcement of at most ${MAX_ANNOUNCEMENT_BYTES} bytes, got ${total}`,
    );
  }
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, head.length);
  out.set(head, PREFIX_BYTES);
  out.set(modelJson, PREFIX_BYTES + head.length);
  out.set(a.weights, PREFIX_BYTES + head.length + modelJson.length);
  return out;
}

const fail = (code: AnnouncementErrorCode, message: string): CheckedAnnouncement => ({
  ok: false,
  error: new AnnouncementError(code, message),
});

/**
 * Decodes and checks an announcement: framing, header, file sizes (a
 * truncated record), each file's SHA-256 and the version (bad hash), the
 * weight specs against the weight bytes and the input shape [28, 28, 1]
 * (wrong shapes). What it cannot see without TF.js (the output shape, a
 * smoke batch) is checkModel()'s job.
 *
 * @example
 * ```ts
 * const d = await decodeAnnouncement(message.value);
 * if (!d.ok) console.error(`refused: ${d.error.code}: ${d.error.message}`);
 * ```
 */
export async function decodeAnnouncement(
  value: Uint8Array | null | undefined,
): Promise<CheckedAnnouncement> {
  if (!value || value.length < PREFIX_BYTES) {
    return fail(
      "truncated",
      `Expected an announcement of at least 8 bytes, got ${value?.length ?? 0}`,
    );
  }
  if (value.length > MAX_ANNOUNCEMENT_BYTES) {
    return fail(
      "too_large",
      `Expected at most ${MAX_ANNOUNCEMENT_BYTES} bytes, got ${value.length}`,
    );
  }
  if (!MAGIC.every((b, i) => value[i] === b)) {
    return fail("bad_magic", `Expected an announcement starting with "FMA1", got other bytes`);
  }
  const headerLength = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(4);
  if (headerLength > MAX_HEADER_BYTES || PREFIX_BYTES + headerLength > value.length) {
    return fail(
      "truncated",
      `Expected a header of ${headerLength} bytes within ${value.length - PREFIX_BYTES}, got less`,
    );
  }
  const header = parseHeader(value.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength));
  if (typeof header === "string") return fail("bad_header", header);
  const declared = header.files.reduce((n, f) => n + f.bytes, 0);
  const body = value.subarray(PREFIX_BYTES + headerLength);
  if (body.length !== declared) {
    return fail("truncated", `Expected ${declared} bytes of model files, got ${body.length}`);
  }
  const [jsonFile, weightsFile] = header.files;
  const jsonBytes = body.subarray(0, jsonFile.bytes);
  const weights = body.subarray(jsonFile.bytes);
  for (const [file, data] of [[jsonFile, jsonBytes], [weightsFile, weights]] as const) {
    const actual = await sha256Hex(data);
    if (actual !== file.sha256) {
      return fail("bad_hash", `${file.path}: expected SHA-256 ${file.sha256}, got ${actual}`);
    }
  }
  return await checkModelFiles(header, jsonBytes, weights);
}

async function checkModelFiles(
  header: Header,
  jsonBytes: Uint8Array,
  weights: Uint8Array,
): Promise<CheckedAnnouncement> {
  let modelJson: Announcement["modelJson"];
  try {
    modelJson = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(jsonBytes));
  } catch (e) {
    return fail("bad_header", `model.json: expected JSON, got ${(e as Error).message}`);
  }
  if (!modelJson?.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    return fail("bad_header", "model.json: expected modelTopology and weightsManifest");
  }
  const specs = weightSpecsOf(modelJson);
  let expected: number;
  try {
    expected = weightBytes(specs);
  } catch (e) {
    return fail("wrong_shape", (e as Error).message);
  }
  if (expected !== weights.length) {
    return fail(
      "wrong_shape",
      `Expected ${expected} weight bytes for the manifest's shapes, got ${weights.length}`,
    );
  }
  const input = inputShape(modelJson.modelTopology);
  const want = [null, IMAGE_SIZE, IMAGE_SIZE, 1];
  if (JSON.stringify(input) !== JSON.stringify(want)) {
    return fail(
      "wrong_shape",
      `Expected input shape ${JSON.stringify(want)}, got ${JSON.stringify(input ?? null)}`,
    );
  }
  const version = await modelVersion(modelJson.modelTopology, specs, weights);
  if (version !== header.version) {
    return fail("bad_hash", `Expected version ${header.version} from the files, got ${version}`);
  }
  return {
    ok: true,
    value: {
      name: header.name,
      version,
      announcedAt: header.announced_at,
      history: header.history,
      metrics: header.metrics,
      modelJson,
      weights,
    },
  };
}

/** The header's fields, or a message saying which one is wrong. */
function parseHeader(bytes: Uint8Array): Header | string {
  let h: Header;
  try {
    h = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    return `Expected a JSON header, got ${(e as Error).message}`;
  }
  if (!h || typeof h !== "object" || h.v !== 1) {
    return `Expected a header object with v 1, got v ${JSON.stringify(h?.v)}`;
  }
  if (typeof h.name !== "string" || !NAME.test(h.name)) {
    return `Expected a model name, got ${JSON.stringify(h.name)}`;
  }
  if (typeof h.version !== "string" || !VERSION.test(h.version)) {
    return `Expected a version sha256:<16 hex>, got ${JSON.stringify(h.version)}`;
  }
  if (typeof h.announced_at !== "string" || Number.isNaN(Date.parse(h.announced_at))) {
    return `Expected announced_at as an ISO time, got ${JSON.stringify(h.announced_at)}`;
  }
  if (!Array.isArray(h.history) || !h.history.every((v) => VERSION.test(String(v)))) {
    return `Expected history as a list of versions, got ${JSON.stringify(h.history)}`;
  }
  if (h.metrics !== null && typeof h.metrics !== "object") {
    return `Expected metrics as an object or null, got ${JSON.stringify(h.metrics)}`;
  }
  const files = h.files;
  const okFiles = Array.isArray(files) && files.length === 2 &&
    files[0]?.path === "model.json" && files[1]?.path === "weights.bin" &&
    files.every((f) =>
      Number.isSafeInteger(f.bytes) && f.bytes >= 0 && /^[0-9a-f]{64}$/.test(String(f.sha256))
    );
  if (!okFiles) {
    return `Expected files model.json and weights.bin with bytes and sha256, got ${
      JSON.stringify(files)?.slice(0, 200)
    }`;
  }
  return h;
}

/** The batch input shape of a layers topology's first layer, when it has one. */
function inputShape(topology: unknown): unknown {
  const t = topology as {
    config?: { layers?: { config?: { batch_input_shape?: unknown } }[] };
  };
  return t?.config?.layers?.[0]?.config?.batch_input_shape;
}
