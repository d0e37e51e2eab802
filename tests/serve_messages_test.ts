import assert from "node:assert/strict";
import { serveMessages } from "../server/serve_messages.ts";
import { encodeRequest } from "../shared/protocol/schema.ts";

const enc = new TextEncoder();
const msg = (offset: number, value: Uint8Array | null) => ({
  offset: String(offset),
  key: null,
  value,
});

Deno.test("serveMessages() reports one outcome per request for the metrics", async () => {
  const sentAt = Date.now() - 250;
  const served = await serveMessages([
    msg(0, encodeRequest({ v: 1, id: "a", image: new Uint8Array(784), sent_at: sentAt })),
    msg(1, enc.encode('{"v":1,"id":"b","image":"AAAA","sent_at":1}')),
    msg(2, enc.encode("not json")),
  ], {
    topic: "requests",
    partition: 0,
    model: "m",
    worker: "w",
    classify: (images) => Promise.resolve(images.map(() => new Float32Array(10).fill(0.1))),
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
  assert.equal(served.responses.length, 2, "a prediction and an error reply");
  assert.equal(served.deadLetters.length, 2);
});
