/**
 * No message can stall a partition: a request topic the worker did not
 * create (so with the broker's ~1 MB limit) carrying a huge malformed
 * request, and a predict that throws on one input, against the real broker.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Kafka, KafkaMessage } from "kafkajs";
import {
  decodeResponse,
  encodeRequest,
  isErrorReply,
  type Response,
} from "../shared/protocol/schema.ts";
import { brokerLifecycle, integrationTest, kafkaDeps } from "./_support.ts";

const deps = await kafkaDeps();
const {
  asBuffer,
  deleteTopics,
  drainTopic,
  idempotentProducer,
  MODEL_DIR,
  serviceKafka,
  startWorker,
  uniqueService,
} = deps;
const lifecycle = brokerLifecycle(deps);
const opts = integrationTest();
type Service = ReturnType<typeof uniqueService>;

Deno.test(lifecycle.setup);

/** Creates the service's three topics, one partition each, with the broker's default limits. */
async function createPlainTopics(kafka: Kafka, service: Service): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const { requests, responses, dlq } = service.config.topics;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [requests, responses, dlq].map((topic) => ({ topic, numPartitions: 1 })),
  });
  await admin.disconnect();
}

function good(id: string, fill: number) {
  const image = new Uint8Array(784).fill(fill);
  return { key: id, value: asBuffer(encodeRequest({ v: 1, id, image, sent_at: Date.now() })) };
}

/** Every message of `topic` now: as many as its end offset says. */
async function readAll(kafka: Kafka, topic: string): Promise<KafkaMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const [{ high }] = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const all: KafkaMessage[] = [];
  if (Number(high) === 0) return all;
  await drainTopic(kafka, {
    topic,
    what: `all ${high} messages`,
    timeoutMs: 30_000,
    onMessage: (m) => (all.push(m), all.length >= Number(high)),
  });
  return all;
}

