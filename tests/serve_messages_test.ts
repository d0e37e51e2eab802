import assert from "node:assert/strict";
import { decodeResponse, encodeRequest, type Response } from "../shared/protocol/schema.ts";
import { type ClassifyItem, serveMessages, unservable } from "../server/serve_messages.ts";

const enc = new TextEncoder();
const image = (fill: number) => new Uint8Array(784).fill(fill);

function request(id: string, fill: number, offset: string) {
  const value = encodeRequest({ v: 1, id, image: image(fill), sent_at: 1000 });
  return { offset, key: enc.encode(id), value, headers: { trace: "t-" + id } };
}

/** Ten probabilities peaking at class `c`. */
function peakAt(c: number): Float32Array {
  const p = new Float32Array(10).fill(0.01);
  p[c] = 0.91;
  return p;
}

function decoded(value: Uint8Array | null): Response {
  const r = decodeResponse(value);
  if (!r.ok) throw r.error;
  return r.value;
}

Deno.test("serveMessages() answers good and malformed requests of one batch", async (t) => {
  const classified: ClassifyItem[][] = [];
  const messages = [
    request("r-1", 1, "10"),
    { offset: "11", key: null, value: enc.encode("hello"), headers: { trace: "t-x" } },
    request("r-3", 3, "12"),
    {
      offset: "13",
      key: enc.encode("r-2"),
      value: enc.encode(JSON.stringify({ v: 2, id: "r-2", image: "", sent_at: 1 })),
    },
  ];
  const served = await serveMessages(messages, {
    topic: "requests",
    partition: 4,
    worker: "w-1",
    classify: (items) => {
      classified.push(items);
      // The pixel value tells which request an image came from: class = fill.
      return Promise.resolve(
        items.map((it) => ({ probabilities: peakAt(it.image[0]), model: `m-${it.image[0]}` })),
      );
    },
  });

  await t.step("classify is called once, with the good images and their ids only, in order", () => {
    assert.equal(classified.length, 1);
    assert.deepEqual(classified[0], [{ id: "r-1", image: image(1) }, {
      id: "r-3",
      image: image(3),
    }]);
  });

  await t.step("error replies only for readable ids, then predictions in order", () => {
    const replies = served.responses.map((m) => decoded(m.value));
    assert.deepEqual(served.responses.map((m) => m.key), ["r-2", "r-1", "r-3"]);
    assert.deepEqual(replies[0], {
      v: 1,
      id: "r-2",
      error: {
        code: "unsupported_version",
        message: "Cannot decode request: expected schema version 1, got 2",
      },
    });
    for (const [i, c] of [[1, 1], [2, 3]]) {
      const p = replies[i] as Extract<Response, { index: number }>;
      assert.equal(p.index, c);
      assert.equal(p.label, c === 1 ? "Trouser" : "Dress");
      assert.equal(p.probability, 0.91);
      assert.equal(p.model, `m-${c}`, "each answer names the model that computed it");
      assert.equal(p.worker, "w-1");
      assert.equal(p.sent_at, 1000);
    }
  });

  await t.step("each malformed message becomes a dead letter with its headers", () => {
    assert.equal(served.deadLetters.length, 2);
    const [notJson, v2] = served.deadLetters;
    assert.deepEqual(new Uint8Array(notJson.value!), messages[1].value);
    assert.equal(notJson.key, null);
    const h = notJson.headers!;
    assert.equal(h.trace, "t-x", "the original headers are kept");
    assert.equal(h["dlq-error-code"], "invalid_json");
    assert.equal(
      h["dlq-error-message"],
      `Cannot decode request: not JSON (Unexpected token 'h', "hello" is not valid JSON)`,
    );
    assert.equal(h["dlq-source-topic"], "requests");
    assert.equal(h["dlq-source-partition"], "4");
    assert.equal(h["dlq-source-offset"], "11");
    assert.equal(h["dlq-worker"], "w-1");
    assert.equal(v2.headers!["dlq-error-code"], "unsupported_version");
    assert.equal(v2.headers!["dlq-source-offset"], "13");
  });

  await t.step("the errors are returned for the worker's log", () => {
    assert.deepEqual(served.errors.map((e) => e.code), ["invalid_json", "unsupported_version"]);
  });
});

