import assert from "node:assert/strict";
import { CLASS_NAMES } from "../shared/protocol/classes.ts";
import { decodeImage, encodeImage, IMAGE_BASE64_LENGTH } from "../shared/protocol/image_codec.ts";
import {
  type ClassifyRequest,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type Prediction,
} from "../shared/protocol/schema.ts";
import { badRequests } from "../harness/bad_requests.ts";

const pixels = new Uint8Array(784).map((_, i) => (i * 7) % 256);

Deno.test("encodeImage() and decodeImage() round-trip 784 bytes as padded base64", () => {
  const text = encodeImage(pixels);
  assert.equal(text.length, IMAGE_BASE64_LENGTH);
  assert.match(text, /==$/);
  const back = decodeImage(text);
  assert.ok(back.ok);
  assert.deepEqual(back.value, pixels);
});

Deno.test("encodeImage() refuses anything but 784 bytes", () => {
  assert.throws(
    () => encodeImage(new Uint8Array(12)),
    new RangeError("Cannot encode image: expected 784 bytes, got 12"),
  );
});

Deno.test("decodeImage() names the size it found", () => {
  const r = decodeImage(btoa("x".repeat(12)));
  assert.ok(!r.ok);
  assert.equal(r.error.code, "wrong_image_size");
  assert.equal(r.error.message, "Cannot decode image: expected 784 bytes, got 12");
});

Deno.test("decodeRequest() round-trips a request with and without a label", async (t) => {
  const base: ClassifyRequest = { v: 1, id: "req-1", image: pixels, sent_at: 1_700_000_000_123 };
  await t.step("with a label", () => {
    const r = decodeRequest(encodeRequest({ ...base, label: 9 }));
    assert.ok(r.ok);
    assert.deepEqual(r.value, { ...base, label: 9 });
  });
  await t.step("without a label", () => {
    const r = decodeRequest(encodeRequest(base));
    assert.ok(r.ok);
    assert.deepEqual(r.value, base);
    assert.equal("label" in r.value, false);
  });
  await t.step("extra fields are ignored", () => {
    const wire = JSON.parse(new TextDecoder().decode(encodeRequest(base)));
    const r = decodeRequest(new TextEncoder().encode(JSON.stringify({ ...wire, extra: true })));
    assert.ok(r.ok);
  });
});

Deno.test("decodeRequest() rejects every kind of malformed request with its code", async (t) => {
  const cases = badRequests("unit");
  assert.ok(cases.length >= 25, `only ${cases.length} kinds`);
  for (const c of cases) {
    await t.step(c.kind, () => {
      const r = decodeRequest(c.value);
      assert.equal(r.ok, false, `${c.kind} was accepted`);
      if (r.ok) return;
      assert.equal(r.error.code, c.code, r.error.message);
      assert.equal(r.id, c.id);
      assert.match(r.error.message, /^Cannot decode (request|image): /);
    });
  }
});

Deno.test("decodeRequest() messages say what was expected and what was found", () => {
  const r = decodeRequest(new TextEncoder().encode(JSON.stringify({
    v: 1,
    id: "x",
    image: encodeImage(pixels),
    sent_at: 1,
    label: 12,
  })));
  assert.ok(!r.ok);
  assert.equal(
    r.error.message,
    "Cannot decode request: expected 'label' to be an integer 0-9, got 12",
  );
});

const prediction: Prediction = {
  v: 1,
  id: "req-1",
  label: CLASS_NAMES[7],
  index: 7,
  probability: 0.9,
  probabilities: [0, 0, 0, 0, 0, 0, 0, 0.9, 0.05, 0.05],
  model: "sha256:0123456789abcdef",
  worker: "host-1",
  sent_at: 1,
  received_at: 2,
  completed_at: 3,
};

Deno.test("decodeResponse() round-trips predictions and error replies", () => {
  const p = decodeResponse(encodeResponse(prediction));
  assert.ok(p.ok);
  assert.deepEqual(p.value, prediction);
  const e = { v: 1 as const, id: "r", error: { code: "invalid_base64", message: "bad" } };
  const r = decodeResponse(encodeResponse(e));
  assert.ok(r.ok);
  assert.deepEqual(r.value, e);
});

Deno.test("decodeResponse() rejects inconsistent predictions", async (t) => {
  const bad = (patch: Partial<Prediction>) =>
    decodeResponse(encodeResponse({ ...prediction, ...patch }));
  await t.step("a label that does not match the index", () => {
    const r = bad({ label: "Bag" });
    assert.ok(!r.ok);
    assert.match(r.error.message, /expected 'label' "Sneaker" for index 7, got "Bag"/);
  });
  await t.step("nine probabilities", () => {
    assert.equal(bad({ probabilities: [1, 0, 0, 0, 0, 0, 0, 0, 0] }).ok, false);
  });
  await t.step("an index out of range", () => {
    assert.equal(bad({ index: 10 }).ok, false);
  });
});

Deno.test("decodeRequest() takes a reply_to under the reply prefix and refuses others", async (t) => {
  const base: ClassifyRequest = { v: 1, id: "req-7", image: pixels, sent_at: 1_700_000_000_000 };
  await t.step("a tenant's topic under the default prefix round-trips", () => {
    const request = { ...base, reply_to: "analysis-responses.tenant-a" };
    const r = decodeRequest(encodeRequest(request));
    assert.ok(r.ok);
    assert.equal(r.value.reply_to, "analysis-responses.tenant-a");
  });
  await t.step("a configured prefix replaces the default", () => {
    const r = decodeRequest(encodeRequest({ ...base, reply_to: "replies.b" }), "replies.");
    assert.ok(r.ok);
    assert.equal(r.value.reply_to, "replies.b");
  });
  const refused: [string, unknown, string][] = [
    ["the shared topic itself", "analysis-responses", `"analysis-responses"`],
    ["the prefix alone", "analysis-responses.", `"analysis-responses."`],
    ["another service's topic", "analysis-requests", `"analysis-requests"`],
    ["a name Kafka would refuse", "analysis-responses.a b", `"analysis-responses.a b"`],
    ["a number", 42, "a number"],
  ];
  for (const [what, replyTo, found] of refused) {
    await t.step(`refuses ${what} with invalid_reply_to and keeps the id`, () => {
      const wire = JSON.parse(new TextDecoder().decode(encodeRequest(base)));
      const r = decodeRequest(
        new TextEncoder().encode(JSON.stringify({ ...wire, reply_to: replyTo })),
      );
      assert.ok(!r.ok);
      assert.equal(r.id, "req-7");
      assert.equal(r.error.code, "invalid_reply_to");
      assert.equal(
        r.error.message,
        `Cannot decode request: expected 'reply_to' to be a topic name starting with 'analysis-responses.', got ${found}`,
      );
    });
  }
});
