/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core)
 * against the real broker and a real worker: counts rise, charts get points,
 * the grid shows predicted labels, a deliberately mislabelled request is
 * marked wrong, the page survives a worker restart and a dashboard restart.
 * Writes docs/dashboard.png, the README's screenshot.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { badRequests } from "../harness/bad_requests.ts";
import { type DashboardProcess, startDashboard } from "../harness/dashboard.ts";
import { CLASS_NAMES } from "../shared/protocol/classes.ts";
import { encodeRequest } from "../shared/protocol/schema.ts";
import { launchChromium } from "./_browser.ts";
import { brokerLifecycle, integrationTest, kafkaDeps } from "./_support.ts";

const deps = await kafkaDeps();
const lifecycle = brokerLifecycle(deps);
const opts = integrationTest();

const SCREENSHOT = "docs/dashboard.png";
/** A trouser (the easiest class) sent labelled as a bag: its answer is wrong whatever the model. */
const TROUSER = 1;
const BAG = 8;

/** Polls the page with `check` every 250 ms until it holds; fails naming `what`. */
function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  return deps.waitUntil(check, what, timeoutMs, 250);
}

async function number(page: Page, selector: string): Promise<number> {
  return Number((await page.textContent(selector))?.replaceAll(",", "") ?? NaN);
}

async function status(page: Page): Promise<string | null> {
  return await page.getAttribute("#status", "data-state");
}

Deno.test(lifecycle.setup);

type Service = ReturnType<typeof deps.uniqueService>;
type WorkerProcess = Awaited<ReturnType<typeof deps.startWorker>>;

/** What the checks share: the page, the test's service and a way to send. */
interface Live {
  page: Page;
  service: Service;
  producer: ReturnType<typeof deps.idempotentProducer>;
  set: Awaited<ReturnType<typeof deps.testImages>>;
  /** Sends `count` labelled test images at 100/s; resolves when all are acknowledged. */
  send(count: number, runId: string): Promise<{ acked: number }>;
}

const model = () => `${deps.MODEL_DIR}/model`;

/** The text of every cell of the data rows of `table`. */
async function tableRows(page: Page, table: string): Promise<(string | null)[][]> {
  return await page.$$eval(
    `${table} tr:has(td)`,
    (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)),
  );
}

async function countsRise(page: Page): Promise<void> {
  await until("a first answer", async () => (await number(page, "#answers")) > 0);
  const first = await number(page, "#answers");
  await until(
    `more answers than ${first}`,
    async () => (await number(page, "#answers")) > first,
  );
}

async function chartsHavePoints(page: Page): Promise<void> {
  for (const chart of ["#chart-rate", "#chart-latency"]) {
    await until(
      `points on ${chart}`,
      async () => Number(await page.getAttribute(chart, "data-points")) > 0,
    );
  }
}

