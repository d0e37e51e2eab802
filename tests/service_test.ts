import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { decodeResponse, isErrorReply, type Response } from "../shared/protocol/schema.ts";
import { brokerLifecycle, integrationTest, kafkaDeps } from "./_support.ts";

const deps = await kafkaDeps();
const {
  asBuffer,
  createTopics,
  deleteTopics,
  drainTopic,
  idempotentProducer,
  KafkaJSNonRetriableError,
  MODEL_DIR,
  receiveResponses,
  runKeptAlive,
  sendRequests,
  serviceKafka,
  startWorker,
  startWorkers,
  testImages,
  uniqueService,
  waitUntil,
} = deps;
const lifecycle = brokerLifecycle(deps);

const opts = integrationTest();
const model = () => `${MODEL_DIR}/model`;

Deno.test(lifecycle.setup);

/** Reads `count` distinct responses of a topic from the beginning. */
async function collect(kafka: Kafka, topic: string, count: number): Promise<Response[]> {
  const byId = new Map<string, Response>();
  await drainTopic(kafka, {
    topic,
    what: `${count} distinct responses`,
    timeoutMs: 60_000,
    onMessage: (message) => {
      const d = decodeResponse(message.value);
      if (d.ok) byId.set(d.value.id, d.value);
      return byId.size >= count;
    },
  });
  return [...byId.values()];
}