Deno.test("serveMessages() does not call classify when no request is good", async () => {
  let calls = 0;
  const served = await serveMessages([{ offset: "0", key: null, value: null }], {
    topic: "requests",
    partition: 0,
    worker: "w",
    classify: () => (calls++, Promise.resolve([])),
  });
  assert.equal(calls, 0);
  assert.equal(served.responses.length, 0, "a tombstone has no id to answer");
  assert.equal(served.deadLetters[0].headers!["dlq-error-code"], "empty");
});

Deno.test("serveMessages() lets a failure of classify propagate", async () => {
  await assert.rejects(
    serveMessages([request("r-1", 1, "0")], {
      topic: "requests",
      partition: 0,
      worker: "w",
      classify: () => Promise.reject(new RangeError("predict failed")),
    }),
    { name: "RangeError", message: "predict failed" },
  );
});

const ctx = {
  topic: "requests",
  partition: 2,
  worker: "w",
  classify: () => Promise.resolve([]),
};

Deno.test("serveMessages() answers a request refused before its JSON is read by its key", async (t) => {
  const big = new Uint8Array(5000).fill(0x20);
  await t.step("too large, keyed by a valid id: an error reply keyed by it", async () => {
    const served = await serveMessages(
      [{ offset: "0", key: enc.encode("big-1"), value: big }],
      ctx,
    );
    assert.deepEqual(served.responses.map((m) => m.key), ["big-1"]);
    assert.deepEqual(decoded(served.responses[0].value), {
      v: 1,
      id: "big-1",
      error: {
        code: "too_large",
        message: "Cannot decode request: expected at most 4096 bytes, got 5000",
      },
    });
  });
  await t.step("not UTF-8, keyed by a valid id: an error reply keyed by it", async () => {
    const value = Uint8Array.from([0xff, 0xfe]);
    const served = await serveMessages([{ offset: "0", key: enc.encode("u-1"), value }], ctx);
    assert.equal(
      (decoded(served.responses[0].value) as { error: { code: string } }).error.code,
      "invalid_utf8",
    );
  });
  await t.step("a key that is no valid id (a space, 200 characters): no reply", async () => {
    for (const key of ["a b", "k".repeat(200)]) {
      const served = await serveMessages([{ offset: "0", key: enc.encode(key), value: big }], ctx);
      assert.equal(served.responses.length, 0, key);
      assert.equal(served.deadLetters.length, 1, key);
    }
  });
  await t.step("invalid JSON is not answered by key (the JSON was read)", async () => {
    const value = enc.encode("hello");
    const served = await serveMessages([{ offset: "0", key: enc.encode("j-1"), value }], ctx);
    assert.equal(served.responses.length, 0);
  });
});

Deno.test("unservable() turns each message into an internal_error dead letter and reply", async (t) => {
  const messages = [
    request("ok-1", 1, "5"),
    { offset: "6", key: enc.encode("k-2"), value: new Uint8Array(9000) },
    { offset: "7", key: null, value: enc.encode("{") },
  ];
  const served = unservable(messages, ctx, new RangeError("predict failed"));
  const message = "Cannot serve request: RangeError: predict failed";
  await t.step("a reply by request id, else by key, else none", () => {
    assert.deepEqual(served.responses.map((m) => m.key), ["ok-1", "k-2"]);
    assert.deepEqual(decoded(served.responses[0].value), {
      v: 1,
      id: "ok-1",
      error: { code: "internal_error", message },
    });
  });
  await t.step("a dead letter for every message, naming the cause", () => {
    assert.equal(served.deadLetters.length, 3);
    for (const d of served.deadLetters) {
      assert.equal(d.headers!["dlq-error-code"], "internal_error");
      assert.equal(d.headers!["dlq-error-message"], message);
    }
    assert.deepEqual(served.errors.map((e) => e.code), [
      "internal_error",
      "internal_error",
      "internal_error",
    ]);
  });
});

