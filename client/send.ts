/**
 * Publishes classification requests: Fashion-MNIST test images (or a CSV of
 * images) as base64 JSON. Run `deno task client:send --help`.
 */
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain, UsageError } from "../shared/cli/run_main.ts";
import { type Config, loadConfig } from "../shared/config.ts";
import { findDataDir, loadFashionMnist, loadImageCsv } from "../shared/data/dataset_files.ts";
import { IMAGE_BYTES } from "../shared/protocol/classes.ts";
import type { ImageSet } from "../shared/data/idx.ts";
import { asBuffer } from "../shared/protocol/bytes.ts";
import { createKafka } from "../shared/kafka/connection.ts";
import { idempotentProducer, type Sender } from "../shared/kafka/producer.ts";
import { StatusLine } from "../shared/cli/status_line.ts";
import { encodeRequest, ID, MAX_ID_LENGTH } from "../shared/protocol/schema.ts";
import { ledgerLines } from "./ledger.ts";
import { requirePathAccess } from "../shared/fs/path_access.ts";

/** Pause between requests when neither --rate nor --pause-seconds is given, like the original. */
const DEFAULT_PAUSE_S = 0.1;
/** Ids are "<run-id>-<n>": half of the schema's longest id leaves room for any n. */
const MAX_RUN_ID_LENGTH = MAX_ID_LENGTH / 2;
const MIN_RATE = 0.001;

const SEND_CLI = {
  summary: "Send Fashion-MNIST images to the classification service.",
  usage: "deno task client:send [options]",
  flags: {
    count: { type: "int", min: 1, help: "requests to send (default: until Ctrl-C)" },
    "pause-seconds": {
      type: "number",
      arg: "S",
      min: 0.0001,
      help: `pause between requests (default ${DEFAULT_PAUSE_S} unless --rate is given)`,
    },
    rate: {
      type: "string",
      arg: "R|max",
      help: "requests per second instead of a pause; 'max' for as fast as possible",
    },
    order: {
      type: "string",
      choices: ["random", "sequential"],
      default: "random",
      help: "which test images",
    },
    seed: {
      type: "int",
      min: 0,
      max: 2 ** 32 - 1,
      help: "seed for the random order (default: time)",
    },
    source: {
      type: "string",
      arg: "FILE",
      help: "images from a CSV (label,pixel1..pixel784, header)",
    },
    data: { type: "string", arg: "DIR", help: "Fashion-MNIST folder for the test split" },
    "no-labels": { type: "boolean", help: "do not attach the true label" },
    "run-id": {
      type: "string",
      arg: "ID",
      help: "prefix of request ids (default: random); ids are <run-id>-<n>",
    },
    ledger: {
      type: "string",
      arg: "FILE",
      default: "results/sent.csv",
      help: "append id,label per request, for client:receive's accuracy ('none': no ledger)",
    },
  },
} as const satisfies CliSpec;

export interface SendOptions {
  set: ImageSet;
  count: number;
  /** Requests per second; Infinity for as fast as possible. */
  rate: number;
  order: "random" | "sequential";
  seed: number;
  withLabels: boolean;
  ledger?: string;
  /** A prefix for ids, unique per run. */
  runId?: string;
  signal?: AbortSignal;
  onProgress?(sent: number, acked: number): void;
}

export interface SendResult {
  sent: number;
  acked: number;
  seconds: number;
  runId: string;
}

const CHUNK = 500;

function picker(o: SendOptions): () => number {
  let next = 0;
  let s = o.seed >>> 0;
  return o.order === "sequential" ? () => next++ % o.set.count : () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s % o.set.count;
  };
}

/**
 * Sends `o.count` requests at `o.rate` per second through `producer`, in
 * chunks, and resolves once every one is acknowledged by the brokers.
 */
