import assert from "node:assert/strict";
import { SendCoalescer } from "../server/send_coalescer.ts";
import { coalescingPublisher, type Publication, publicationSender } from "../server/publisher.ts";
import type { OffsetCommit } from "../shared/kafka/offset_committer.ts";

const work = (partition: number, offset: string, dead = 0): Publication => ({
  responses: [{ key: `r-${partition}`, value: null }],
  deadLetters: Array.from({ length: dead }, () => ({ key: `d-${partition}`, value: null })),
  commit: { topic: "requests", partition, offset },
});

Deno.test("SendCoalescer sends what is submitted in one turn together", async () => {
  const sends: number[][] = [];
  const coalescer = new SendCoalescer((items: number[]) => (sends.push(items), Promise.resolve()));
  await Promise.all([coalescer.submit(1), coalescer.submit(2), coalescer.submit(3)]);
  assert.deepEqual(sends, [[1, 2, 3]]);
  assert.equal(coalescer.runs, 1);
});

Deno.test("SendCoalescer sends what arrives during a send in the next one, together", async () => {
  const sends: number[][] = [];
  let release!: () => void;
  const coalescer = new SendCoalescer((items: number[]) => {
    sends.push(items);
    return sends.length === 1 ? new Promise<void>((r) => (release = r)) : Promise.resolve();
  });
  const first = coalescer.submit(1);
  await new Promise((r) => setTimeout(r, 5));
  const later = [coalescer.submit(2), coalescer.submit(3)];
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(sends, [[1]], "one send at a time");
  release();
  await Promise.all([first, ...later]);
  assert.deepEqual(sends, [[1], [2, 3]]);
});

Deno.test("SendCoalescer rejects the callers of a failed send only", async () => {
  let fail = true;
  const coalescer = new SendCoalescer((_: number[]) => {
    if (fail) return Promise.reject(new Error("KAFKA_STORAGE_ERROR"));
    return Promise.resolve();
  });
  const failed = [coalescer.submit(1), coalescer.submit(2)];
  for (const f of failed) {
    await assert.rejects(f, { name: "Error", message: "KAFKA_STORAGE_ERROR" });
  }
  fail = false;
  await coalescer.submit(3); // resolves: the failure did not stick
});

Deno.test("publicationSender() sends dead letters, then responses, in one acks -1 batch", async (t) => {
  const batches: unknown[] = [];
  const send = publicationSender(
    { sendBatch: (b) => (batches.push(b), Promise.resolve([])) },
    { responses: "resp", dlq: "dlq" },
  );
  await t.step("with dead letters, the dead-letter topic first", async () => {
    await send([work(0, "5", 1), work(1, "9")]);
    assert.deepEqual(batches.pop(), {
      acks: -1,
      topicMessages: [
        { topic: "dlq", messages: [{ key: "d-0", value: null }] },
        { topic: "resp", messages: [{ key: "r-0", value: null }, { key: "r-1", value: null }] },
      ],
    });
  });
  await t.step("without dead letters, no dead-letter topic", async () => {
    await send([work(2, "1")]);
    assert.deepEqual(batches.pop(), {
      acks: -1,
      topicMessages: [{ topic: "resp", messages: [{ key: "r-2", value: null }] }],
    });
  });
});

Deno.test("coalescingPublisher() notes offsets only after the shared send is acknowledged", async () => {
  const events: string[] = [];
  let release!: () => void;
  const publish = coalescingPublisher((items) => {
    events.push(`send ${items.map((i) => i.commit.partition).join(",")}`);
    return new Promise<void>((r) => (release = r));
  });
  const committer = {
    note: (c: OffsetCommit) => void events.push(`note ${c.partition}@${c.offset}`),
  };
  const both = Promise.all([publish(work(0, "5"), committer), publish(work(1, "9"), committer)]);
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(events, ["send 0,1"], "nothing is noted before the ack");
  release();
  await both;
  assert.deepEqual(events, ["send 0,1", "note 0@5", "note 1@9"]);
});

Deno.test("coalescingPublisher() notes nothing when the send fails", async () => {
  const notes: OffsetCommit[] = [];
  const publish = coalescingPublisher(() => Promise.reject(new Error("timeout")));
  await assert.rejects(publish(work(0, "5"), { note: (c) => notes.push(c) }), {
    name: "Error",
    message: "timeout",
  });
  assert.deepEqual(notes, []);
});
