/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core)
 * against the real broker and a real worker: counts rise, charts get points,
 * the grid shows predicted labels, a deliberately mislabelled request is
 * marked wrong, the page survives a worker restart and a dashboard restart.
 * Writes docs/dashboard.png, the README's screenshot.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { TaskProcess } from "../harness/deno_task.ts";
import { badRequests } from "../harness/bad_requests.ts";
import { CLASS_NAMES } from "../shared/protocol/classes.ts";
import { hasPermissions, needsPermissions } from "./_support.ts";

// Loaded only when the tests may run: see _kafka_deps.ts.
const deps = hasPermissions()
  ? {
    ...(await import("./_kafka_deps.ts")),
    ...(await import("./_browser.ts")),
    ...(await import("../harness/dashboard.ts")),
    ...(await import("../shared/protocol/schema.ts")),
  }
  : undefined;

const opts = { ...needsPermissions(), sanitizeOps: false, sanitizeResources: false };

const SCREENSHOT = "docs/dashboard.png";
/** A trouser (the easiest class) sent labelled as a bag: its answer is wrong whatever the model. */
const TROUSER = 1;
const BAG = 8;

/** Polls `check` every 250 ms until it is true; fails with `what` after `timeoutMs`. */
async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function number(page: Page, selector: string): Promise<number> {
  return Number((await page.textContent(selector))?.replaceAll(",", "") ?? NaN);
}

async function status(page: Page): Promise<string | null> {
  return await page.getAttribute("#status", "data-state");
}

Deno.test({
  name: "setup: a real Kafka broker answers and a model is trained",
  ...opts,
  async fn() {
    await deps!.ensureBroker();
    await deps!.ensureModel();
  },
});

type Deps = NonNullable<typeof deps>;

/** What the checks share: the page, the test's topics and a way to send. */
interface Live {
  d: Deps;
  page: Page;
  producer: ReturnType<Deps["idempotentProducer"]>;
  requests: string;
  /** The test's topics and group, for child tasks. */
  env: Record<string, string>;
  set: Awaited<ReturnType<Deps["testImages"]>>;
  /** Sends `count` labelled test images at 100/s; resolves when all are acknowledged. */
  send(count: number, runId: string): Promise<{ acked: number }>;
}

/** The text of every cell of the data rows of `table`. */
async function tableRows(page: Page, table: string): Promise<(string | null)[][]> {
  return await page.$$eval(
    `${table} tr:has(td)`,
    (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)),
  );
}

async function countsRise(page: Page): Promise<void> {
  await waitUntil("a first answer", async () => (await number(page, "#answers")) > 0);
  const first = await number(page, "#answers");
  await waitUntil(
    `more answers than ${first}`,
    async () => (await number(page, "#answers")) > first,
  );
}

async function chartsHavePoints(page: Page): Promise<void> {
  for (const chart of ["#chart-rate", "#chart-latency"]) {
    await waitUntil(
      `points on ${chart}`,
      async () => Number(await page.getAttribute(chart, "data-points")) > 0,
    );
  }
}

async function gridShowsLabels(page: Page): Promise<void> {
  await waitUntil("12 images", async () => (await page.$$("#recent figure")).length >= 12);
  const labels = await page.$$eval(
    "#recent figure .predicted",
    (els) => els.map((e) => e.textContent),
  );
  assert.ok(labels.length >= 12);
  for (const l of labels) assert.ok(CLASS_NAMES.includes(l!), `'${l}' is a class name`);
  // A string, because Deno's type libraries have no 2D canvas.
  const drawn = await page.evaluate(`(() => {
    const canvas = document.querySelector("#recent figure canvas");
    const rgba = canvas.getContext("2d").getImageData(0, 0, 28, 28).data;
    return rgba.some((v, i) => i % 4 !== 3 && v > 0);
  })()`);
  assert.equal(drawn, true, "the first image has non-black pixels");
}

async function wrongLabelMarked({ d, page, producer, requests, set }: Live): Promise<void> {
  const trouser = set.labels.indexOf(TROUSER);
  await producer.send({
    topic: requests,
    acks: -1,
    messages: [{
      key: "dash-wrong",
      value: d.asBuffer(d.encodeRequest({
        v: 1,
        id: "dash-wrong",
        image: set.images.subarray(trouser * 784, (trouser + 1) * 784),
        sent_at: Date.now(),
        label: BAG,
      })),
    }],
  });
  const figure = '#mistakes figure[data-id="dash-wrong"]';
  await waitUntil(
    "the mislabelled image among the mistakes",
    async () => (await page.$(figure)) !== null,
  );
  assert.equal(await page.getAttribute(figure, "class"), "wrong");
  assert.equal(await page.textContent(`${figure} .actual`), "\u2717 true: Bag");
  assert.match((await page.textContent("#accuracy"))!, /^\d+\.\d% of 601$/);
}

