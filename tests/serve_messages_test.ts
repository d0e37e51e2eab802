import assert from "node:assert/strict";
import { serveMessages } from "../server/serve_messages.ts";
import { decodeResponse, encodeRequest } from "../shared/protocol/schema.ts";

const image = new Uint8Array(784);
const request = (id: string, replyTo?: string) => ({
  offset: "0",
  key: null,
  value: encodeRequest({
    v: 1,
    id,
    image,
    sent_at: 1,
    ...(replyTo === undefined ? {} : { reply_to: replyTo }),
  }),
});
const ctx = {
  topic: "requests",
  partition: 0,
  model: "m",
  worker: "w",
  replyTopicPrefix: "replies.",
  classify: (images: Uint8Array[]) =>
    Promise.resolve(images.map(() => new Float32Array(10).fill(0.1))),
};

Deno.test("serveMessages() answers on the reply_to a request names, else on the shared topic", async () => {
  const served = await serveMessages(
    [request("a", "replies.tenant-a"), request("b"), request("c", "replies.tenant-a")],
    ctx,
  );
  assert.deepEqual(served.responses.map((m) => m.key), ["b"]);
  assert.deepEqual([...served.replies.keys()], ["replies.tenant-a"]);
  assert.deepEqual(served.replies.get("replies.tenant-a")!.map((m) => m.key), ["a", "c"]);
  assert.equal(served.deadLetters.length, 0);
});

Deno.test("serveMessages() answers a reply_to outside the prefix on the shared topic, as an error", async () => {
  const served = await serveMessages([request("x", "requests")], ctx);
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
