/**
 * The dashboard's HTTP side: the page, its script, and a Server-Sent Events
 * stream of whole snapshots. Whole snapshots (not deltas) are what keep the
 * page correct when the stream stops and resumes: the next one replaces all.
 */

/** The page's files, read once at start. */
export interface PageFiles {
  html: string;
  js: string;
}

export interface ServerOptions {
  /** 0 lets the system pick a free port (the tests do). */
  port: number;
  /** Aborting it closes the event streams and stops the server. */
  signal: AbortSignal;
  /** The JSON-able state the page draws, taken once per event. */
  snapshot(): unknown;
  /** Milliseconds between events on each stream. */
  intervalMs: number;
  page: PageFiles;
}

/** Reads dashboard/page/ beside this module. */
export async function readPage(): Promise<PageFiles> {
  const dir = new URL("./page/", import.meta.url);
  return {
    html: await Deno.readTextFile(new URL("index.html", dir)),
    js: await Deno.readTextFile(new URL("app.js", dir)),
  };
}

const encoder = new TextEncoder();
const NO_STORE = { "cache-control": "no-store" };

/** One `data:` event per interval until the client goes or the server stops. */
function eventStream(o: ServerOptions): Response {
  let timer: ReturnType<typeof setInterval> | undefined;
  let onAbort: (() => void) | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = () => {
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(o.snapshot())}\n\n`));
      };
      // EventSource waits `retry` ms before it reconnects after the stream ends.
      controller.enqueue(encoder.encode("retry: 1000\n\n"));
      send();
      timer = setInterval(send, o.intervalMs);
      onAbort = () => {
        clearInterval(timer);
        controller.close();
      };
      o.signal.addEventListener("abort", onAbort, { once: true });
    },
    cancel() {
      clearInterval(timer);
      if (onAbort) o.signal.removeEventListener("abort", onAbort);
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", ...NO_STORE, connection: "keep-alive" },
  });
}

/** Routes one request: a handler per path, 405 for other methods, 404 for other paths. */
export function route(request: Request, o: ServerOptions): Response {
  const { pathname } = new URL(request.url);
  const handlers: Record<string, () => Response> = {
    "/": () =>
      new Response(o.page.html, {
        headers: { "content-type": "text/html; charset=utf-8", ...NO_STORE },
      }),
    "/app.js": () =>
      new Response(o.page.js, {
        headers: { "content-type": "text/javascript; charset=utf-8", ...NO_STORE },
      }),
    "/events": () => eventStream(o),
  };
  const handler = handlers[pathname];
  if (!handler) return new Response(`no page at ${pathname}\n`, { status: 404 });
  if (request.method !== "GET") {
    return new Response(`${pathname} answers GET only, got ${request.method}\n`, {
      status: 405,
      headers: { allow: "GET" },
    });
  }
  return handler();
}

/**
 * Serves the dashboard on 127.0.0.1 only: it shows request images and the
 * service's inner workings, which are not for the network at large.
 */
export function serveDashboard(o: ServerOptions): Deno.HttpServer<Deno.NetAddr> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: o.port, onListen: () => {} }, (
    request,
  ) => route(request, o));
  // Not Deno.serve's own signal: that cuts open event streams mid-chunk,
  // which the page sees as an error. The streams' own abort listeners close
  // them in this same dispatch, before the (asynchronous) graceful shutdown
  // waits for the responses in flight.
  o.signal.addEventListener("abort", () => server.shutdown(), { once: true });
  return server;
}