Deno.test({
  name: "500 labelled test images get exactly 500 answers with their ids, accuracy >= 0.85",
  ...opts,
  async fn() {
    const service = uniqueService("test-e2e");
    const { config } = service;
    await createTopics(service, 6);
    const kafka = await serviceKafka(service, "test");
    const worker = await startWorker(service, { model: model() });
    const producer = idempotentProducer(kafka);
    await producer.connect();
    const consumer = kafka.consumer({
      groupId: `${config.workerGroup}-receiver`,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    try {
      const set = await testImages();
      const receiving = receiveResponses(consumer, {
        topic: config.topics.responses,
        count: 500,
        timeoutS: 60,
      }, true);
      const sent = await sendRequests(producer, config.topics.requests, {
        set,
        count: 500,
        rate: Infinity,
        order: "sequential",
        seed: 1,
        withLabels: true,
        runId: "e2e",
      });
      assert.equal(sent.acked, 500);
      const got = await receiving;
      assert.equal(got.received, 500);
      assert.equal(got.errors, 0);
      assert.equal(got.timedOut, false);
      const expected = new Set(Array.from({ length: 500 }, (_, i) => `e2e-${i}`));
      assert.deepEqual(got.ids, expected);
      // The ledger is not used here: score against the test labels directly.
      const answers = await collect(kafka, config.topics.responses, 500);
      let right = 0;
      for (const r of answers) {
        assert.ok(!isErrorReply(r));
        const i = Number(r.id.slice(4));
        if (r.index === set.labels[i]) right++;
        assert.equal(r.sent_at <= r.received_at && r.received_at <= r.completed_at, true);
        assert.match(r.model, /^sha256:[0-9a-f]{16}$/);
      }
      assert.ok(right / 500 >= 0.85, `accuracy ${right / 500} < 0.85`);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      const s = await worker.stop("SIGTERM");
      assert.equal(s.code, 0, "the worker exits 0 on SIGTERM");
      await deleteTopics(service);
    }
  },
});

Deno.test({
  name: "two workers in one group share the partitions and both serve requests",
  ...opts,
  async fn() {
    const service = uniqueService("test-two");
    const { config } = service;
    await createTopics(service, 6);
    const kafka = await serviceKafka(service, "test");
    const [first, second] = await startWorkers(service, 2, { model: model() });
    const producer = idempotentProducer(kafka);
    await producer.connect();
    try {
      // The second joined after the first: the group's 6 partitions were split.
      const theirs = second.ready.partitions as number[];
      assert.ok(theirs.length >= 1 && theirs.length <= 5, `second worker got [${theirs}]`);
      const set = await testImages();
      await sendRequests(producer, config.topics.requests, {
        set,
        count: 600,
        rate: Infinity,
        order: "sequential",
        seed: 1,
        withLabels: true,
        runId: "two",
      });
      const answers = await collect(kafka, config.topics.responses, 600);
      const workers = new Set(answers.map((r) => (r as { worker: string }).worker));
      assert.equal(workers.size, 2, `answers came from ${[...workers].join(", ")}`);
    } finally {
      await producer.disconnect();
      await Promise.all([first.stop(), second.stop()]);
      await deleteTopics(service);
    }
  },
});

/** The first record of the DLQ: key, value and headers as strings. */
async function firstDeadLetter(kafka: Kafka, topic: string) {
  let record: { key: string; value: string; headers: Record<string, string> } | undefined;
  await drainTopic(kafka, {
    topic,
    what: "one dead letter",
    timeoutMs: 30_000,
    onMessage: (message) => {
      const headers = Object.fromEntries(
        Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
      );
      record ??= { key: String(message.key), value: String(message.value), headers };
      return true;
    },
  });
  return record!;
}

Deno.test({
  name: "a malformed request lands in the DLQ and gets an error reply while good ones flow",
  ...opts,
  async fn() {
    const service = uniqueService("test-dlq");
    const { config } = service;
    await createTopics(service, 3);
    const kafka = await serviceKafka(service, "test");
    const worker = await startWorker(service, { model: model() });
    const producer = idempotentProducer(kafka);
    await producer.connect();
    const set = await testImages();
    const good = (runId: string, seed: number) => ({
      set,
      count: 100,
      rate: Infinity,
      order: "sequential" as const,
      seed,
      withLabels: true,
      runId,
    });
    try {
      const before = sendRequests(producer, config.topics.requests, good("good1", 1));
      const badValue = asBuffer(
        new TextEncoder().encode(
          JSON.stringify({ v: 1, id: "bad-1", image: "not base64!", sent_at: 1 }),
        ),
      );
      await producer.send({
        topic: config.topics.requests,
        acks: -1,
        messages: [{ key: "bad-1", value: badValue, headers: { trace: "abc" } }],
      });
      await before;
      await sendRequests(producer, config.topics.requests, good("good2", 2));
      const answers = await collect(kafka, config.topics.responses, 201);
      const bad = answers.find((r) => r.id === "bad-1");
      assert.ok(bad && isErrorReply(bad), "bad-1 gets an error reply");
      assert.equal(bad.error.code, "invalid_base64");
      assert.equal(answers.filter((r) => !isErrorReply(r)).length, 200);

      const record = await firstDeadLetter(kafka, config.topics.dlq);
      assert.equal(record.key, "bad-1");
      assert.equal(record.value, new TextDecoder().decode(badValue));
      assert.equal(record.headers.trace, "abc");
      assert.equal(record.headers["dlq-error-code"], "invalid_base64");
      assert.match(
        record.headers["dlq-error-message"],
        /^Cannot decode image: expected standard padded base64/,
      );
      assert.equal(record.headers["dlq-source-topic"], config.topics.requests);
      assert.match(record.headers["dlq-source-offset"], /^\d+$/);
      assert.match(record.headers["dlq-source-partition"], /^\d+$/);
    } finally {
      await producer.disconnect();
      await worker.stop();
      await deleteTopics(service);
    }
  },
});

Deno.test({
  name: "a consumer that kafkajs stops for good after a crash is reconnected and reads on",
  ...opts,
  async fn() {
    const service = uniqueService("test-revive");
    const topic = service.config.topics.requests;
    const kafka = await serviceKafka(service, "test");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const consumer = kafka.consumer({ groupId: service.config.workerGroup });
    const producer = idempotentProducer(kafka);
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      // A non-retriable error is what kafkajs raised when a broker restart
      // left it without a group coordinator: it then never restarts itself.
      let batches = 0;
      const seen: string[] = [];
      const restarts: string[] = [];
      const alive = await runKeptAlive(
        consumer,
        {
          eachBatch: ({ batch }) => {
            if (++batches === 1) {
              return Promise.reject(new KafkaJSNonRetriableError("the first batch fails"));
            }
            for (const m of batch.messages) seen.push(String(m.value));
            return Promise.resolve();
          },
        },
        (e) => restarts.push(e.message),
        200,
      );
      await producer.connect();
      await producer.send({ topic, messages: [{ value: "after the crash" }] });
      await waitUntil(() => seen.length > 0, "the revived consumer to read a message", 60_000);
      await alive.stop();
      assert.deepEqual(seen, ["after the crash"]);
      assert.deepEqual(restarts, ["the first batch fails"]);
      assert.equal(alive.running(), true);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  },
});

Deno.test(lifecycle.teardown);
