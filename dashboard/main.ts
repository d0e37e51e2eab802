/**
 * `deno task dashboard`: a live page of the service on http://127.0.0.1:8080.
 * Flags and wiring only; see stream_state.ts, kafka_feed.ts and server.ts.
 * Run `deno task dashboard --help`.
 */
import process from "node:process";
import { createEventLog, type EventLog } from "../shared/cli/event_log.ts";
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import { loadConfig } from "../shared/config.ts";
import { createKafka } from "../shared/kafka/connection.ts";
import { type GroupView, workerRows } from "./group_view.ts";
import { type Feed, FEED_TEXT, type FeedEvents, startFeed } from "./kafka_feed.ts";
import { readPage, serveDashboard } from "./server.ts";
import { StreamState } from "./stream_state.ts";

export const DASHBOARD_CLI = {
  summary:
    "A live page of the service: answers, latency, accuracy, recent images, errors, workers.",
  usage: "deno task dashboard [options]",
  flags: {
    port: {
      type: "int",
      help: "port on 127.0.0.1 (0 picks a free one; the permission set allows any)",
      default: 8080,
      min: 0,
      max: 65535,
    },
    "window-minutes": {
      type: "int",
      help: "minutes of history in the charts",
      default: 5,
      min: 1,
      max: 60,
    },
    images: { type: "int", help: "recent images shown", default: 24, min: 1, max: 200 },
    "interval-ms": {
      type: "int",
      help: "milliseconds between updates pushed to the page",
      default: 500,
      min: 100,
      max: 60_000,
    },
    json: {
      type: "boolean",
      help: "events as JSON lines (a 'ready' one once the page serves and the feed joined)",
    },
  },
  notes: `
It reads the request, response and dead-letter topics with a consumer group of
its own (dashboard-<random>, from the latest offsets, never committing) and
polls the workers' group (KAFKA_WORKER_GROUP) through the admin API every 2 s.
Brokers and topics come from the same environment variables as the workers.`,
} as const satisfies CliSpec;

/** The dashboard's events: the feed's, and its own. */
type DashboardEvents = FeedEvents & {
  listening: { url: string; topics: string[]; worker_group: string };
  /** Once: the page serves and the consumer joined, so nothing sent from now on is missed. */
  ready: { url: string; group: string };
  stopping: Record<string, never>;
};

function eventLog(json: boolean): EventLog<DashboardEvents> {
  return createEventLog<DashboardEvents>({
    json,
    text: {
      ...FEED_TEXT,
      listening: (f) =>
        `dashboard on ${f.url} watching ${f.topics.join(", ")} and group ${f.worker_group}`,
      ready: (f) => `dashboard ready on ${f.url} (group ${f.group})`,
      stopping: () => "dashboard stopping",
    },
  });
}

/** CPU time this process has used, user and system, in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** What the page receives in each event. */
export function pageSnapshot(state: StreamState, feed: Feed | null, nowMs: number) {
  const stream = state.snapshot(nowMs);
  const group: GroupView | null = feed?.group() ?? null;
  return {
    ...stream,
    workers: workerRows(stream.workers, group, nowMs),
    group: group && { group: group.group, state: group.state, totalLag: group.totalLag },
    groupError: feed?.groupError() ?? null,
    // The dashboard's own cost, for the page and for bench:dashboard (which
    // cannot read /proc/<pid>/stat: Deno grants /proc only with --allow-all).
    dashboard: { cpuMs: cpuMs(), rssBytes: Deno.memoryUsage().rss },
  };
}

async function main(): Promise<number | void> {
  const flags = parseCli(Deno.args, DASHBOARD_CLI);
  if (!flags) return;
  const config = loadConfig();
  const page = await readPage();
  const tag = crypto.randomUUID().slice(0, 8);
  const state = new StreamState({
    windowSeconds: flags["window-minutes"] * 60,
    recentImages: flags.images,
  });
  const abort = new AbortController();
  let feed: Feed | null = null;
  // The page is up at once; it fills in once the feed runs.
  const server = serveDashboard({
    port: flags.port,
    signal: abort.signal,
    intervalMs: flags["interval-ms"],
    snapshot: () => pageSnapshot(state, feed, Date.now()),
    page,
  });
  const log = eventLog(flags.json);
  const url = `http://127.0.0.1:${server.addr.port}/`;
  const { requests, responses, dlq } = config.topics;
  log("listening", { url, topics: [requests, responses, dlq], worker_group: config.workerGroup });
  let ready = false;
  // The feed's events go to the same log; its first join makes the dashboard ready.
  const feedLog: EventLog<FeedEvents> = (event, fields) => {
    (log as EventLog<FeedEvents>)(event, fields);
    if (event !== "joined" || ready) return;
    ready = true;
    log("ready", { url, group: (fields as FeedEvents["joined"]).group });
  };
  const done = Promise.withResolvers<void>();
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log("stopping", {});
      abort.abort();
      await server.finished;
      await feed?.stop();
      done.resolve();
    })();
  };
  // Listening before the feed starts: it may wait long for the topics.
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const kafka = await createKafka(config.kafka, `dashboard-${tag}`);
  try {
    feed = await startFeed(kafka, {
      topics: config.topics,
      workerGroup: config.workerGroup,
      groupId: `dashboard-${tag}`,
      state,
      pollMs: 2000,
      signal: abort.signal,
      log: feedLog,
    });
  } catch (e) {
    if (!abort.signal.aborted) throw e;
  }
  // A stop that came while the feed was starting found no feed to stop.
  if (abort.signal.aborted) await feed?.stop();
  await done.promise;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
}

if (import.meta.main) await runMain(main);
