import assert from "node:assert/strict";
import { replyTopicChecker } from "../server/reply_topics.ts";

Deno.test("replyTopicChecker() lists again only for an unknown name, and at most every refreshMs", async (t) => {
  let clock = 0;
  let lists = 0;
  let topics = ["r.a"];
  const existing = replyTopicChecker(
    () => {
      lists++;
      return Promise.resolve(topics);
    },
    5000,
    () => clock,
  );
  await t.step("a known topic is found, a missing one is not", async () => {
    assert.deepEqual([...await existing(["r.a", "r.b"])], ["r.a"]);
    assert.equal(lists, 1);
  });
  await t.step("known names are answered from the cache", async () => {
    assert.deepEqual([...await existing(["r.a"])], ["r.a"]);
    assert.equal(lists, 1);
  });
  await t.step("a missing name within refreshMs does not list again", async () => {
    topics = ["r.a", "r.b"];
    clock = 4999;
    assert.deepEqual([...await existing(["r.b"])], []);
    assert.equal(lists, 1);
  });
  await t.step("after refreshMs a missing name lists again and is found once created", async () => {
    clock = 5000;
    assert.deepEqual([...await existing(["r.b"])], ["r.b"]);
    assert.equal(lists, 2);
  });
});
