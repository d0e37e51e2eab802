import assert from "node:assert/strict";
import { analyseSwaps, type SwapAnswer } from "../harness/swap_analysis.ts";

const A = "sha256:aaaaaaaaaaaaaaaa";
const B = "sha256:bbbbbbbbbbbbbbbb";
const answer = (
  worker: string,
  model: string,
  completedAt: number,
  latencyMs = 10,
): SwapAnswer => ({
  model,
  worker,
  sentAt: completedAt - latencyMs,
  completedAt,
  latencyMs,
});
const swaps = [
  { worker: "w1", from: A, to: B, switchedAt: 95, swappedAt: 100 },
  { worker: "w1", from: B, to: A, switchedAt: 180, swappedAt: 200 },
];

Deno.test("analyseSwaps() finds answers with the version a worker left after its swap", async (t) => {
  await t.step("answers on the right side of each swap are not stale", () => {
    const f = analyseSwaps(
      [answer("w1", A, 90), answer("w1", B, 100), answer("w1", B, 150), answer("w1", A, 250)],
      swaps,
      [A, B],
      { from: 0, to: 1000 },
      [],
    );
    assert.equal(f.stale, 0);
    assert.deepEqual(f.models, { [A]: 2, [B]: 2 });
  });
  await t.step("A after the swap to B, or B after the swap back, is stale", () => {
    const f = analyseSwaps([answer("w1", A, 101), answer("w1", B, 201)], swaps, [A, B], {
      from: 0,
      to: 0,
    }, []);
    assert.equal(f.stale, 2);
    assert.deepEqual(f.staleExamples.map((e) => e.after.to), [B, A]);
  });
  await t.step("A again once the switch back to A began, before its event, is not stale", () => {
    const f = analyseSwaps([answer("w1", A, 190), answer("w1", B, 195)], swaps, [A, B], {
      from: 0,
      to: 0,
    }, []);
    assert.equal(f.stale, 0);
  });
  await t.step("another worker's swaps say nothing about w2", () => {
    assert.equal(
      analyseSwaps([answer("w2", A, 150)], swaps, [A, B], { from: 0, to: 0 }, []).stale,
      0,
    );
  });
  await t.step("a version that is neither A nor B is foreign", () => {
    const f = analyseSwaps([answer("w2", "sha256:cccccccccccccccc", 1)], [], [A, B], {
      from: 0,
      to: 0,
    }, []);
    assert.equal(f.foreign, 1);
  });
});

Deno.test("analyseSwaps() splits p99 latency by when requests were sent", () => {
  const answers = [
    ...Array.from({ length: 100 }, (_, i) => answer("w1", A, 50 + i * 0.01, 10)),
    answer("w1", B, 160, 40),
    answer("w1", B, 170, 20),
  ];
  const f = analyseSwaps(answers, [], [A, B], { from: 0, to: 99 }, [{ from: 100, to: 200 }]);
  assert.equal(f.steadyP99, 10);
  assert.equal(f.swapP99, 40);
});