Deno.test("serveMessages() reports one outcome per request for the metrics", async () => {
  const sentAt = Date.now() - 250;
  const served = await serveMessages([
    {
      ...request("a", 1, "0"),
      value: encodeRequest({ v: 1, id: "a", image: image(1), sent_at: sentAt }),
    },
    { offset: "1", key: null, value: enc.encode('{"v":1,"id":"b","image":"AAAA","sent_at":1}') },
    { offset: "2", key: null, value: enc.encode("not json") },
  ], {
    topic: "requests",
    partition: 0,
    worker: "w",
    classify: (images) =>
      Promise.resolve(images.map(() => ({ probabilities: peakAt(0), model: "m" }))),
  });
  assert.equal(served.outcomes.length, 3);
  assert.deepEqual(served.outcomes.slice(0, 2), [
    { outcome: "error_reply", code: "wrong_image_size" },
    { outcome: "dead_letter", code: "invalid_json" },
  ]);
  const [prediction] = served.outcomes.slice(2);
  assert.equal(prediction.outcome, "prediction");
  const seconds = prediction.outcome === "prediction" ? prediction.endToEndSeconds : NaN;
  assert.ok(seconds >= 0.25 && seconds < 5, `end-to-end ${seconds} s`);
});

const blank = new Uint8Array(784);
const routed = (id: string, replyTo?: string) => ({
  offset: "0",
  key: null,
  value: encodeRequest({
    v: 1,
    id,
    image: blank,
    sent_at: 1,
    ...(replyTo === undefined ? {} : { reply_to: replyTo }),
  }),
});
const routing = {
  topic: "requests",
  partition: 0,
  worker: "w",
  replyTopicPrefix: "replies.",
  classify: (items: ClassifyItem[]) =>
    Promise.resolve(
      items.map(() => ({ probabilities: new Float32Array(10).fill(0.1), model: "m" })),
    ),
};

Deno.test("serveMessages() answers on the reply_to a request names, else on the shared topic", async () => {
  const served = await serveMessages(
    [routed("a", "replies.tenant-a"), routed("b"), routed("c", "replies.tenant-a")],
    routing,
  );
  assert.deepEqual(served.responses.map((m) => m.key), ["b"]);
  assert.deepEqual([...served.replies.keys()], ["replies.tenant-a"]);
  assert.deepEqual(served.replies.get("replies.tenant-a")!.map((m) => m.key), ["a", "c"]);
  assert.equal(served.deadLetters.length, 0);
});

Deno.test("serveMessages() answers a reply_to outside the prefix on the shared topic, as an error", async () => {
  const served = await serveMessages([routed("x", "requests")], routing);
  assert.equal(served.replies.size, 0);
  assert.equal(served.deadLetters.length, 1);
  assert.equal(served.responses.length, 1);
  const reply = decodeResponse(served.responses[0].value);
  assert.ok(reply.ok);
  assert.deepEqual(reply.value, {
    v: 1,
    id: "x",
    error: {
      code: "invalid_reply_to",
      message:
        `Cannot decode request: expected 'reply_to' to be a topic name starting with 'replies.', got "requests"`,
    },
  });
});

Deno.test("serveMessages() refuses a reply_to whose topic does not exist instead of sending to it", async () => {
  const asked: string[][] = [];
  const served = await serveMessages(
    [routed("a", "replies.tenant-a"), routed("b", "replies.gone"), routed("c")],
    {
      ...routing,
      existingReplyTopics: (topics) => {
        asked.push(topics);
        return Promise.resolve(new Set(["replies.tenant-a"]));
      },
    },
  );
  assert.deepEqual(asked, [["replies.tenant-a", "replies.gone"]]);
  assert.deepEqual([...served.replies.keys()], ["replies.tenant-a"]);
  assert.deepEqual(served.responses.map((m) => m.key), ["b", "c"]);
  const refusal = decodeResponse(served.responses[0].value);
  assert.ok(refusal.ok);
  assert.deepEqual(refusal.value, {
    v: 1,
    id: "b",
    error: {
      code: "invalid_reply_to",
      message: "reply_to names topic 'replies.gone', which does not exist",
    },
  });
  assert.equal(served.deadLetters.length, 1);
});
