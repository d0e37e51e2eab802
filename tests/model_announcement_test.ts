import assert from "node:assert/strict";
import {
  type Announcement,
  AnnouncementError,
  decodeAnnouncement,
  encodeAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
} from "../shared/model/announcement.ts";
import { canonicalJson, modelVersion, sha256Hex } from "../shared/model/model_version.ts";
import {
  decodeServing,
  encodeServing,
  parseModelKey,
  promoted,
  rollbackTarget,
  rolledBack,
} from "../shared/model/catalog.ts";

const SPECS = [{ name: "dense/kernel", shape: [2, 3], dtype: "float32" }];

function topology(inputShape: (number | null)[] = [null, 28, 28, 1]) {
  return {
    class_name: "Sequential",
    config: {
      name: "s",
      layers: [{ class_name: "Dense", config: { batch_input_shape: inputShape } }],
    },
  };
}

/** A tiny but well-formed announcement: 24 weight bytes for a [2, 3] float32 kernel. */
async function announcement(
  o: { seed?: number; specs?: typeof SPECS; input?: (number | null)[]; history?: string[] } = {},
): Promise<Announcement> {
  const weights = Uint8Array.from({ length: 24 }, (_, i) => (i * 13 + (o.seed ?? 0)) % 256);
  const specs = o.specs ?? SPECS;
  const modelTopology = topology(o.input);
  return {
    name: "fashion-cnn",
    version: await modelVersion(modelTopology, specs, weights),
    announcedAt: "2026-01-02T03:04:05.000Z",
    history: o.history ?? [],
    metrics: { test_accuracy: 0.91 },
    modelJson: { modelTopology, weightsManifest: [{ weights: specs }] },
    weights,
  };
}

async function refusal(bytes: Uint8Array | null): Promise<AnnouncementError> {
  const d = await decodeAnnouncement(bytes);
  assert.equal(d.ok, false, "expected the announcement to be refused");
  if (d.ok) throw new Error("unreachable");
  assert.ok(d.error instanceof AnnouncementError);
  return d.error;
}

Deno.test("decodeAnnouncement() returns what encodeAnnouncement() was given", async () => {
  const a = await announcement({ history: ["sha256:0123456789abcdef"] });
  const d = await decodeAnnouncement(await encodeAnnouncement(a));
  assert.ok(d.ok);
  assert.deepEqual(d.value, a);
});

Deno.test("decodeAnnouncement() refuses a corrupt announcement with a coded error", async (t) => {
  const a = await announcement();
  const good = await encodeAnnouncement(a);

  await t.step("a flipped weight byte: bad hash of weights.bin", async () => {
    const bad = good.slice();
    bad[bad.length - 1] ^= 0xff;
    const e = await refusal(bad);
    assert.equal(e.code, "bad_hash");
    const expected = await sha256Hex(a.weights);
    const flipped = a.weights.slice();
    flipped[flipped.length - 1] ^= 0xff;
    assert.equal(
      e.message,
      `weights.bin: expected SHA-256 ${expected}, got ${await sha256Hex(flipped)}`,
    );
  });

  await t.step("weights cut short: truncated", async () => {
    const e = await refusal(good.subarray(0, good.length - 10));
    assert.equal(e.code, "truncated");
    const files = JSON.stringify(a.modelJson).length + 24;
    assert.equal(e.message, `Expected ${files} bytes of model files, got ${files - 10}`);
  });

  await t.step("a header version that is not the files' hash: bad hash", async () => {
    const e = await refusal(await encodeAnnouncement({ ...a, version: "sha256:0000000000000000" }));
    assert.equal(e.code, "bad_hash");
    assert.equal(
      e.message,
      `Expected version sha256:0000000000000000 from the files, got ${a.version}`,
    );
  });

  await t.step("weight shapes that do not match the weight bytes: wrong shape", async () => {
    const wrong = await announcement({ specs: [{ name: "k", shape: [2, 4], dtype: "float32" }] });
    const e = await refusal(await encodeAnnouncement(wrong));
    assert.equal(e.code, "wrong_shape");
    assert.equal(e.message, "Expected 32 weight bytes for the manifest's shapes, got 24");
  });

  await t.step("an input of 3 channels: wrong shape", async () => {
    const e = await refusal(
      await encodeAnnouncement(await announcement({ input: [null, 28, 28, 3] })),
    );
    assert.equal(e.code, "wrong_shape");
    assert.equal(e.message, "Expected input shape [null,28,28,1], got [null,28,28,3]");
  });

  await t.step("a weight dtype layers models do not store: wrong shape", async () => {
    const wrong = await announcement({ specs: [{ name: "k", shape: [6], dtype: "complex64" }] });
    const e = await refusal(await encodeAnnouncement(wrong));
    assert.equal(e.code, "wrong_shape");
    assert.equal(e.message, "Weight k: expected dtype float32, int32 or bool, got complex64");
  });

  await t.step("other bytes: bad magic", async () => {
    const e = await refusal(new TextEncoder().encode('{"model":"json"}'));
    assert.equal(e.code, "bad_magic");
    assert.equal(e.message, 'Expected an announcement starting with "FMA1", got other bytes');
  });

  await t.step("an empty record: truncated", async () => {
    const e = await refusal(null);
    assert.equal(e.code, "truncated");
    assert.equal(e.message, "Expected an announcement of at least 8 bytes, got 0");
  });

  await t.step("a header length past the end: truncated", async () => {
    const e = await refusal(good.subarray(0, 20));
    assert.equal(e.code, "truncated");
    assert.match(e.message, /^Expected a header of \d+ bytes within 12, got less$/);
  });

  await t.step("a header that is not JSON: bad header", async () => {
    const bad = good.slice();
    bad[8] = 0x7e; // "~" where "{" opens the header
    const e = await refusal(bad);
    assert.equal(e.code, "bad_header");
    assert.match(e.message, /^Expected a JSON header, got /);
  });
});