async function codesCounted({ d, page, producer, requests }: Live): Promise<void> {
  const bad = badRequests(`dash-${Date.now()}`);
  await producer.send({
    topic: requests,
    acks: -1,
    messages: bad.map((b) => ({ key: b.id ?? null, value: b.value && d.asBuffer(b.value) })),
  });
  const expected = new Map<string, [number, number]>();
  for (const b of bad) {
    const [replies, letters] = expected.get(b.code) ?? [0, 0];
    expected.set(b.code, [replies + (b.id === undefined ? 0 : 1), letters + 1]);
  }
  const want = [...expected].sort(([a], [b]) => a.localeCompare(b))
    .map(([code, [replies, letters]]) => [code, String(replies), String(letters)]);
  let shown: (string | null)[][] = [];
  await waitUntil(`the codes table to show ${JSON.stringify(want)}`, async () => {
    shown = await tableRows(page, "#codes");
    return JSON.stringify(shown) === JSON.stringify(want);
  });
  assert.deepEqual(shown, want);
  assert.equal(await number(page, "#dead-letters"), bad.length);
}

async function workerReady(page: Page): Promise<void> {
  await waitUntil(
    "a ready worker",
    async () => (await tableRows(page, "#workers")).some((r) => r[3] === "ready"),
  );
  const ready = (await tableRows(page, "#workers")).find((cells) => cells[3] === "ready")!;
  assert.equal(ready[1], "0,1,2", "one worker serves all three partitions");
  assert.match(ready[4]!, /^sha256:[0-9a-f]{12}/);
}

/** SIGKILLs `worker`, starts another and checks answers go on; returns the new worker. */
async function workerRestart(live: Live, worker: TaskProcess): Promise<TaskProcess> {
  const { d, page } = live;
  const before = await number(page, "#answers");
  await worker.stop("SIGKILL");
  const next = await d.startWorker(live.env);
  const more = live.send(200, "dash-after");
  await waitUntil(
    `${before + 200} answers after the restart`,
    async () => (await number(page, "#answers")) >= before + 200,
    90_000,
  );
  assert.equal((await more).acked, 200);
  assert.equal(await status(page), "live");
  await waitUntil("the new worker ready and the killed one not", async () => {
    const rows = await tableRows(page, "#workers");
    const state = (pid: number) => rows.find((r) => r[0]!.endsWith(`-${pid}`))?.[3];
    return state(next.pid) === "ready" && state(worker.pid) === "not ready";
  });
  return next;
}
Deno.test({
  name:
    "the dashboard page shows a live stream in Chromium and survives worker and dashboard restarts",
  ...opts,
  async fn(t) {
    const d = deps!;
    const { config, env } = d.uniqueService("dash");
    const kafka = await d.testKafka(config);
    const admin = kafka.admin();
    await admin.connect();
    await d.ensureTopics(admin, config.topics, 3);
    await admin.disconnect();
    const producer = d.idempotentProducer(kafka);
    await producer.connect();
    let worker = await d.startWorker(env);
    let dashboard = await d.startDashboard(env, 0, ["--interval-ms", "250"]);
    await using browser = await d.launchChromium();
    const set = await d.testImages();
    const page = await browser.newPage();
    const requests = config.topics.requests;
    const send = (count: number, runId: string) =>
      d.sendRequests(producer, requests, {
        set,
        count,
        rate: 100,
        order: "random",
        seed: 7,
        withLabels: true,
        runId,
      });
    const live: Live = { d, page, producer, requests, env, set, send };
    try {
      await page.goto(dashboard.url);
      await waitUntil("the page to go live", async () => (await status(page)) === "live");
      const stream = send(600, "dash");
      await t.step("the answer count rises while requests flow", () => countsRise(page));
      await t.step("both charts have points", () => chartsHavePoints(page));
      await t.step(
        "the image grid shows predicted labels on drawn images",
        () => gridShowsLabels(page),
      );
      assert.equal((await stream).acked, 600);
      await waitUntil("600 answers", async () => (await number(page, "#answers")) >= 600);
      await t.step(
        "a wrongly labelled request is marked wrong, with its true label",
        () => wrongLabelMarked(live),
      );
      await t.step(
        "malformed requests show as error replies and dead letters by code",
        () => codesCounted(live),
      );
      await t.step(
        "the workers table shows the worker ready with its model",
        () => workerReady(page),
      );
      await t.step(
        "after the worker is killed and another starts, answers keep coming",
        async () => {
          worker = await workerRestart(live, worker);
          await Deno.writeFile(SCREENSHOT, await page.screenshot({ fullPage: true }));
        },
      );
      await t.step("the page reconnects when the dashboard restarts on its port", async () => {
        const port = Number(new URL(dashboard.url).port);
        assert.equal((await dashboard.task.stop("SIGTERM")).code, 0, "exits 0 on SIGTERM");
        await waitUntil(
          "the page to show it is reconnecting",
          async () => (await status(page)) === "reconnecting",
        );
        dashboard = await d.startDashboard(env, port, ["--interval-ms", "250"]);
        await waitUntil("the page to go live again", async () => (await status(page)) === "live");
        await send(50, "dash-again");
        // The new dashboard starts at the latest offsets: it counts these 50 only.
        await waitUntil(
          "the page to show the restarted dashboard's 50 answers",
          async () => (await number(page, "#answers")) === 50,
        );
      });
    } finally {
      await dashboard.task.stop("SIGTERM");
      await worker.stop("SIGTERM");
      await producer.disconnect();
      await d.deleteTopics(kafka, config);
    }
  },
});
