import assert from "node:assert/strict";
import { Ring, StreamState } from "../dashboard/stream_state.ts";
import type { ClassifyRequest, ErrorReply, Prediction } from "../shared/protocol/schema.ts";
import { CLASS_NAMES } from "../shared/protocol/classes.ts";
import { seededRandom } from "../training/random.ts";

const T0 = 1_700_000_000_000;

function request(id: string, label?: number, fill = 7): ClassifyRequest {
  return {
    v: 1,
    id,
    image: new Uint8Array(784).fill(fill),
    sent_at: T0,
    ...(label === undefined ? {} : { label }),
  };
}

function answer(id: string, index: number, latencyMs = 10, worker = "w1"): Prediction {
  return {
    v: 1,
    id,
    label: CLASS_NAMES[index],
    index,
    probability: 0.9,
    probabilities: Array(10).fill(0.01),
    model: "sha256:0123456789abcdef",
    worker,
    sent_at: T0,
    received_at: T0 + 1,
    completed_at: T0 + latencyMs,
  };
}

function errorReply(id: string, code: string): ErrorReply {
  return { v: 1, id, error: { code, message: "bad" } };
}

Deno.test("Ring keeps the newest items, newest first", async (t) => {
  await t.step("below capacity", () => {
    const r = new Ring<number>(3);
    r.push(1);
    r.push(2);
    assert.deepEqual(r.newestFirst(), [2, 1]);
  });
  await t.step("past capacity the oldest go", () => {
    const r = new Ring<number>(3);
    for (let i = 1; i <= 7; i++) r.push(i);
    assert.deepEqual(r.newestFirst(), [7, 6, 5]);
    assert.equal(r.size, 3);
  });
  await t.step("a capacity of 0 is refused", () => {
    assert.throws(
      () => new Ring(0),
      new RangeError("Ring capacity: expected an integer >= 1, got 0"),
    );
  });
});

Deno.test("StreamState joins requests and answers by id, whichever comes first", async (t) => {
  await t.step("request first", () => {
    const s = new StreamState();
    s.addRequest(request("a", 3));
    s.addResponse(answer("a", 3), T0);
    const snap = s.snapshot(T0);
    assert.equal(snap.totals.labelled, 1);
    assert.equal(snap.totals.correct, 1);
    assert.equal(snap.recent.length, 1);
    assert.equal(snap.recent[0].predicted, "Dress");
    assert.equal(snap.recent[0].actual, "Dress");
    assert.equal(snap.recent[0].wrong, false);
    assert.equal(snap.recent[0].pixels, new Uint8Array(784).fill(7).toBase64());
  });
  await t.step("answer first", () => {
    const s = new StreamState();
    s.addResponse(answer("a", 1), T0);
    assert.equal(s.snapshot(T0).totals.unmatched, 1);
    s.addRequest(request("a", 3));
    const snap = s.snapshot(T0);
    assert.equal(snap.totals.unmatched, 0);
    assert.equal(snap.totals.labelled, 1);
    assert.equal(snap.recent[0].wrong, true);
    assert.equal(snap.recent[0].actual, "Dress");
  });
  await t.step("an unlabelled request shows its image but is not scored", () => {
    const s = new StreamState();
    s.addRequest(request("a"));
    s.addResponse(answer("a", 1), T0);
    const snap = s.snapshot(T0);
    assert.equal(snap.totals.labelled, 0);
    assert.equal(snap.accuracy, null);
    assert.equal(snap.recent[0].actual, null);
    assert.equal(snap.recent[0].wrong, false);
  });
});

Deno.test("StreamState scores labelled answers: accuracy, confusion matrix, mistakes", () => {
  const s = new StreamState();
  const cases: [string, number, number][] = [["a", 0, 0], ["b", 0, 6], ["c", 6, 6], ["d", 9, 9]];
  for (const [id, label, predicted] of cases) {
    s.addRequest(request(id, label));
    s.addResponse(answer(id, predicted), T0);
  }
  const snap = s.snapshot(T0);
  assert.equal(snap.accuracy, 0.75);
  assert.equal(snap.confusion[0][0], 1);
  assert.equal(snap.confusion[0][6], 1);
  assert.equal(snap.confusion[6][6], 1);
  assert.equal(snap.confusion[9][9], 1);
  assert.equal(snap.confusion.flat().reduce((a, b) => a + b), 4);
  assert.deepEqual(snap.mistakes.map((m) => m.id), ["b"]);
  assert.deepEqual(snap.recent.map((m) => m.id), ["d", "c", "b", "a"]);
});

