/**
 * A real Prometheus scrapes two real workers on the real broker: request
 * counters rise by exactly what was sent, lag returns to 0, and every
 * /metrics body passes `promtool check metrics`.
 */
import assert from "node:assert/strict";
import { badRequests } from "../harness/bad_requests.ts";
import {
  type Prometheus,
  promtoolCheckConfig,
  promtoolCheckMetrics,
  startPrometheus,
} from "../harness/prometheus.ts";
import { waitReady } from "../harness/wait_ready.ts";
import { encodeRequest } from "../shared/protocol/schema.ts";
import {
  brokerLifecycle,
  integrationTest,
  kafkaDeps,
  needsPermissions,
  tempDir,
} from "./_support.ts";

const deps = await kafkaDeps();
const {
  asBuffer,
  createTopics,
  deleteTopics,
  idempotentProducer,
  MODEL_DIR,
  serviceKafka,
  startWorkers,
  uniqueService,
} = deps;
const lifecycle = brokerLifecycle(deps);
const opts = integrationTest();
const GOOD = 120;

Deno.test(lifecycle.setup);

/** Polls `check` every 500 ms until it returns true; throws `what` with its last note. */
async function eventually(
  what: string,
  check: () => Promise<boolean | string>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: boolean | string = false;
  while (Date.now() < deadline) {
    last = await check();
    if (last === true) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} within ${timeoutMs} ms (last: ${last})`);
}

/** The one value of a query that sums to a scalar vector, or undefined when it has none. */
async function scalar(prometheus: Prometheus, expr: string): Promise<number | undefined> {
  const result = await prometheus.query(expr);
  return result.length === 1 ? result[0].value : undefined;
}

Deno.test({
  name: "docs/prometheus.yml passes `promtool check config`",
  ...needsPermissions(),
  async fn() {
    const { code, output } = await promtoolCheckConfig("docs/prometheus.yml");
    assert.equal(code, 0, output);
    assert.match(output, /SUCCESS/);
  },
});

Deno.test({
  name: "Prometheus scraping two workers sees the requests sent counted once and the lag back at 0",
  ...opts,
  async fn() {
    const service = uniqueService("test-prom");
    await createTopics(service, 6); // 3 partitions for each worker
    await using dir = await tempDir("prometheus-");
    const producer = idempotentProducer(await serviceKafka(service, "test"));
    const workers = await startWorkers(service, 2, { model: `${MODEL_DIR}/model` });
    let prometheus: Prometheus | undefined;
    try {
      const addresses = workers.map((w) => w.http!);
      assert.ok(addresses.every((a) => /^127\.0\.0\.1:\d+$/.test(a)), `${addresses}`);
      assert.notEqual(addresses[0], addresses[1]);
      await Promise.all(addresses.map((a) => waitReady(`http://${a}`, 60_000)));

      prometheus = await startPrometheus(addresses, dir.path);
      const p = prometheus;
      await eventually("both workers scraped", async () => {
        const up = await scalar(p, 'count(up{job="fashion-workers"} == 1)');
        const counted = await scalar(p, "count(fashion_requests_total)");
        return (up === 2 && counted === 2) || `up ${up}, request series ${counted}`;
      });
      const before = await scalar(p, "sum(fashion_requests_total)");
      assert.equal(before, 0);

      const bad = badRequests(crypto.randomUUID().slice(0, 6));
      await producer.connect();
      await producer.send({
        topic: service.config.topics.requests,
        acks: -1,
        messages: [
          ...Array.from({ length: GOOD }, (_, i) => ({
            key: `p-${i}`,
            value: asBuffer(encodeRequest({
              v: 1,
              id: `p-${i}`,
              image: new Uint8Array(784).fill(i % 256),
              sent_at: Date.now(),
            })),
          })),
          ...bad.map((b, i) => ({ key: `bad-${i}`, value: b.value && asBuffer(b.value) })),
        ],
      });
      const sent = GOOD + bad.length;

      await eventually(`the request counters reach ${sent}`, async () => {
        const total = await scalar(p, "sum(fashion_requests_total)");
        return total === sent || `sum(fashion_requests_total) = ${total}`;
      });
      await eventually("the lag of every partition is back at 0", async () => {
        const lag = await p.query("fashion_consumer_lag");
        const sum = lag.reduce((s, r) => s + r.value, 0);
        return (lag.length > 0 && sum === 0) || `${lag.length} lag series, sum ${sum}`;
      });
      // Fresh topics start at offset 0: the committed offsets add up to what was sent.
      await eventually(`the committed offsets add up to ${sent}`, async () => {
        const committed = await scalar(p, "sum(fashion_committed_offset)");
        return committed === sent || `sum(fashion_committed_offset) = ${committed}`;
      });
      // Two more scrapes: nothing is counted twice.
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(await scalar(p, "sum(fashion_requests_total)"), sent);

      const expected = new Map<string, number>([[`prediction/`, GOOD]]);
      for (const b of bad) {
        const key = `${b.id === undefined ? "dead_letter" : "error_reply"}/${b.code}`;
        expected.set(key, (expected.get(key) ?? 0) + 1);
      }
      const byOutcome = await p.query("sum by (outcome, code) (fashion_requests_total)");
      assert.deepEqual(
        new Map(byOutcome.map((r) => [`${r.metric.outcome}/${r.metric.code ?? ""}`, r.value])),
        expected,
      );
      assert.equal(await scalar(p, "count(fashion_model_info == 1)"), 2);
      assert.ok((await scalar(p, "sum(fashion_predict_batch_size_count)"))! >= 1);
      assert.equal(await scalar(p, "sum(fashion_end_to_end_seconds_count)"), GOOD);

      for (const a of addresses) {
        const body = await (await fetch(`http://${a}/metrics`)).text();
        const { code, output } = await promtoolCheckMetrics(body);
        assert.equal(code, 0, `promtool check metrics on ${a}: ${output}`);
        const missing = await fetch(`http://${a}/nothing`);
        assert.equal(missing.status, 404);
        await missing.body?.cancel();
      }
    } finally {
      await prometheus?.stop();
      await producer.disconnect();
      for (const w of workers) assert.equal((await w.stop("SIGTERM")).code, 0);
      await deleteTopics(service);
    }
  },
});

Deno.test(lifecycle.teardown);