export async function sendRequests(
  producer: Sender,
  topic: string,
  o: SendOptions,
): Promise<SendResult> {
  const runId = o.runId ?? crypto.randomUUID().slice(0, 8);
  const pick = picker(o);
  const started = performance.now();
  // A stream writer writes every byte of each chunk of lines.
  const ledger = o.ledger
    ? (await Deno.open(o.ledger, { append: true, create: true })).writable.getWriter()
    : undefined;
  const encoder = new TextEncoder();
  let sent = 0;
  let acked = 0;
  // One send in flight; what falls due meanwhile rides in the next one. The
  // idempotent producer sends one request at a time anyway, and this keeps
  // requests few and full at high rates and prompt at low ones.
  let inFlight: Promise<void> | undefined;
  try {
    while (sent < o.count && !o.signal?.aborted) {
      const elapsed = (performance.now() - started) / 1000;
      const due = Math.min(
        o.count,
        Number.isFinite(o.rate) ? Math.floor(elapsed * o.rate) + 1 : o.count,
      );
      if (due <= sent) {
        await new Promise((r) =>
          setTimeout(r, Math.min(100, ((sent + 1) / o.rate - elapsed) * 1000))
        );
        continue;
      }
      if (inFlight) {
        await inFlight;
        continue;
      }
      const n = Math.min(CHUNK, due - sent);
      const entries: { id: string; label: number }[] = [];
      const messages = Array.from({ length: n }, (_, i) => {
        const index = pick();
        const id = `${runId}-${sent + i}`;
        const label = o.set.labels[index];
        if (o.withLabels) entries.push({ id, label });
        return {
          key: id,
          value: asBuffer(encodeRequest({
            v: 1,
            id,
            image: o.set.images.subarray(index * IMAGE_BYTES, (index + 1) * IMAGE_BYTES),
            sent_at: Date.now(),
            ...(o.withLabels ? { label } : {}),
          })),
        };
      });
      if (ledger && entries.length) await ledger.write(encoder.encode(ledgerLines(entries)));
      sent += n;
      inFlight = producer.send({ topic, acks: -1, messages }).then(
        () => {
          acked += n;
          inFlight = undefined;
          o.onProgress?.(sent, acked);
        },
      );
    }
    await inFlight;
  } finally {
    await ledger?.close();
  }
  return { sent, acked, seconds: (performance.now() - started) / 1000, runId };
}

async function loadSource(flags: { source?: string; data?: string }, config: Config) {
  if (flags.source) return await loadImageCsv(flags.source);
  return await loadFashionMnist(await findDataDir(flags.data, config.dataDir), "test");
}

/** Requests per second from --rate or --pause-seconds (alternatives). */
function sendRate(rate: string | undefined, pauseS: number | undefined): number {
  if (rate !== undefined && pauseS !== undefined) {
    throw new UsageError("--rate and --pause-seconds are alternatives: give one");
  }
  if (rate === undefined) return 1 / (pauseS ?? DEFAULT_PAUSE_S);
  if (rate === "max") return Infinity;
  const n = Number(rate);
  if (rate.trim() === "" || !Number.isFinite(n) || n < MIN_RATE) {
    throw new UsageError(`--rate expects a number at least ${MIN_RATE} or 'max', got '${rate}'`);
  }
  return n;
}

/** The --run-id, checked against the schema's id rule. */
function runIdFlag(runId: string | undefined): string | undefined {
  if (runId !== undefined && (runId.length > MAX_RUN_ID_LENGTH || !ID.test(runId))) {
    throw new UsageError(
      `--run-id expects 1-${MAX_RUN_ID_LENGTH} printable ASCII characters without spaces, got '${runId}'`,
    );
  }
  return runId;
}

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, SEND_CLI);
  if (!flags) return;
  const count = flags.count ?? Number.MAX_SAFE_INTEGER;
  const rate = sendRate(flags.rate, flags["pause-seconds"]);
  const runId = runIdFlag(flags["run-id"]);
  const ledger = flags.ledger === "none" ? undefined : flags.ledger;
  requirePathAccess({
    set: "client",
    read: { "--source": flags.source, "--data": flags.data },
    write: { "--ledger": ledger },
  });
  const config = loadConfig();
  const set = await loadSource(flags, config);
  if (ledger === SEND_CLI.flags.ledger.default) await Deno.mkdir("results", { recursive: true });

  const kafka = await createKafka(config.kafka, "client-send");
  const producer = idempotentProducer(kafka);
  await producer.connect();
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const line = new StatusLine();
  const total = count === Number.MAX_SAFE_INTEGER ? "" : `/${count}`;
  let lastPrint = 0;
  console.error(
    `sending ${
      count === Number.MAX_SAFE_INTEGER ? "until Ctrl-C" : count
    } requests to ${config.topics.requests} at ${
      Number.isFinite(rate) ? `${rate}/s` : "full speed"
    }`,
  );
  try {
    const r = await sendRequests(producer, config.topics.requests, {
      set,
      count,
      rate,
      // parseCli checked it is one of the choices.
      order: flags.order as SendOptions["order"],
      seed: flags.seed ?? Date.now(),
      withLabels: !flags["no-labels"],
      ledger,
      runId,
      signal: abort.signal,
      onProgress(sent, acked) {
        line.update(`sent ${sent}${total}, acknowledged ${acked}`);
        if (!line.isTerminal && Date.now() - lastPrint > 5000) {
          lastPrint = Date.now();
          console.error(`sent ${sent}${total}, acknowledged ${acked}`);
        }
      },
    });
    line.done(
      `sent ${r.sent} requests (run ${r.runId}), all ${r.acked} acknowledged, in ${
        r.seconds.toFixed(1)
      } s (${(r.sent / r.seconds).toFixed(0)}/s)`,
    );
  } finally {
    await producer.disconnect();
  }
}

if (import.meta.main) await runMain(main);