Deno.test("StreamState counts error replies and dead letters by code", async (t) => {
  await t.step("by code", () => {
    const s = new StreamState();
    s.addResponse(errorReply("a", "invalid_json"), T0);
    s.addResponse(errorReply("b", "invalid_json"), T0);
    s.addResponse(errorReply("c", "too_large"), T0);
    s.addDeadLetter("invalid_json");
    s.addDeadLetter("invalid_json");
    const snap = s.snapshot(T0);
    assert.deepEqual(snap.errorsByCode, { invalid_json: 2, too_large: 1 });
    assert.deepEqual(snap.deadLettersByCode, { invalid_json: 2 });
    assert.equal(snap.totals.errorReplies, 3);
    assert.equal(snap.totals.deadLetters, 2);
    assert.equal(snap.series.at(-1)!.errors, 3);
  });
  await t.step("codes beyond the limit count as other", () => {
    const s = new StreamState({ codes: 2 });
    for (const code of ["a", "b", "c", "d", "a"]) s.addDeadLetter(code);
    assert.deepEqual(s.snapshot(T0).deadLettersByCode, { a: 2, b: 1, other: 2 });
  });
});

Deno.test("StreamState series: answers per second and latency percentiles over the window", async (t) => {
  await t.step("one point per second, newest last, empty seconds as zero", () => {
    const s = new StreamState({ windowSeconds: 5 });
    for (let i = 1; i <= 100; i++) s.addResponse(answer(`a${i}`, 0, i), T0);
    s.addResponse(answer("b", 0, 50), T0 + 2000);
    const series = s.snapshot(T0 + 2500).series;
    assert.equal(series.length, 5);
    assert.equal(series.at(-1)!.t, Math.floor((T0 + 2500) / 1000));
    assert.deepEqual(series.map((p) => p.answers), [0, 0, 100, 0, 1]);
    assert.deepEqual([series[2].p50, series[2].p95, series[2].p99], [50, 95, 99]);
    assert.deepEqual([series[3].p50, series[3].p95], [null, null]);
  });
  await t.step("seconds older than the window drop out", () => {
    const s = new StreamState({ windowSeconds: 5 });
    s.addResponse(answer("a", 0), T0);
    const series = s.snapshot(T0 + 5000).series;
    assert.equal(series.reduce((n, p) => n + p.answers, 0), 0);
    s.addResponse(answer("b", 0), T0 + 5000);
    assert.equal(s.snapshot(T0 + 5000).series.at(-1)!.answers, 1);
  });
  await t.step("a busy second keeps at most latencySamples latencies, sampled evenly", () => {
    const s = new StreamState({ latencySamples: 100 }, seededRandom(1));
    for (let i = 1; i <= 10_000; i++) s.addResponse(answer(`a${i}`, 0, i), T0);
    const last = s.snapshot(T0).series.at(-1)!;
    assert.equal(last.answers, 10_000);
    // The median of 100 of 1..10,000 drawn evenly lies well inside the middle third.
    assert.ok(last.p50! > 3333 && last.p50! < 6667, `p50 ${last.p50}`);
  });
});

Deno.test("StreamState stays bounded however much flows", async (t) => {
  await t.step("requests never answered are dropped oldest first", () => {
    const s = new StreamState({ pending: 3 });
    for (const id of ["a", "b", "c", "d"]) s.addRequest(request(id, 1));
    s.addResponse(answer("a", 1), T0);
    s.addResponse(answer("d", 1), T0);
    const snap = s.snapshot(T0);
    assert.equal(snap.totals.labelled, 1, "a was dropped, d joined");
    assert.equal(snap.totals.unmatched, 1);
  });
  await t.step("answers without a request are dropped oldest first", () => {
    const s = new StreamState({ pending: 2 });
    for (const id of ["a", "b", "c"]) s.addResponse(answer(id, 1), T0);
    assert.equal(s.snapshot(T0).totals.unmatched, 2);
  });
  await t.step("recent images, mistakes and workers keep their limits", () => {
    const s = new StreamState({ recentImages: 4, recentMistakes: 2, workers: 3 });
    for (let i = 0; i < 50; i++) {
      s.addRequest(request(`r${i}`, 0));
      s.addResponse(answer(`r${i}`, i % 2, 10, `w${i % 5}`), T0);
    }
    const snap = s.snapshot(T0);
    assert.deepEqual(snap.recent.map((r) => r.id), ["r49", "r48", "r47", "r46"]);
    assert.deepEqual(snap.mistakes.map((r) => r.id), ["r49", "r47"]);
    assert.deepEqual(snap.workers.map((w) => w.worker), ["w4", "w3", "w2"]);
    // Five workers in turn through three places: each is dropped before it answers again.
    assert.equal(snap.workers[0].answers, 1);
  });
  await t.step("a worker dropped to make room counts afresh when it answers again", () => {
    const s = new StreamState({ workers: 2 });
    for (let i = 0; i < 30; i++) {
      s.addResponse(answer(`a${i}`, 0, 10, i % 3 === 0 ? "busy" : `w${i}`), T0);
    }
    const busy = s.snapshot(T0).workers.find((w) => w.worker === "busy");
    assert.equal(busy, undefined, "w29 and w28 answered after busy's last answer (a27)");
    s.addResponse(answer("x", 0, 10, "busy"), T0);
    s.addResponse(answer("y", 0, 10, "busy"), T0);
    assert.equal(s.snapshot(T0).workers[0].answers, 2);
  });
  await t.step("a limit of 0 is refused", () => {
    assert.throws(
      () => new StreamState({ pending: 0 }),
      new RangeError("StreamState limit pending: expected an integer >= 1, got 0"),
    );
  });
});
