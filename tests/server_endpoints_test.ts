import assert from "node:assert/strict";
import {
  endpointHandler,
  type EndpointSources,
  parseHttpAddress,
  serveEndpoints,
} from "../server/endpoints.ts";
import type { Readiness } from "../server/readiness.ts";
import { UsageError } from "../shared/cli/run_main.ts";
import { needsPermissions } from "./_support.ts";

const PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function sources(verdict: Readiness): EndpointSources {
  return {
    readiness: () => verdict,
    metrics: () => Promise.resolve("# HELP a_total A\n# TYPE a_total counter\na_total 3\n"),
    metricsContentType: PROM_TYPE,
  };
}

const get = (path: string, method = "GET") => new Request(`http://127.0.0.1${path}`, { method });

Deno.test("endpointHandler() answers each path", async (t) => {
  const handle = endpointHandler(sources({ ready: true }));
  await t.step("GET /healthz is 200 ok", async () => {
    const r = await handle(get("/healthz"));
    assert.equal(r.status, 200);
    assert.equal(await r.text(), "ok\n");
  });
  await t.step("GET /readyz is 200 when ready", async () => {
    const r = await handle(get("/readyz"));
    assert.equal(r.status, 200);
    assert.equal(await r.text(), "ready\n");
  });
  await t.step("GET /metrics is the exposition text in Prometheus' content type", async () => {
    const r = await handle(get("/metrics"));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), PROM_TYPE);
    assert.equal(await r.text(), "# HELP a_total A\n# TYPE a_total counter\na_total 3\n");
  });
});

Deno.test("endpointHandler() answers /readyz with 503 and the reason when not ready", async () => {
  const handle = endpointHandler(sources({ ready: false, reason: "idle: no partition" }));
  const r = await handle(get("/readyz"));
  assert.equal(r.status, 503);
  assert.equal(await r.text(), "not ready: idle: no partition\n");
});

Deno.test("endpointHandler() refuses what it does not serve", async (t) => {
  const handle = endpointHandler(sources({ ready: true }));
  await t.step("an unknown path is 404", async () => {
    const r = await handle(get("/metrics/extra"));
    assert.equal(r.status, 404);
    assert.equal(await r.text(), "not found: /metrics/extra\n");
  });
  await t.step("the root is 404", async () => {
    const r = await handle(get("/"));
    assert.equal(r.status, 404);
    await r.body?.cancel();
  });
  for (const method of ["POST", "PUT", "DELETE", "HEAD"]) {
    await t.step(`${method} /metrics is 405 with Allow: GET`, async () => {
      const r = await handle(get("/metrics", method));
      assert.equal(r.status, 405);
      assert.equal(r.headers.get("allow"), "GET");
      assert.equal(await r.text(), `method not allowed: ${method} (only GET)\n`);
    });
  }
});

Deno.test("parseHttpAddress() reads HOST:PORT or off", async (t) => {
  await t.step("the default: loopback, any free port", () => {
    assert.deepEqual(parseHttpAddress("127.0.0.1:0"), { hostname: "127.0.0.1", port: 0 });
  });
  await t.step("a fixed port", () => {
    assert.deepEqual(parseHttpAddress("localhost:9464"), { hostname: "localhost", port: 9464 });
  });
  await t.step("an IPv6 host in brackets", () => {
    assert.deepEqual(parseHttpAddress("[::1]:8080"), { hostname: "::1", port: 8080 });
  });
  await t.step("off", () => {
    assert.equal(parseHttpAddress("off"), null);
  });
});

Deno.test("parseHttpAddress() rejects what is not HOST:PORT", async (t) => {
  for (const bad of ["9464", "127.0.0.1", "127.0.0.1:65536", "127.0.0.1:-1", ":80", "on"]) {
    await t.step(`'${bad}'`, () => {
      assert.throws(() => parseHttpAddress(bad), {
        name: "UsageError",
        message: `--http expects HOST:PORT (port 0 to 65535) or off, got '${bad}'`,
      });
      assert.throws(() => parseHttpAddress(bad), UsageError);
    });
  }
});

Deno.test({
  name: "serveEndpoints() listens on a free loopback port until its signal aborts",
  ...needsPermissions(),
  async fn() {
    const abort = new AbortController();
    const served = serveEndpoints(
      { hostname: "127.0.0.1", port: 0 },
      endpointHandler(sources({ ready: true })),
      abort.signal,
    );
    const other = serveEndpoints(
      { hostname: "127.0.0.1", port: 0 },
      endpointHandler(sources({ ready: false, reason: "model not loaded" })),
      abort.signal,
    );
    try {
      assert.match(served.address, /^127\.0\.0\.1:\d+$/);
      assert.notEqual(served.address, other.address, "two servers on one host do not collide");
      const ok = await fetch(`http://${served.address}/healthz`);
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), "ok\n");
      const missing = await fetch(`http://${served.address}/nope`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      const waiting = await fetch(`http://${other.address}/readyz`);
      assert.equal(waiting.status, 503);
      assert.equal(await waiting.text(), "not ready: model not loaded\n");
    } finally {
      abort.abort();
      await served.finished;
      await other.finished;
    }
    await assert.rejects(fetch(`http://${served.address}/healthz`), TypeError);
  },
});
