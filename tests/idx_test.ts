import assert from "node:assert/strict";
import { DataError } from "../shared/data/data_error.ts";
import { parseIdxImages, parseIdxLabels, parseIdxPair } from "../shared/data/idx.ts";

function idx(magic: number, dims: number[], body: Uint8Array): Uint8Array {
  const head = new DataView(new ArrayBuffer(4 + dims.length * 4));
  head.setUint32(0, magic);
  dims.forEach((d, i) => head.setUint32(4 + i * 4, d));
  const out = new Uint8Array(head.byteLength + body.length);
  out.set(new Uint8Array(head.buffer));
  out.set(body, head.byteLength);
  return out;
}

const images = (n: number) =>
  idx(0x803, [n, 28, 28], Uint8Array.from({ length: n * 784 }, (_, i) => i % 256));
const labels = (values: number[]) => idx(0x801, [values.length], Uint8Array.from(values));

function rejects(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("parseIdxPair() reads images and labels that agree", () => {
  const set = parseIdxPair(images(3), "img", labels([0, 9, 4]), "lab");
  assert.equal(set.count, 3);
  assert.equal(set.images.length, 3 * 784);
  assert.equal(set.images[785], 785 % 256);
  assert.deepEqual(Array.from(set.labels), [0, 9, 4]);
});

Deno.test("parseIdxImages() rejects a bad magic number", () => {
  const bytes = images(1);
  bytes[3] = 0x01;
  rejects(
    () => parseIdxImages(bytes, "x.idx"),
    "bad_magic",
    /^x\.idx: bad IDX magic number at byte 0: expected 0x00000803, found 0x00000801$/,
  );
});

Deno.test("parseIdxImages() rejects a truncated file", async (t) => {
  await t.step("in the header", () => {
    rejects(
      () => parseIdxImages(new Uint8Array(7), "h"),
      "truncated",
      /expected 16 bytes, found 7/,
    );
  });
  await t.step("in the pixels", () => {
    const bytes = images(2).subarray(0, 16 + 784 + 10);
    rejects(
      () => parseIdxImages(bytes, "p"),
      "truncated",
      /^p: truncated IDX data at byte 810: expected 1568 bytes after the header, found 794$/,
    );
  });
});

Deno.test("parseIdxImages() rejects images that are not 28x28", () => {
  rejects(
    () => parseIdxImages(idx(0x803, [1, 32, 32], new Uint8Array(1024)), "big"),
    "bad_shape",
    /expected 28x28 images, found 32x32/,
  );
});

Deno.test("parseIdxImages() rejects bytes after the last image", () => {
  const bytes = new Uint8Array(images(1).length + 3);
  bytes.set(images(1));
  rejects(() => parseIdxImages(bytes, "long"), "bad_shape", /3 unexpected bytes after byte 800/);
});

Deno.test("parseIdxLabels() rejects a label outside 0-9", () => {
  rejects(
    () => parseIdxLabels(labels([1, 10]), "l"),
    "bad_value",
    /^l: label at byte 9 is 10, expected 0-9$/,
  );
});

Deno.test("parseIdxPair() rejects mismatched image and label counts", () => {
  rejects(
    () => parseIdxPair(images(2), "img", labels([1, 2, 3]), "lab"),
    "count_mismatch",
    /^img has 2 images but lab has 3 labels: expected equal counts$/,
  );
});
