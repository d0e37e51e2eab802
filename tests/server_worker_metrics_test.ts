import assert from "node:assert/strict";
import { createWorkerMetrics, partitionLag, type WorkerMetrics } from "../server/worker_metrics.ts";
import { promtoolCheckMetrics } from "../harness/prometheus.ts";
import { needsPermissions } from "./_support.ts";

const SOURCES = {
  tensors: () => 17,
  memory: () => ({ rss: 300_000_000, heapUsed: 40_000_000, heapTotal: 60_000_000 }),
};

/** A registry with one of everything observed. */
function populated(): WorkerMetrics {
  const m = createWorkerMetrics(SOURCES);
  m.setModelVersion("sha256:0123456789abcdef");
  m.observeBatch(32, 0.012);
  m.observeBatch(1, 0.002);
  m.countOutcome("prediction");
  m.countOutcome("prediction");
  m.countOutcome("error_reply", "invalid_id");
  m.countOutcome("dead_letter", "invalid_json");
  m.observeEndToEnd(0.03);
  m.setLag(0, 5);
  m.setLag(3, 0);
  m.setCommitted(0, 120);
  return m;
}

/** The sample lines of the exposition text, without HELP and TYPE. */
async function samples(m: WorkerMetrics): Promise<string[]> {
  return (await m.text()).split("\n").filter((l) => l !== "" && !l.startsWith("#"));
}

Deno.test("partitionLag() is the high watermark minus the next offset, never negative", async (t) => {
  await t.step("behind", () => assert.equal(partitionLag("120", "100"), 20));
  await t.step("caught up", () => assert.equal(partitionLag("120", "120"), 0));
  await t.step("past a stale watermark", () => assert.equal(partitionLag("100", "120"), 0));
  await t.step("beyond 2^53 in the offsets", () => {
    assert.equal(partitionLag("9007199254740999", "9007199254740993"), 6);
  });
});

Deno.test("createWorkerMetrics() names each metric by Prometheus conventions, with help", async () => {
  const text = await populated().text();
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(types, [
    "fashion_requests_total counter",
    "fashion_predict_batch_size histogram",
    "fashion_predict_seconds histogram",
    "fashion_end_to_end_seconds histogram",
    "fashion_consumer_lag gauge",
    "fashion_committed_offset gauge",
    "fashion_model_info gauge",
    "fashion_tfjs_tensors gauge",
    "process_resident_memory_bytes gauge",
    "deno_heap_used_bytes gauge",
    "deno_heap_total_bytes gauge",
  ]);
  assert.equal([...text.matchAll(/^# HELP \S+ \S.*$/gm)].length, types.length);
});

Deno.test("createWorkerMetrics() counts requests by outcome and error code", async () => {
  const lines = await samples(populated());
  assert.ok(lines.includes('fashion_requests_total{outcome="prediction"} 2'));
  assert.ok(lines.includes('fashion_requests_total{outcome="error_reply",code="invalid_id"} 1'));
  assert.ok(lines.includes('fashion_requests_total{outcome="dead_letter",code="invalid_json"} 1'));
});

Deno.test("createWorkerMetrics() shows a zero request count before the first request", async () => {
  const lines = await samples(createWorkerMetrics(SOURCES));
  assert.ok(lines.includes('fashion_requests_total{outcome="prediction"} 0'));
});

Deno.test("createWorkerMetrics() observes batches, predict time and end-to-end time", async () => {
  const lines = await samples(populated());
  for (
    const line of [
      "fashion_predict_batch_size_count 2",
      "fashion_predict_batch_size_sum 33",
      'fashion_predict_batch_size_bucket{le="1"} 1',
      'fashion_predict_batch_size_bucket{le="32"} 2',
      "fashion_predict_seconds_count 2",
      "fashion_predict_seconds_sum 0.014",
      "fashion_end_to_end_seconds_count 1",
      'fashion_end_to_end_seconds_bucket{le="0.025"} 0',
      'fashion_end_to_end_seconds_bucket{le="0.05"} 1',
    ]
  ) {
    assert.ok(lines.includes(line), `missing: ${line}`);
  }
});

Deno.test("createWorkerMetrics() counts a negative end-to-end time (skewed clock) as 0", async () => {
  const m = createWorkerMetrics(SOURCES);
  m.observeEndToEnd(-2);
  const lines = await samples(m);
  assert.ok(lines.includes("fashion_end_to_end_seconds_sum 0"));
  assert.ok(lines.includes('fashion_end_to_end_seconds_bucket{le="0.005"} 1'));
});

Deno.test("createWorkerMetrics() reads the process gauges at each scrape", async () => {
  const lines = await samples(populated());
  for (
    const line of [
      'fashion_model_info{version="sha256:0123456789abcdef"} 1',
      "fashion_tfjs_tensors 17",
      "process_resident_memory_bytes 300000000",
      "deno_heap_used_bytes 40000000",
      "deno_heap_total_bytes 60000000",
    ]
  ) {
    assert.ok(lines.includes(line), `missing: ${line}`);
  }
});

Deno.test("createWorkerMetrics() keeps lag and offsets only of the partitions still assigned", async (t) => {
  const m = populated();
  await t.step("before the rebalance", async () => {
    const lines = await samples(m);
    assert.ok(lines.includes('fashion_consumer_lag{partition="0"} 5'));
    assert.ok(lines.includes('fashion_consumer_lag{partition="3"} 0'));
    assert.ok(lines.includes('fashion_committed_offset{partition="0"} 120'));
  });
  await t.step("after partition 0 moved away", async () => {
    m.keepPartitions([3, 4]);
    const lines = await samples(m);
    assert.deepEqual(lines.filter((l) => /^fashion_(consumer_lag|committed_offset)/.test(l)), [
      'fashion_consumer_lag{partition="3"} 0',
    ]);
  });
});

Deno.test("createWorkerMetrics() shows one model version after a swap", async () => {
  const m = populated();
  m.setModelVersion("sha256:fedcba9876543210");
  const info = (await samples(m)).filter((l) => l.startsWith("fashion_model_info"));
  assert.deepEqual(info, ['fashion_model_info{version="sha256:fedcba9876543210"} 1']);
});

Deno.test({
  name: "createWorkerMetrics() output passes `promtool check metrics`",
  ...needsPermissions(),
  async fn() {
    const { code, output } = await promtoolCheckMetrics(await populated().text());
    assert.equal(output, "");
    assert.equal(code, 0);
  },
});
