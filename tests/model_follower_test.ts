import assert from "node:assert/strict";
import { parseConfig } from "../shared/config.ts";
import { useBackend } from "../shared/model/backend.ts";
import { currentKey } from "../shared/model/catalog.ts";
import { asBuffer } from "../shared/protocol/bytes.ts";
import { hasPermissions, needsPermissions } from "./_support.ts";

// Loaded only when the tests may run: see _kafka_deps.ts.
const {
  announce,
  announceFolder,
  corruptAnnouncements,
  createKafka,
  ensureBroker,
  ensureModelPair,
  ensureModelTopic,
  idempotentProducer,
  readCatalog,
  rollback,
  startModelFollower,
} = hasPermissions() ? await import("./_model_deps.ts") : ({} as typeof import("./_model_deps.ts"));

const opts = { ...needsPermissions(), sanitizeOps: false, sanitizeResources: false };
const NAME = "fashion-cnn";

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function setup(tag: string) {
  await ensureBroker();
  await useBackend("wasm");
  const dirs = await ensureModelPair();
  const topic = `test-models-${tag}-${crypto.randomUUID().slice(0, 8)}`;
  const kafka = await createKafka(parseConfig({}).kafka, `test-${tag}`);
  const a = await announceFolder(dirs.a, NAME, null);
  const b = await announceFolder(dirs.b, NAME, null);
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const log = (event: string, fields: Record<string, unknown>) => events.push({ event, fields });
  const publish = async (x: typeof a) =>
    await announce(kafka, topic, x, await readCatalog(kafka, topic, NAME));
  const cleanup = async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  };
  return { dirs, topic, kafka, a, b, events, log, publish, cleanup };
}

Deno.test({
  name:
    "a worker's follower starts on the newest announcement, swaps, rolls back and refuses corrupt ones",
  ...opts,
  async fn(t) {
    const s = await setup("follow");
    try {
      await s.publish(s.a);
      const follower = await startModelFollower({
        kafka: s.kafka,
        topic: s.topic,
        name: NAME,
        worker: `test-${crypto.randomUUID().slice(0, 6)}`,
        fallbackDir: s.dirs.b,
        pin: false,
        log: s.log,
      });
      try {
        await t.step("the announcement beats the --model folder at start", () => {
          assert.equal(follower.slot.current().version, s.a.version);
        });
        await t.step("a new announcement is swapped in", async () => {
          await s.publish(s.b);
          await until("model B", () => follower.slot.current().version === s.b.version);
          const swapped = s.events.find((e) => e.event === "model_swapped");
          assert.deepEqual(
            [swapped?.fields.from, swapped?.fields.to],
            [s.a.version, s.b.version],
          );
        });
        await t.step("rollback re-announces A and the follower goes back", async () => {
          assert.equal((await rollback(s.kafka, s.topic, NAME)).version, s.a.version);
          await until("model A again", () => follower.slot.current().version === s.a.version);
        });
        await t.step("bad hash, truncated weights and wrong shapes are refused", async () => {
          const bad = await corruptAnnouncements(s.b);
          const producer = idempotentProducer(s.kafka);
          await producer.connect();
          await producer.send({
            topic: s.topic,
            acks: -1,
            messages: [bad.badHash, bad.truncated, bad.wrongShape].map((v) => ({
              key: currentKey(NAME),
              value: asBuffer(v),
            })),
          });
          await producer.disconnect();
          await until("three refusals", () => follower.updates.refused === 3);
          assert.deepEqual(
            s.events.filter((e) => e.event === "model_refused").map((e) => e.fields.code),
            ["bad_hash", "truncated", "wrong_shape"],
          );
          assert.equal(follower.slot.current().version, s.a.version, "A keeps serving");
        });
        await t.step("model:list's catalog shows the worker serving A", async () => {
          const c = await readCatalog(s.kafka, s.topic, NAME);
          assert.deepEqual(c.versions.map((v) => v.version), [s.a.version, s.b.version]);
          assert.equal(c.current?.version, s.a.version);
          assert.deepEqual(c.serving.map((w) => w.version), [s.a.version]);
          assert.deepEqual(c.refused.map((r) => r.reason.split(":")[0]), [
            "bad_hash",
            "truncated",
            "wrong_shape",
          ]);
        });
      } finally {
        await follower.stop();
      }
      const after = await readCatalog(s.kafka, s.topic, NAME);
      assert.deepEqual(after.serving, [], "a stopped worker is no longer listed");
    } finally {
      await s.cleanup();
    }
  },
});

Deno.test({
  name: "with no announcement a follower serves --model DIR; a pinned one ignores new versions",
  ...opts,
  async fn() {
    const s = await setup("pin");
    const admin = s.kafka.admin();
    await admin.connect();
    await ensureModelTopic(admin, s.topic);
    await admin.disconnect();
    const start = (pin: boolean) =>
      startModelFollower({
        kafka: s.kafka,
        topic: s.topic,
        name: NAME,
        worker: `test-${crypto.randomUUID().slice(0, 6)}`,
        fallbackDir: s.dirs.a,
        pin,
        log: s.log,
      });
    const pinned = await start(true);
    const following = await start(false);
    try {
      assert.equal(pinned.slot.current().version, s.a.version);
      assert.equal(following.slot.current().version, s.a.version);
      await s.publish(s.b);
      await until("the following one on B", () => following.slot.current().version === s.b.version);
      assert.equal(pinned.slot.current().version, s.a.version, "the pinned one stays on A");
      const c = await readCatalog(s.kafka, s.topic, NAME);
      assert.deepEqual(
        c.serving.map((w) => [w.version, w.pinned]).sort(),
        [[s.a.version, true], [s.b.version, false]].sort(),
      );
    } finally {
      await Promise.all([pinned.stop(), following.stop()]);
      await s.cleanup();
    }
  },
});
