import assert from "node:assert/strict";
import { BadInputLog } from "../server/bad_input_log.ts";

Deno.test("BadInputLog logs the first error of each code per interval and counts the rest", async (t) => {
  const log = new BadInputLog(10_000, 0);
  await t.step("10,000 errors of two codes give two full lines", () => {
    const logged = [];
    for (let i = 0; i < 10_000; i++) {
      const code = i % 2 ? "too_large" : "invalid_json";
      if (log.note(code)) logged.push(code);
    }
    assert.deepEqual(logged, ["invalid_json", "too_large"]);
  });
  await t.step("no summary before the interval ends", () => {
    assert.equal(log.summary(9_999), undefined);
  });
  await t.step("one summary with the counts per code when it ends", () => {
    assert.deepEqual(log.summary(10_000), {
      seconds: 10,
      counts: { invalid_json: 5000, too_large: 5000 },
    });
  });
  await t.step("a new interval logs the first of a code in full again", () => {
    assert.equal(log.note("too_large"), true);
    assert.equal(log.note("too_large"), false);
  });
  await t.step("an interval with no errors has no summary", () => {
    log.summary(20_000);
    assert.equal(log.summary(30_000), undefined);
  });
});

Deno.test("BadInputLog refuses an interval of 0 ms", () => {
  assert.throws(() => new BadInputLog(0, 0), {
    name: "RangeError",
    message: "intervalMs must be > 0, got 0",
  });
});
