import assert from "node:assert/strict";
import { nextStep, RETRY_POLICY, retrying } from "../server/retry_policy.ts";

Deno.test("nextStep() retries a poison batch three times at 100, 400 and 1,600 ms, then stops", () => {
  const steps = [1, 2, 3, 4].map((poison) =>
    nextStep(RETRY_POLICY, { poison, outage: 0 }, "poison")
  );
  assert.deepEqual(steps, [
    { retry: true, delayMs: 100 },
    { retry: true, delayMs: 400 },
    { retry: true, delayMs: 1600 },
    { retry: false },
  ]);
});

Deno.test("nextStep() waits out an outage with a doubling wait capped at 5 s, never giving up", () => {
  const delays = [1, 2, 3, 4, 5, 6, 100].map((outage) =>
    nextStep(RETRY_POLICY, { poison: 9, outage }, "outage")
  );
  assert.deepEqual(delays.map((s) => s.retry && s.delayMs), [
    200,
    400,
    800,
    1600,
    3200,
    5000,
    5000,
  ]);
});

const noSleep = { sleep: () => Promise.resolve(), active: () => true };

Deno.test("retrying() reports poison after 4 attempts of a batch that always fails", async () => {
  let attempts = 0;
  const retries: unknown[] = [];
  const r = await retrying(() => (attempts++, Promise.reject(new TypeError("bad"))), RETRY_POLICY, {
    ...noSleep,
    classify: () => "poison",
    onRetry: (x) => retries.push([x.attempt, x.kind, x.delayMs]),
  });
  assert.equal(attempts, 4);
  assert.deepEqual(retries, [[1, "poison", 100], [2, "poison", 400], [3, "poison", 1600]]);
  assert.equal(r.outcome, "poison");
  assert.ok(r.outcome === "poison" && r.error instanceof TypeError && r.attempts === 4);
});

Deno.test("retrying() waits out 10 outages, drops nothing, and returns the value", async () => {
  let attempts = 0;
  const r = await retrying(
    () => ++attempts <= 10 ? Promise.reject(new Error("down")) : Promise.resolve("sent"),
    RETRY_POLICY,
    { ...noSleep, classify: () => "outage", onRetry: () => {} },
  );
  assert.deepEqual(r, { outcome: "done", value: "sent" });
  assert.equal(attempts, 11);
});

Deno.test("retrying() abandons the work once it is no longer active", async () => {
  let active = true;
  const r = await retrying(
    () => {
      active = false;
      return Promise.reject(new Error("down"));
    },
    RETRY_POLICY,
    {
      sleep: () => Promise.resolve(),
      active: () => active,
      classify: () => "outage",
      onRetry: () => {},
    },
  );
  assert.equal(r.outcome, "abandoned");
});