Deno.test("encodeAnnouncement() refuses a model too large for the topic", async () => {
  const a = await announcement();
  const weights = new Uint8Array(MAX_ANNOUNCEMENT_BYTES);
  await assert.rejects(
    () => encodeAnnouncement({ ...a, weights }),
    (e: Error) =>
      e instanceof RangeError &&
      e.message.startsWith(
        `Model fashion-cnn ${a.version}: expected an announcement of at most ${MAX_ANNOUNCEMENT_BYTES} bytes, got `,
      ),
  );
});

Deno.test("modelVersion() hashes topology and weights, whatever the key order", async (t) => {
  const a = await announcement();
  await t.step("key order does not change it", async () => {
    const reordered = JSON.parse(canonicalJson(a.modelJson.modelTopology));
    const shuffled = { config: reordered.config, class_name: reordered.class_name };
    assert.equal(await modelVersion(shuffled, SPECS, a.weights), a.version);
  });
  await t.step("a changed layer changes it", async () => {
    assert.notEqual(await modelVersion(topology([null, 28, 28, 2]), SPECS, a.weights), a.version);
  });
  await t.step("a changed weight changes it", async () => {
    assert.notEqual((await announcement({ seed: 1 })).version, a.version);
  });
  assert.match(a.version, /^sha256:[0-9a-f]{16}$/);
});

Deno.test("promote and rollback move through the announced history", async (t) => {
  const a = await announcement({ seed: 1 });
  const b = await announcement({ seed: 2 });
  const c = await announcement({ seed: 3 });
  const at = "2026-02-03T00:00:00.000Z";
  const currentB = promoted(b, a, at);
  const currentC = promoted(c, currentB, at);
  await t.step("promote puts the current version on the history", () => {
    assert.deepEqual(currentC.history, [a.version, b.version]);
    assert.equal(currentC.announcedAt, at);
  });
  await t.step("rollback returns to the version before and drops it from the history", () => {
    assert.equal(rollbackTarget(currentC), b.version);
    const back = rolledBack(currentC, b, at);
    assert.equal(back.version, b.version);
    assert.deepEqual(back.history, [a.version]);
    assert.equal(rolledBack(back, a, at).version, a.version);
  });
  await t.step("rollback of the first version is a RangeError", () => {
    const first = promoted(a, undefined, at);
    assert.throws(() => rollbackTarget(first), {
      name: "RangeError",
      message: `Expected a version announced before ${a.version} to roll back to, got none`,
    });
  });
  await t.step("promoting the current version is a RangeError", () => {
    assert.throws(() => promoted(c, currentC, at), {
      name: "RangeError",
      message: `Expected a version other than the current one, got ${c.version}`,
    });
  });
  await t.step("rollback with the wrong archived record is a RangeError", () => {
    assert.throws(() => rolledBack(currentC, a, at), {
      name: "RangeError",
      message: `Expected the archived record of ${b.version}, got ${a.version}`,
    });
  });
});

Deno.test("parseModelKey() tells current, archived and serving records apart", () => {
  assert.deepEqual(parseModelKey("fashion-cnn"), { kind: "current", name: "fashion-cnn" });
  assert.deepEqual(parseModelKey("fashion-cnn@sha256:0123456789abcdef"), {
    kind: "archive",
    name: "fashion-cnn",
    version: "sha256:0123456789abcdef",
  });
  assert.deepEqual(parseModelKey("serving/host-12"), { kind: "serving", worker: "host-12" });
  assert.deepEqual(parseModelKey("what?"), { kind: "unknown", key: "what?" });
});

Deno.test("a serving record round-trips and a tombstone decodes to undefined", () => {
  const s = {
    worker: "host-12",
    name: "fashion-cnn",
    version: "sha256:0123456789abcdef",
    pinned: true,
    since: "2026-01-01T00:00:00.000Z",
  };
  assert.deepEqual(decodeServing(encodeServing(s)), s);
  assert.equal(decodeServing(null), undefined);
  assert.equal(decodeServing(new TextEncoder().encode("not json")), undefined);
});
