import { type ISocketFactory, Kafka, type KafkaConfig, logLevel, type SASLOptions } from "kafkajs";
import net from "node:net";
import tls from "node:tls";
import type { KafkaSettings } from "../config.ts";
import { hideKafkajsTimerWarnings, shortLogLines } from "./log.ts";

/**
 * kafkajs's own socket factory with Nagle's algorithm off: requests and
 * responses here are small and latency matters more than packet count.
 */
const noDelaySocket: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tls.connect(
      { host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl },
      onConnect,
    )
    : net.connect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  socket.setNoDelay(true);
  return socket;
};

/**
 * Creates a kafkajs client from the project's settings: brokers, TLS (with
 * an optional CA file) and SASL PLAIN or SCRAM. kafkajs's JSON logs become
 * one short line each on stderr; `quiet` drops everything below errors,
 * which suits probes that expect refusals.
 *
 * @example
 * ```ts
 * const kafka = await createKafka(loadConfig().kafka, "worker-1");
 * ```
 */
export async function createKafka(
  settings: KafkaSettings,
  clientId = settings.clientId,
  options: { quiet?: boolean; connectionTimeout?: number; retries?: number } = {},
): Promise<Kafka> {
  hideKafkajsTimerWarnings();
  const config: KafkaConfig = {
    clientId,
    socketFactory: noDelaySocket,
    brokers: settings.brokers,
    connectionTimeout: options.connectionTimeout ?? 3000,
    requestTimeout: 30_000,
    retry: { retries: options.retries ?? 8, initialRetryTime: 200, maxRetryTime: 5000 },
    logLevel: options.quiet ? logLevel.NOTHING : logLevel.WARN,
    logCreator: shortLogLines,
  };
  if (settings.ssl) {
    config.ssl = {
      rejectUnauthorized: settings.ssl.rejectUnauthorized,
      ...(settings.ssl.caFile ? { ca: [await Deno.readTextFile(settings.ssl.caFile)] } : {}),
    };
  }
  if (settings.sasl) {
    config.sasl = {
      mechanism: settings.sasl.mechanism,
      username: settings.sasl.username,
      password: settings.sasl.password,
    } as SASLOptions;
  }
  return new Kafka(config);
}

/**
 * True when a broker answers a metadata request within `timeoutMs`.
 *
 * @example
 * ```ts
 * if (!(await brokerAnswers(settings))) console.error("no broker");
 * ```
 */
export async function brokerAnswers(settings: KafkaSettings, timeoutMs = 3000): Promise<boolean> {
  const kafka = await createKafka(settings, "probe", {
    quiet: true,
    connectionTimeout: timeoutMs,
    retries: 0,
  });
  const admin = kafka.admin();
  try {
    await withTimeout(admin.connect().then(() => admin.describeCluster()), timeoutMs);
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
