import assert from "node:assert/strict";
import { newClusterId, nodeLayout, serverProperties } from "../local_broker/node_config.ts";

Deno.test("newClusterId() gives 22 URL-safe characters and never a leading '-'", () => {
  const leadingDash = new Uint8Array(16).fill(0xfb); // encodes to "-..." in URL-safe base64
  const plain = new Uint8Array(16).fill(7);
  const sources = [leadingDash, plain];
  const id = newClusterId(() => sources.shift()!);
  assert.equal(id, btoa(String.fromCharCode(...plain)).replace(/=+$/, ""));
  for (let i = 0; i < 200; i++) {
    const random = newClusterId();
    assert.match(random, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  }
});

Deno.test("serverProperties() sizes replication to the cluster", async (t) => {
  await t.step("one broker: replication 1, min.insync.replicas 1", () => {
    const one = [nodeLayout(1, "/k")];
    const text = serverProperties(one[0], one);
    assert.match(text, /^controller\.quorum\.voters=1@127\.0\.0\.1:9093$/m);
    assert.match(
      text,
      /^listeners=PLAINTEXT:\/\/127\.0\.0\.1:9092,CONTROLLER:\/\/127\.0\.0\.1:9093$/m,
    );
    assert.match(text, /^min\.insync\.replicas=1$/m);
    assert.match(text, /^offsets\.topic\.replication\.factor=1$/m);
  });
  await t.step("three brokers: replication 3, min.insync.replicas 2, distinct ports", () => {
    const three = [1, 2, 3].map((id) => nodeLayout(id, "/k"));
    const text = serverProperties(three[1], three);
    assert.match(text, /^node\.id=2$/m);
    assert.match(
      text,
      /^controller\.quorum\.voters=1@127\.0\.0\.1:9093,2@127\.0\.0\.1:9095,3@127\.0\.0\.1:9097$/m,
    );
    assert.match(text, /^advertised\.listeners=PLAINTEXT:\/\/127\.0\.0\.1:9094$/m);
    assert.match(text, /^min\.insync\.replicas=2$/m);
    assert.match(text, /^default\.replication\.factor=3$/m);
    assert.match(text, /^log\.dirs=\/k\/node-2\/data$/m);
  });
  await t.step("a broker of its own on another base port keeps clear of 9092 to 9097", () => {
    const own = [nodeLayout(1, "/k/restart", 9392)];
    assert.deepEqual(own[0], {
      id: 1,
      brokerPort: 9392,
      controllerPort: 9393,
      dir: "/k/restart/node-1",
    });
    const text = serverProperties(own[0], own);
    assert.match(text, /^controller\.quorum\.voters=1@127\.0\.0\.1:9393$/m);
    assert.match(text, /^advertised\.listeners=PLAINTEXT:\/\/127\.0\.0\.1:9392$/m);
  });
});
