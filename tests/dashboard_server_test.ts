import assert from "node:assert/strict";
import { readPage, route, serveDashboard, type ServerOptions } from "../dashboard/server.ts";
import { needsPermissions } from "./_support.ts";

function options(signal: AbortSignal, port = 0): ServerOptions {
  let n = 0;
  return {
    port,
    signal,
    intervalMs: 20,
    snapshot: () => ({ n: ++n }),
    page: { html: "<!doctype html><p>page</p>", js: "console.log(1);" },
  };
}

/** Reads `count` data events of an SSE body. */
async function readEvents(body: ReadableStream<Uint8Array>, count: number): Promise<unknown[]> {
  const events: unknown[] = [];
  let text = "";
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const blocks = text.split("\n\n");
    text = blocks.pop()!;
    for (const b of blocks) if (b.startsWith("data: ")) events.push(JSON.parse(b.slice(6)));
  }
  await reader.cancel();
  return events;
}

Deno.test("route() serves the page, its script and an event stream; 404 and 405 otherwise", async (t) => {
  const abort = new AbortController();
  const o = options(abort.signal);
  await t.step("GET / is the page", async () => {
    const r = route(new Request("http://127.0.0.1/"), o);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(await r.text(), o.page.html);
  });
  await t.step("GET /app.js is the script, as JavaScript", async () => {
    const r = route(new Request("http://127.0.0.1/app.js"), o);
    assert.equal(r.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(await r.text(), o.page.js);
  });
  await t.step("GET /events sends a snapshot at once, then one per interval", async () => {
    const r = route(new Request("http://127.0.0.1/events"), o);
    assert.equal(r.headers.get("content-type"), "text/event-stream");
    assert.deepEqual(await readEvents(r.body!, 3), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  });
  await t.step("a stream ends when the server stops", async () => {
    const r = route(new Request("http://127.0.0.1/events"), o);
    const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
    await reader.read();
    abort.abort();
    let done = false;
    while (!done) done = (await reader.read()).done;
    assert.equal(done, true);
  });
  await t.step("POST /events is 405 with Allow: GET", async () => {
    const r = route(new Request("http://127.0.0.1/events", { method: "POST" }), o);
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("allow"), "GET");
    assert.equal(await r.text(), "/events answers GET only, got POST\n");
  });
  await t.step("an unknown path is 404", async () => {
    const r = route(new Request("http://127.0.0.1/metrics"), o);
    assert.equal(r.status, 404);
    assert.equal(await r.text(), "no page at /metrics\n");
  });
});

Deno.test({
  name: "serveDashboard() listens on 127.0.0.1 and stops with its signal, open streams included",
  ...needsPermissions(),
  async fn() {
    const abort = new AbortController();
    const o = { ...options(abort.signal), page: await readPage() };
    const server = serveDashboard(o);
    assert.equal(server.addr.hostname, "127.0.0.1");
    const base = `http://127.0.0.1:${server.addr.port}`;
    const page = await fetch(`${base}/`);
    assert.match(await page.text(), /<script type="module" src="\/app.js"><\/script>/);
    const events = await fetch(`${base}/events`);
    const reader = events.body!.getReader();
    await reader.read();
    abort.abort();
    await server.finished;
    let done = false;
    while (!done) done = (await reader.read()).done;
    assert.equal(done, true);
  },
});