async function gridShowsLabels(page: Page): Promise<void> {
  await until("12 images", async () => (await page.$$("#recent figure")).length >= 12);
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

async function wrongLabelMarked({ page, producer, service, set }: Live): Promise<void> {
  const trouser = set.labels.indexOf(TROUSER);
  await producer.send({
    topic: service.config.topics.requests,
    acks: -1,
    messages: [{
      key: "dash-wrong",
      value: deps.asBuffer(encodeRequest({
        v: 1,
        id: "dash-wrong",
        image: set.images.subarray(trouser * 784, (trouser + 1) * 784),
        sent_at: Date.now(),
        label: BAG,
      })),
    }],
  });
  const figure = '#mistakes figure[data-id="dash-wrong"]';
  await until(
    "the mislabelled image among the mistakes",
    async () => (await page.$(figure)) !== null,
  );
  assert.equal(await page.getAttribute(figure, "class"), "wrong");
  assert.equal(await page.textContent(`${figure} .actual`), "\u2717 true: Bag");
  assert.match((await page.textContent("#accuracy"))!, /^\d+\.\d% of 601$/);
}

async function codesCounted({ page, producer, service }: Live): Promise<void> {
  const bad = badRequests(`dash-${Date.now()}`);
  await producer.send({
    topic: service.config.topics.requests,
    acks: -1,
    messages: bad.map((b) => ({ key: b.id ?? null, value: b.value && deps.asBuffer(b.value) })),
  });
  const expected = new Map<string, [number, number]>();
  for (const b of bad) {
    const [replies, letters] = expected.get(b.code) ?? [0, 0];
    expected.set(b.code, [replies + (b.id === undefined ? 0 : 1), letters + 1]);
  }
  const want = [...expected].sort(([a], [b]) => a.localeCompare(b))
    .map(([code, [replies, letters]]) => [code, String(replies), String(letters)]);
  let shown: (string | null)[][] = [];
  await until(`the codes table to show ${JSON.stringify(want)}`, async () => {
    shown = await tableRows(page, "#codes");
    return JSON.stringify(shown) === JSON.stringify(want);
  });
  assert.deepEqual(shown, want);
  assert.equal(await number(page, "#dead-letters"), bad.length);
}

async function workerReady(page: Page): Promise<void> {
  await until(
    "a ready worker",
    async () => (await tableRows(page, "#workers")).some((r) => r[3] === "ready"),
  );
  const ready = (await tableRows(page, "#workers")).find((cells) => cells[3] === "ready")!;
  assert.equal(ready[1], "0,1,2", "one worker serves all three partitions");
  assert.match(ready[4]!, /^sha256:[0-9a-f]{12}/);
}

/** The id a worker gives itself in its answers and events. */
function workerId(w: WorkerProcess): string {
  return String(w.ready.worker);
}

/** SIGKILLs `worker`, starts another and checks answers go on; returns the new worker. */
async function workerRestart(live: Live, worker: WorkerProcess): Promise<WorkerProcess> {
  const { page } = live;
  const before = await number(page, "#answers");
  await worker.stop("SIGKILL");
  const next = await deps.startWorker(live.service, { model: model() });
  const more = live.send(200, "dash-after");
  await until(
    `${before + 200} answers after the restart`,
    async () => (await number(page, "#answers")) >= before + 200,
    90_000,
  );
  assert.equal((await more).acked, 200);
  assert.equal(await status(page), "live");
  await until("the new worker ready and the killed one not", async () => {
    const rows = await tableRows(page, "#workers");
    const state = (id: string) => rows.find((r) => r[0] === id)?.[3];
    return state(workerId(next)) === "ready" && state(workerId(worker)) === "not ready";
  });
  return next;
}

/** Stops the dashboard, checks the page says so, starts another on the same port. */
async function dashboardRestart(
  live: Live,
  dashboard: DashboardProcess,
): Promise<DashboardProcess> {
  const { page } = live;
  const port = Number(new URL(dashboard.url).port);
  assert.equal((await dashboard.stop("SIGTERM")).code, 0, "exits 0 on SIGTERM");
  await until(
    "the page to show it is reconnecting",
    async () => (await status(page)) === "reconnecting",
  );
  const next = await startDashboard(live.service, { port, args: ["--interval-ms", "250"] });
  await until("the page to go live again", async () => (await status(page)) === "live");
  await live.send(50, "dash-again");
  // The new dashboard starts at the latest offsets: it counts these 50 only.
  await until(
    "the page to show the restarted dashboard's 50 answers",
    async () => (await number(page, "#answers")) === 50,
  );
  return next;
}

Deno.test({
  name:
    "the dashboard page shows a live stream in Chromium and survives worker and dashboard restarts",
  ...opts,
  async fn(t) {
    const service = deps.uniqueService("test-dash");
    await deps.createTopics(service, 3);
    const producer = deps.idempotentProducer(await deps.serviceKafka(service, "test"));
    await producer.connect();
    let worker = await deps.startWorker(service, { model: model() });
    let dashboard = await startDashboard(service, { args: ["--interval-ms", "250"] });
    await using browser = await launchChromium();
    const page = await browser.newPage();
    const set = await deps.testImages();
    const send = (count: number, runId: string) =>
      deps.sendRequests(producer, service.config.topics.requests, {
        set,
        count,
        rate: 100,
        order: "random",
        seed: 7,
        withLabels: true,
        runId,
      });
    const live: Live = { page, service, producer, set, send };
    try {
      await page.goto(dashboard.url);
      await until("the page to go live", async () => (await status(page)) === "live");
      const stream = send(600, "dash");
      await t.step("the answer count rises while requests flow", () => countsRise(page));
      await t.step("both charts have points", () => chartsHavePoints(page));
      await t.step(
        "the image grid shows predicted labels on drawn images",
        () => gridShowsLabels(page),
      );
      assert.equal((await stream).acked, 600);
      await until("600 answers", async () => (await number(page, "#answers")) >= 600);
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
        dashboard = await dashboardRestart(live, dashboard);
      });
    } finally {
      await dashboard.stop("SIGTERM");
      await worker.stop("SIGTERM");
      await producer.disconnect();
      await deps.deleteTopics(service);
    }
  },
});

Deno.test(lifecycle.teardown);