/** Waits until the worker group has committed `offset` on the request topic's partition 0. */
async function waitForCommit(kafka: Kafka, service: Service, offset: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let committed = "-1";
  try {
    const deadline = Date.now() + 30_000;
    while (committed !== String(offset)) {
      if (Date.now() > deadline) {
        throw new Error(`waited 30000 ms for committed offset ${offset}; it is ${committed}`);
      }
      const [t] = await admin.fetchOffsets({
        groupId: service.config.workerGroup,
        topics: [service.config.topics.requests],
      });
      committed = t.partitions[0].offset;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

function responsesById(messages: KafkaMessage[]): Map<string, Response[]> {
  const byId = new Map<string, Response[]>();
  for (const m of messages) {
    const d = decodeResponse(m.value);
    if (!d.ok) throw new Error(`undecodable response: ${d.error.message}`);
    byId.set(d.value.id, [...(byId.get(d.value.id) ?? []), d.value]);
  }
  return byId;
}

Deno.test({
  name: "a 1,048,000-byte malformed request between 120 good ones stalls nothing",
  ...opts,
  async fn(t) {
    const service = uniqueService("poison-big");
    const kafka = await serviceKafka(service, "test-poison");
    await createPlainTopics(kafka, service);
    const tag = crypto.randomUUID().slice(0, 6);
    const ids = Array.from({ length: 120 }, (_, i) => `g-${tag}-${i}`);
    const bigId = `big-${tag}`;
    const big = new Uint8Array(1_048_000).fill(0x78); // "xxx...": malformed, and too large
    const producer = idempotentProducer(kafka);
    await producer.connect();
    const { requests, responses, dlq } = service.config.topics;
    await producer.send({
      topic: requests,
      acks: -1,
      messages: ids.slice(0, 60).map((id, i) => good(id, i)),
    });
    await producer.send({
      topic: requests,
      acks: -1,
      messages: [{ key: bigId, value: asBuffer(big) }],
    });
    await producer.send({
      topic: requests,
      acks: -1,
      messages: ids.slice(60).map((id, i) => good(id, i)),
    });
    await producer.disconnect();
    const started = performance.now();
    const worker = await startWorker(service, { model: `${MODEL_DIR}/model` });
    try {
      const seen = new Set<string>();
      await drainTopic(kafka, {
        topic: responses,
        what: "121 distinct answers (120 predictions, 1 error reply)",
        timeoutMs: 60_000,
        onMessage: (m) => {
          const d = decodeResponse(m.value);
          if (d.ok) seen.add(d.value.id);
          return seen.size >= 121;
        },
      });
      await waitForCommit(kafka, service, 121);
      const seconds = (performance.now() - started) / 1000;
      const exited = await Promise.race([
        worker.status.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 100)),
      ]);
      const byId = responsesById(await readAll(kafka, responses));
      const duplicates = [...byId.values()].reduce((n, rs) => n + rs.length - 1, 0);
      console.log(
        `answered ${byId.size} ids, ${duplicates} duplicates, in ${seconds.toFixed(1)} s`,
      );
      await t.step("every good request answered with a prediction, few duplicates", () => {
        for (const id of ids) {
          const r = byId.get(id);
          assert.ok(r && !isErrorReply(r[0]), `${id}: ${JSON.stringify(r?.[0])}`);
        }
        assert.ok(duplicates < 10, `${duplicates} duplicate answers`);
      });
      await t.step("the big request gets a too_large error reply keyed by its id", () => {
        const r = byId.get(bigId)?.[0];
        assert.ok(r && isErrorReply(r), JSON.stringify(r));
        assert.equal(r.error.code, "too_large");
        assert.equal(
          r.error.message,
          "Cannot decode request: expected at most 4096 bytes, got 1048000",
        );
      });
      await t.step("its dead letter holds a 64 KiB prefix and says what was cut", async () => {
        const letters = await readAll(kafka, dlq);
        assert.equal(letters.length, 1);
        const h = letters[0].headers!;
        assert.equal(letters[0].value!.length, 65_536);
        assert.equal(String(h["dlq-error-code"]), "too_large");
        assert.equal(String(h["dlq-truncated"]), "true");
        assert.equal(String(h["dlq-original-bytes"]), "1048000");
        assert.equal(
          String(h["dlq-original-sha256"]),
          createHash("sha256").update(big).digest("hex"),
        );
      });
      await t.step("the worker is alive and the partition committed past the end", () => {
        assert.equal(exited, false);
      });
    } finally {
      await worker.stop();
      await deleteTopics(service);
    }
  },
});

Deno.test({
  name: "a predict that throws on one request: 3 retries, then only that request fails",
  ...opts,
  async fn(t) {
    const service = uniqueService("poison-predict");
    const kafka = await serviceKafka(service, "test-poison");
    await createPlainTopics(kafka, service);
    const tag = crypto.randomUUID().slice(0, 6);
    const ids = Array.from({ length: 40 }, (_, i) => `p-${tag}-${i}`);
    const poison = ids[20];
    const producer = idempotentProducer(kafka);
    await producer.connect();
    const { requests, responses, dlq } = service.config.topics;
    await producer.send({ topic: requests, acks: -1, messages: ids.map((id, i) => good(id, i)) });
    await producer.disconnect();
    const worker = await startWorker(service, {
      model: `${MODEL_DIR}/model`,
      args: ["--test-poison-id", poison],
    });
    try {
      await waitForCommit(kafka, service, 40);
      const byId = responsesById(await readAll(kafka, responses));
      const events = worker.lines.flatMap((l) => {
        try {
          return [JSON.parse(l) as { event: string; kind?: string }];
        } catch {
          return [];
        }
      });
      await t.step(
        "the batch was retried 3 times for its own fault, then served one at a time",
        () => {
          const retries = events.filter((e) => e.event === "batch_retry");
          assert.deepEqual(retries.map((e) => e.kind), ["poison", "poison", "poison"]);
          assert.equal(events.filter((e) => e.event === "batch_poison").length, 1);
        },
      );
      await t.step("the poison request gets an internal_error reply and dead letter", async () => {
        const r = byId.get(poison)?.[0];
        assert.ok(r && isErrorReply(r), JSON.stringify(r));
        assert.equal(r.error.code, "internal_error");
        assert.match(r.error.message, /test hook --test-poison-id/);
        const letters = await readAll(kafka, dlq);
        assert.equal(letters.length, 1);
        assert.equal(String(letters[0].headers!["dlq-error-code"]), "internal_error");
        assert.equal(String(letters[0].key), poison);
      });
      await t.step("every other request is answered with a prediction", () => {
        for (const id of ids.filter((id) => id !== poison)) {
          const r = byId.get(id)?.[0];
          assert.ok(r && !isErrorReply(r), `${id}: ${JSON.stringify(r)}`);
        }
      });
    } finally {
      await worker.stop();
      await deleteTopics(service);
    }
  },
});

Deno.test(lifecycle.teardown);
