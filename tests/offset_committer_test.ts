import assert from "node:assert/strict";
import { type OffsetCommit, OffsetCommitter } from "../shared/kafka/offset_committer.ts";

const at = (partition: number, offset: number): OffsetCommit => ({
  topic: "requests",
  partition,
  offset: String(offset),
});

const noRefusal = (e: unknown) => assert.fail(`no commit should be refused, got ${e}`);

/** A commit function that records each request, ordered by partition. */
function recorder(): { commits: OffsetCommit[][]; commit: (o: OffsetCommit[]) => Promise<void> } {
  const commits: OffsetCommit[][] = [];
  return {
    commits,
    commit: (offsets) => {
      commits.push([...offsets].sort((a, b) => a.partition - b.partition));
      return Promise.resolve();
    },
  };
}

Deno.test("OffsetCommitter coalesces notes into one commit of each partition's highest offset", async () => {
  const r = recorder();
  const committer = new OffsetCommitter(r.commit, noRefusal, 10);
  committer.note(at(0, 5));
  committer.note(at(1, 3));
  committer.note(at(0, 9));
  committer.note(at(0, 7)); // lower than 9: never moves a partition back
  await committer.flush();
  assert.deepEqual(r.commits, [[at(0, 9), at(1, 3)]]);
});

Deno.test("OffsetCommitter.flush() commits at once instead of after minIntervalMs", async () => {
  const r = recorder();
  const committer = new OffsetCommitter(r.commit, noRefusal, 60_000);
  committer.note(at(2, 4));
  const started = performance.now();
  await committer.flush();
  assert.ok(performance.now() - started < 1000, "flush did not wait out the interval");
  assert.deepEqual(r.commits, [[at(2, 4)]]);
});

Deno.test("OffsetCommitter.drain() waits for tracked work, then commits what it noted", async () => {
  const r = recorder();
  const committer = new OffsetCommitter(r.commit, noRefusal, 60_000);
  let release!: () => void;
  const work = committer.track(async () => {
    await new Promise<void>((resolve) => (release = resolve));
    committer.note(at(0, 12));
    return "done";
  });
  let drained = false;
  const draining = committer.drain().then(() => (drained = true));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(drained, false, "drain waits while a batch is in hand");
  release();
  assert.equal(await work, "done", "track() returns the work's result");
  await draining;
  assert.deepEqual(r.commits, [[at(0, 12)]]);
});

Deno.test("OffsetCommitter reports a refused commit and keeps committing", async () => {
  const errors: unknown[] = [];
  const commits: OffsetCommit[][] = [];
  let calls = 0;
  const committer = new OffsetCommitter(
    (offsets) => {
      if (calls++ === 0) return Promise.reject(new Error("REBALANCE_IN_PROGRESS"));
      commits.push(offsets);
      return Promise.resolve();
    },
    (e) => errors.push(e),
    1,
  );
  committer.note(at(0, 1));
  await committer.flush();
  committer.note(at(0, 2));
  await committer.flush();
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).message, "REBALANCE_IN_PROGRESS");
  assert.deepEqual(commits, [[at(0, 2)]]);
});
