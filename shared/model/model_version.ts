/** A weight's name, shape and type, as in a TF.js weights manifest. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

/**
 * The SHA-256 of `data` as 64 lowercase hex digits.
 *
 * @example
 * ```ts
 * await sha256Hex(new TextEncoder().encode("abc")); // "ba7816bf..."
 * ```
 */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * JSON with object keys sorted at every depth, so two writers that order
 * keys differently still hash the same topology.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }); // '{"a":[2,{"c":4,"d":3}],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
        : v,
  );
}

/**
 * A model's content-addressed version: "sha256:" and the first 16 hex digits
 * of the hash of its canonical topology and weight specs, a zero byte, and
 * its weight bytes. Equal models get equal versions on every host, whatever
 * their folder or file names, and any change to layers or weights changes it.
 *
 * @example
 * ```ts
 * const version = await modelVersion(json.modelTopology, specs, weights); // "sha256:3f2a..."
 * ```
 */
export async function modelVersion(
  topology: unknown,
  weightSpecs: readonly WeightSpec[],
  weights: Uint8Array,
): Promise<string> {
  const head = new TextEncoder().encode(canonicalJson({ topology, weightSpecs }));
  const all = new Uint8Array(head.length + 1 + weights.length);
  all.set(head, 0);
  all.set(weights, head.length + 1);
  return `sha256:${(await sha256Hex(all)).slice(0, 16)}`;
}

/** Bytes per element of the dtypes a layers model's weights use. */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/**
 * How many bytes the weights described by `specs` take, or a TypeError for
 * a dtype or shape TF.js layers models do not store.
 *
 * @example
 * ```ts
 * weightBytes([{ name: "w", shape: [3, 2], dtype: "float32" }]); // 24
 * ```
 */
export function weightBytes(specs: readonly WeightSpec[]): number {
  let total = 0;
  for (const s of specs) {
    const size = DTYPE_BYTES[s.dtype];
    if (size === undefined) {
      throw new TypeError(
        `Weight ${s.name}: expected dtype float32, int32 or bool, got ${s.dtype}`,
      );
    }
    if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new TypeError(
        `Weight ${s.name}: expected a shape of whole numbers, got ${JSON.stringify(s.shape)}`,
      );
    }
    total += s.shape.reduce((n, d) => n * d, 1) * size;
  }
  return total;
}
