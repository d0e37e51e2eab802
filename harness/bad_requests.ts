/**
 * Malformed request values, each with the error code the worker must
 * report: shared by the schema unit tests and the live bad-input suite.
 */
import { encodeImage } from "../shared/protocol/image_codec.ts";

const enc = new TextEncoder();
const IMAGE = encodeImage(new Uint8Array(784).map((_, i) => i % 256));
const b64 = (n: number) => btoa(String.fromCharCode(...new Uint8Array(n).fill(7)));
const json = (o: unknown) => enc.encode(JSON.stringify(o));
const good = (id: string) => ({ v: 1, id, image: IMAGE, sent_at: Date.now(), label: 3 });

export interface BadRequest {
  kind: string;
  value: Uint8Array | null;
  code: string;
  /** The id the worker can still read, for an error reply. */
  id?: string;
}

/** At least 25 kinds of malformed requests; `tag` makes ids unique per run. */
export function badRequests(tag: string): BadRequest[] {
  const id = (k: string) => `bad-${tag}-${k}`;
  return [
    ...framingCases(),
    ...idAndVersionCases(id),
    ...imageCases(id),
    ...labelAndTimeCases(id),
  ];
}

/** Values that are no JSON object at all (or too big to read): no id to answer. */
function framingCases(): BadRequest[] {
  return [
    { kind: "not JSON", value: enc.encode("hello, worker"), code: "invalid_json" },
    { kind: "truncated JSON", value: enc.encode('{"v":1,"id":"x"'), code: "invalid_json" },
    { kind: "a JSON array", value: json([1, 2, 3]), code: "not_object" },
    { kind: "a JSON string", value: json("image"), code: "not_object" },
    { kind: "JSON null", value: enc.encode("null"), code: "not_object" },
    { kind: "a null value (tombstone)", value: null, code: "empty" },
    { kind: "an empty value", value: new Uint8Array(0), code: "empty" },
    {
      kind: "binary garbage",
      value: Uint8Array.from([0xff, 0xfe, 0x00, 0x81, 0xc3, 0x28]),
      code: "invalid_utf8",
    },
    {
      kind: "over the size limit",
      value: enc.encode(JSON.stringify({ ...good("big"), pad: "x".repeat(5000) })),
      code: "too_large",
    },
    {
      kind: "deeply nested JSON",
      value: enc.encode("[".repeat(2000) + "]".repeat(2000)),
      code: "not_object",
    },
  ];
}

/**
 * A bad id (so nothing to answer to), then a bad version beside a good id;
 * `id` makes the readable ids unique per run.
 */
function idAndVersionCases(id: (k: string) => string): BadRequest[] {
  return [
    { kind: "missing id", value: json({ v: 1, image: IMAGE, sent_at: 1 }), code: "missing_field" },
    { kind: "numeric id", value: json({ ...good("x"), id: 42 }), code: "invalid_id" },
    { kind: "empty id", value: json({ ...good("x"), id: "" }), code: "invalid_id" },
    { kind: "huge id", value: json({ ...good("x"), id: "i".repeat(500) }), code: "invalid_id" },
    { kind: "id with spaces", value: json({ ...good("x"), id: "a b" }), code: "invalid_id" },
    {
      kind: "missing version",
      value: json({ id: id("nov"), image: IMAGE, sent_at: 1 }),
      code: "missing_field",
      id: id("nov"),
    },
    {
      kind: "unknown version",
      value: json({ ...good(id("v2")), v: 2 }),
      code: "unsupported_version",
      id: id("v2"),
    },
    {
      kind: "version as a string",
      value: json({ ...good(id("vs")), v: "1" }),
      code: "unsupported_version",
      id: id("vs"),
    },
  ];
}

/** A missing or malformed image: not base64, not strict base64, or not 784 bytes. */
function imageCases(id: (k: string) => string): BadRequest[] {
  return [
    {
      kind: "missing image",
      value: json({ v: 1, id: id("noimg"), sent_at: 1 }),
      code: "missing_field",
      id: id("noimg"),
    },
    {
      kind: "image as an array",
      value: json({ ...good(id("imgarr")), image: [1, 2, 3] }),
      code: "invalid_field",
      id: id("imgarr"),
    },
    {
      kind: "invalid base64 character",
      value: json({ ...good(id("b64c")), image: "*" + IMAGE.slice(1) }),
      code: "invalid_base64",
      id: id("b64c"),
    },
    {
      kind: "url-safe base64 alphabet",
      value: json({
        ...good(id("b64u")),
        image: IMAGE.replace(/\+/g, "-").replace(/\//g, "_").replace(/^./, "-"),
      }),
      code: "invalid_base64",
      id: id("b64u"),
    },
    {
      kind: "missing padding",
      value: json({ ...good(id("pad")), image: IMAGE.replace(/=+$/, "") }),
      code: "invalid_base64",
      id: id("pad"),
    },
    {
      kind: "non-zero padding bits",
      value: json({ ...good(id("bits")), image: IMAGE.slice(0, -3) + "B==" }),
      code: "invalid_base64",
      id: id("bits"),
    },
    {
      kind: "whitespace in base64",
      value: json({ ...good(id("ws")), image: IMAGE.slice(0, 8) + " " + IMAGE.slice(9) }),
      code: "invalid_base64",
      id: id("ws"),
    },
    {
      kind: "783 bytes",
      value: json({ ...good(id("783")), image: b64(783) }),
      code: "wrong_image_size",
      id: id("783"),
    },
    {
      kind: "785 bytes",
      value: json({ ...good(id("785")), image: b64(785) }),
      code: "wrong_image_size",
      id: id("785"),
    },
    {
      kind: "empty image",
      value: json({ ...good(id("0b")), image: "" }),
      code: "wrong_image_size",
      id: id("0b"),
    },
  ];
}

/** A label that is no integer 0-9, and a sent_at that is missing, not finite or negative. */
function labelAndTimeCases(id: (k: string) => string): BadRequest[] {
  return [
    {
      kind: "label 10",
      value: json({ ...good(id("l10")), label: 10 }),
      code: "invalid_label",
      id: id("l10"),
    },
    {
      kind: "label -1",
      value: json({ ...good(id("lneg")), label: -1 }),
      code: "invalid_label",
      id: id("lneg"),
    },
    {
      kind: "label 2.5",
      value: json({ ...good(id("lfrac")), label: 2.5 }),
      code: "invalid_label",
      id: id("lfrac"),
    },
    {
      kind: "label as a string",
      value: json({ ...good(id("lstr")), label: "3" }),
      code: "invalid_label",
      id: id("lstr"),
    },
    {
      kind: "missing sent_at",
      value: json({ v: 1, id: id("nosent"), image: IMAGE }),
      code: "missing_field",
      id: id("nosent"),
    },
    {
      kind: "NaN sent_at",
      value: enc.encode(`{"v":1,"id":"${id("nan")}","image":"${IMAGE}","sent_at":NaN}`),
      code: "invalid_json",
    },
    {
      kind: "Infinity sent_at (as 1e999)",
      value: enc.encode(`{"v":1,"id":"${id("inf")}","image":"${IMAGE}","sent_at":1e999}`),
      code: "invalid_field",
      id: id("inf"),
    },
    {
      kind: "negative sent_at",
      value: json({ ...good(id("negt")), sent_at: -5 }),
      code: "invalid_field",
      id: id("negt"),
    },
  ];
}
