/**
 * The worker's HTTP endpoints: `/healthz`, `/readyz` and `/metrics`, GET
 * only. The handler is a pure function of a Request (tested without
 * listening); serveEndpoints() binds it with Deno.serve until an
 * AbortSignal fires.
 */
import { UsageError } from "../shared/cli/run_main.ts";
import type { Readiness } from "./readiness.ts";

/** Where the endpoints listen. */
export interface HttpAddress {
  hostname: string;
  /** 0 lets the system pick a free port, so workers on one host never collide. */
  port: number;
}

/** The default of `--http`: loopback only, any free port. */
export const DEFAULT_HTTP = "127.0.0.1:0";

/**
 * Parses `--http`: `HOST:PORT` (port 0 for any free one) or `off`, which
 * gives null. The worker's permission set allows listening on 127.0.0.1
 * only, so another host is refused there, not here.
 */
export function parseHttpAddress(text: string): HttpAddress | null {
  if (text === "off") return null;
  const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new UsageError(`--http expects HOST:PORT (port 0 to 65535) or off, got '${text}'`);
  }
  return { hostname: m[1].replace(/^\[(.*)\]$/, "$1"), port };
}

/** What the endpoints report; read at each request. */
export interface EndpointSources {
  readiness(): Readiness;
  metrics(): Promise<string>;
  metricsContentType: string;
}

type Handler = (request: Request) => Promise<Response> | Response;

const TEXT = { "content-type": "text/plain; charset=utf-8" };

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body + "\n", { status, headers: { ...TEXT, ...headers } });
}

/** One handler per path; anything else is a 404, any method but GET a 405. */
export function endpointHandler(s: EndpointSources): (request: Request) => Promise<Response> {
  const routes: Record<string, Handler> = {
    // Answering at all shows the process and its event loop are alive.
    "/healthz": () => text(200, "ok"),
    "/readyz": () => {
      const r = s.readiness();
      return r.ready ? text(200, "ready") : text(503, `not ready: ${r.reason}`);
    },
    "/metrics": async () =>
      new Response(await s.metrics(), {
        status: 200,
        headers: { "content-type": s.metricsContentType },
      }),
  };
  return async (request) => {
    const route = routes[new URL(request.url).pathname];
    if (!route) return text(404, `not found: ${new URL(request.url).pathname}`);
    if (request.method !== "GET") {
      return text(405, `method not allowed: ${request.method} (only GET)`, { allow: "GET" });
    }
    return await route(request);
  };
}

/** A listening endpoint server. */
export interface ServedEndpoints {
  /** The bound address, e.g. "127.0.0.1:41234". */
  address: string;
  /** Settles when the server has shut down after the signal fired. */
  finished: Promise<void>;
}

/** Listens on `at` with `handler` until `signal` aborts. */
export function serveEndpoints(
  at: HttpAddress,
  handler: (request: Request) => Promise<Response>,
  signal: AbortSignal,
): ServedEndpoints {
  const server = Deno.serve({
    hostname: at.hostname,
    port: at.port,
    signal,
    // Deno.serve would print its own "Listening on" line; the worker logs the address.
    onListen: () => {},
  }, handler);
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return { address: `${host}:${addr.port}`, finished: server.finished };
}
