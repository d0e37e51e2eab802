/**
 * The operator's side of the model topic: publish a model folder, read
 * what was published and who serves what, and re-announce an older version.
 * Everything goes through Kafka, so it works the same wherever the
 * workers run.
 */
import type { Kafka } from "kafkajs";
import type { Buffer } from "node:buffer";
import {
  type AnnouncedMetrics,
  type Announcement,
  decodeAnnouncement,
  encodeAnnouncement,
} from "../shared/model/announcement.ts";
import {
  archiveKey,
  currentKey,
  decodeServing,
  parseModelKey,
  promoted,
  rollbackTarget,
  rolledBack,
  type Serving,
} from "../shared/model/catalog.ts";
import { checkModel } from "../shared/model/model_check.ts";
import { artifactsAnnouncement } from "../shared/model/model_artifacts.ts";
import { fileLoader } from "../shared/model/model_io.ts";
import { ensureModelTopic, readModelTopic } from "../shared/kafka/model_topic.ts";
import { asBuffer } from "../shared/protocol/bytes.ts";
import { idempotentProducer } from "../shared/kafka/producer.ts";

/** What the topic says about one model. */
export interface Catalog {
  current?: Announcement;
  /** Every published version still on the topic, oldest first. */
  versions: Announcement[];
  /** Live workers' serving records, by worker id. */
  serving: Serving[];
  /** Records that failed their checks, with why: a corrupt announcement shows here. */
  refused: { key: string; offset: string; reason: string }[];
}

/** Reads the topic and sorts its records for model `name`. */
export async function readCatalog(kafka: Kafka, topic: string, name: string): Promise<Catalog> {
  const admin = kafka.admin();
  await admin.connect();
  await ensureModelTopic(admin, topic).finally(() => admin.disconnect());
  const catalog: Catalog = { versions: [], serving: [], refused: [] };
  const versions = new Map<string, Announcement>();
  const serving = new Map<string, Serving>();
  for (const r of await readModelTopic(kafka, topic)) {
    const key = parseModelKey(r.key);
    if (key.kind === "serving") {
      const s = decodeServing(r.value);
      if (s && s.name === name) serving.set(key.worker, s);
      else serving.delete(key.worker);
      continue;
    }
    if ((key.kind !== "current" && key.kind !== "archive") || key.name !== name) continue;
    const d = await decodeAnnouncement(r.value);
    if (!d.ok) {
      catalog.refused.push({
        key: r.key,
        offset: r.offset,
        reason: `${d.error.code}: ${d.error.message}`,
      });
    } else if (key.kind === "current") {
      catalog.current = d.value;
    } else {
      versions.delete(d.value.version);
      versions.set(d.value.version, d.value);
    }
  }
  catalog.versions = [...versions.values()];
  catalog.serving = [...serving.values()];
  return catalog;
}

/**
 * Reads a model folder, checks it as a worker will (shapes, a smoke batch
 * with finite outputs) and returns its announcement. Call useBackend() first.
 */
export async function announceFolder(
  dir: string,
  name: string,
  metrics: AnnouncedMetrics | null,
): Promise<Announcement> {
  const artifacts = await fileLoader(dir).load!();
  const a = await artifactsAnnouncement(artifacts, name, metrics);
  const checked = await checkModel(artifacts, a.version);
  checked.model.dispose();
  return a;
}

/**
 * Sends `a` as the current announcement of its model after the catalog's
 * current one, and keeps it under its version's key for rollback and
 * promote. One send, both records or neither.
 */
export async function announce(
  kafka: Kafka,
  topic: string,
  a: Announcement,
  catalog: Catalog,
): Promise<Announcement> {
  const next = promoted(a, catalog.current, new Date().toISOString());
  const archived = await encodeAnnouncement({ ...a, history: [] });
  const current = await encodeAnnouncement(next);
  // A round trip through the worker's own decoder: never publish what a worker would refuse.
  const check = await decodeAnnouncement(current);
  if (!check.ok) throw check.error;
  await sendRecords(kafka, topic, [
    { key: archiveKey(a.name, a.version), value: asBuffer(archived) },
    { key: currentKey(a.name), value: asBuffer(current) },
  ]);
  return next;
}

/** The archived announcement of `version`, or a RangeError naming what there is. */
export function archived(catalog: Catalog, version: string): Announcement {
  const found = catalog.versions.find((v) =>
    v.version === version || v.version === `sha256:${version}`
  );
  if (!found) {
    const known = catalog.versions.map((v) => v.version).join(", ") || "none";
    throw new RangeError(`Expected a published version, got ${version} (published: ${known})`);
  }
  return found;
}

/** Re-announces the version before the current one. */
export async function rollback(kafka: Kafka, topic: string, name: string): Promise<Announcement> {
  const catalog = await readCatalog(kafka, topic, name);
  if (!catalog.current) {
    throw new RangeError(`Expected a current announcement of ${name}, got none`);
  }
  const previous = archived(catalog, rollbackTarget(catalog.current));
  const next = rolledBack(catalog.current, previous, new Date().toISOString());
  await sendCurrent(kafka, topic, next);
  return next;
}

/** Announces a published `version` again, after the current one. */
export async function promote(
  kafka: Kafka,
  topic: string,
  name: string,
  version: string,
): Promise<Announcement> {
  const catalog = await readCatalog(kafka, topic, name);
  const next = promoted(archived(catalog, version), catalog.current, new Date().toISOString());
  await sendCurrent(kafka, topic, next);
  return next;
}

async function sendCurrent(kafka: Kafka, topic: string, a: Announcement): Promise<void> {
  const value = asBuffer(await encodeAnnouncement(a));
  await sendRecords(kafka, topic, [{ key: currentKey(a.name), value }]);
}

/** One send of `messages`, acknowledged by all in-sync replicas. */
async function sendRecords(
  kafka: Kafka,
  topic: string,
  messages: { key: string; value: Buffer }[],
): Promise<void> {
  const producer = idempotentProducer(kafka);
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}
