import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  deadLetter,
  DLQ_COPIED_HEADER_BYTES,
  DLQ_KEY_PREFIX_BYTES,
  DLQ_VALUE_PREFIX_BYTES,
} from "../server/dead_letter.ts";

const enc = new TextEncoder();
const error = { code: "too_large", message: "Cannot decode request: too large" };
const source = (value: Uint8Array | null, key: Uint8Array | null = enc.encode("id-1")) => ({
  topic: "requests",
  partition: 3,
  offset: "42",
  key,
  value,
  headers: { trace: "t-1" },
});
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("deadLetter() keeps a bounded prefix of a 1,048,000-byte value", async (t) => {
  const value = new Uint8Array(1_048_000).map((_, i) => i % 251);
  const d = deadLetter(source(value), error, "w-1");
  await t.step("the value is its first 64 KiB", () => {
    assert.equal(DLQ_VALUE_PREFIX_BYTES, 65_536);
    assert.equal(d.value!.length, 65_536);
    assert.deepEqual(new Uint8Array(d.value!), value.subarray(0, 65_536));
  });
  await t.step(
    "headers give the original size, the truncation and the whole value's SHA-256",
    () => {
      assert.equal(d.headers["dlq-original-bytes"], "1048000");
      assert.equal(d.headers["dlq-truncated"], "true");
      assert.equal(d.headers["dlq-original-sha256"], sha(value));
      assert.match(String(d.headers["dlq-original-sha256"]), /^[0-9a-f]{64}$/);
    },
  );
  await t.step("the original headers, key and the error are kept", () => {
    assert.equal(d.headers.trace, "t-1");
    assert.equal(String(d.key), "id-1");
    assert.equal(d.headers["dlq-error-code"], "too_large");
    assert.equal(d.headers["dlq-source-offset"], "42");
  });
});

Deno.test("deadLetter() keeps a value of 64 KiB or less whole", () => {
  for (const n of [1, 4096, DLQ_VALUE_PREFIX_BYTES]) {
    const value = new Uint8Array(n).fill(7);
    const d = deadLetter(source(value), error, "w");
    assert.equal(d.value!.length, n);
    assert.equal(d.headers["dlq-truncated"], "false");
    assert.equal(d.headers["dlq-original-bytes"], String(n));
    assert.equal(d.headers["dlq-original-sha256"], sha(value));
  }
});

Deno.test("deadLetter() bounds the key, the copied headers and the message too", async (t) => {
  await t.step("a tombstone has no value headers", () => {
    const d = deadLetter(source(null), error, "w");
    assert.equal(d.value, null);
    assert.equal(d.headers["dlq-original-bytes"], undefined);
  });
  await t.step("a 5,000-byte key is cut to 1 KiB and its size noted", () => {
    const d = deadLetter(source(new Uint8Array(1), new Uint8Array(5000)), error, "w");
    assert.equal(d.key!.length, DLQ_KEY_PREFIX_BYTES);
    assert.equal(d.headers["dlq-original-key-bytes"], "5000");
  });
  await t.step("original headers over 16 KiB are dropped and their size noted", () => {
    const s = {
      ...source(new Uint8Array(1)),
      headers: { pad: "x".repeat(DLQ_COPIED_HEADER_BYTES) },
    };
    const d = deadLetter(s, error, "w");
    assert.equal(d.headers.pad, undefined);
    assert.equal(d.headers["dlq-dropped-header-bytes"], String(DLQ_COPIED_HEADER_BYTES + 3));
  });
  await t.step("an error message is cut to 1,000 characters", () => {
    const d = deadLetter(source(new Uint8Array(1)), {
      code: "internal_error",
      message: "e".repeat(5000),
    }, "w");
    assert.equal(String(d.headers["dlq-error-message"]).length, 1000);
  });
});
