import assert from "node:assert/strict";
import { LATENCY_RESOLUTION_MS, LatencyHistogram } from "../shared/stats/latency_histogram.ts";
import { percentile } from "../shared/stats/percentile.ts";

/** A seeded generator, so a failure can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

const PERCENTILES = [0, 1, 50, 90, 95, 99, 99.9, 100];

Deno.test("LatencyHistogram's percentiles are within half a bucket of the exact ones", async (t) => {
  const shapes: [string, (r: () => number) => number][] = [
    ["uniform 0-50 ms", (r) => r() * 50],
    ["long tail up to 60 s", (r) => Math.exp(r() * Math.log(60_000)) - 1],
    ["tight cluster near 3 ms", (r) => 3 + r() * 0.3],
    ["values on bucket edges", (r) => Math.floor(r() * 1000) / 10],
  ];
  for (const [name, draw] of shapes) {
    for (const n of [1, 7, 10_000]) {
      await t.step(`${name}, ${n} values`, () => {
        const r = random(n * 31 + name.length);
        const values = Array.from({ length: n }, () => draw(r));
        const h = new LatencyHistogram();
        for (const v of values) h.record(v);
        assert.equal(h.count, n);
        for (const p of PERCENTILES) {
          const exact = percentile(values, p);
          const got = h.percentile(p);
          assert.ok(
            Math.abs(got - exact) <= LATENCY_RESOLUTION_MS / 2 + 1e-9,
            `p${p}: expected within ${LATENCY_RESOLUTION_MS / 2} ms of ${exact}, got ${got}`,
          );
        }
      });
    }
  }
});

Deno.test("LatencyHistogram past its range", async (t) => {
  await t.step("below 0 (clock skew) reports the smallest value", () => {
    const h = new LatencyHistogram();
    for (const v of [-7, -2, 5]) h.record(v);
    assert.equal(h.percentile(0), -7);
    assert.equal(h.percentile(50), -7);
    assert.ok(Math.abs(h.percentile(100) - 5) <= 0.05);
  });
  await t.step("from 60 s up reports the largest value", () => {
    const h = new LatencyHistogram();
    for (const v of [10, 70_000, 90_000]) h.record(v);
    assert.equal(h.percentile(99), 90_000);
  });
  await t.step("NaN is not recorded; empty gives NaN", () => {
    const h = new LatencyHistogram();
    h.record(NaN);
    assert.equal(h.count, 0);
    assert.ok(Number.isNaN(h.percentile(50)));
    assert.ok(Number.isNaN(h.summary().p99));
  });
});
