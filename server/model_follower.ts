import type { Kafka } from "kafkajs";
import { idempotentProducer, type Sender } from "../shared/kafka/producer.ts";
import { decodeAnnouncement } from "../shared/model/announcement.ts";
import {
  currentKey,
  encodeServing,
  MODEL_FOLLOW_GROUP_PREFIX,
  servingKey,
} from "../shared/model/catalog.ts";
import { checkModel, type ServingModel } from "../shared/model/model_check.ts";
import { announcementArtifacts } from "../shared/model/model_artifacts.ts";
import { artifactsVersion, fileLoader } from "../shared/model/model_io.ts";
import { ensureModelTopic, followModelTopic } from "../shared/kafka/model_topic.ts";
import { asBuffer } from "../shared/protocol/bytes.ts";
import { ModelSlot } from "./model_slot.ts";
import { type ModelHooks, ModelUpdates } from "./model_updates.ts";
import type { EventLog } from "../shared/cli/event_log.ts";
import type { ModelEvents } from "./model_events.ts";

/** What startModelFollower() needs to know. */
export interface FollowOptions {
  kafka: Kafka;
  topic: string;
  /** The model's name: the key of the announcements followed. */
  name: string;
  worker: string;
  /** The model folder served when the topic has no valid announcement. */
  fallbackDir: string;
  /** Keep the model the worker started with; read no later announcement. */
  pin: boolean;
  log: EventLog<ModelEvents>;
  /** The worker's metrics: the version served, refusals. */
  hooks?: ModelHooks;
}

/** A worker's model, kept up to date with the topic; see startModelFollower(). */
export interface ModelFollower {
  slot: ModelSlot;
  updates: ModelUpdates;
  /** Stops following, says the worker serves nothing, closes the slot. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Loads a model folder through the same checks as an announcement.
 *
 * @example
 * ```ts
 * const serving = await loadCheckedModel("artifacts/model");
 * ```
 */
export async function loadCheckedModel(dir: string): Promise<ServingModel> {
  const artifacts = await fileLoader(dir).load!();
  return await checkModel(artifacts, await artifactsVersion(artifacts));
}

/**
 * Starts a worker's model: reads the model topic to its end with a
 * consumer group of this worker only (`model-follow-<worker>`, outside the
 * serving group, deleted at stop), serves the newest announcement that
 * passes every check, or `fallbackDir` when none does, and then offers each
 * new announcement to ModelUpdates (unless pinned). It reports what it
 * serves under `serving/<worker>` on the topic for model:list.
 */
export async function startModelFollower(o: FollowOptions): Promise<ModelFollower> {
  const admin = o.kafka.admin();
  await admin.connect();
  await ensureModelTopic(admin, o.topic).finally(() => admin.disconnect());
  const backlog: Uint8Array[] = [];
  const early: (Uint8Array | null)[] = [];
  let deliver: ((value: Uint8Array | null) => void) | undefined;
  const group = `${MODEL_FOLLOW_GROUP_PREFIX}${o.worker}`;
  const reader = await followModelTopic(o.kafka, o.topic, group, (r, live) => {
    if (r.key !== currentKey(o.name)) return;
    if (!live) {
      if (r.value) backlog.push(r.value);
    } else if (deliver) {
      deliver(r.value);
    } else {
      early.push(r.value);
    }
  }, (e) => o.log("model_reader_restart", { error: String(e) }));
  await reader.caughtUp;
  const start = await initialModel(backlog, o);
  backlog.length = 0; // a few MB each: not kept for the worker's life
  const slot = new ModelSlot(start.serving);
  const updates = new ModelUpdates(slot, o.log, o.hooks);
  updates.refused = start.refused;
  o.hooks?.loaded(start.serving.version);
  o.log("model_loaded", {
    name: o.name,
    version: start.serving.version,
    source: start.source,
    pinned: o.pin,
  });
  const producer = idempotentProducer(
    o.kafka,
    (e) => o.log("model_report_failed", { error: `new producer after ${e}` }),
  );
  await producer.connect();
  const report = (version: string | null) =>
    producer.send({
      topic: o.topic,
      acks: -1,
      messages: [{
        key: servingKey(o.worker),
        value: version === null ? null : asBuffer(encodeServing({
          worker: o.worker,
          name: o.name,
          version,
          pinned: o.pin,
          since: new Date().toISOString(),
        })),
      }],
    });
  await report(start.serving.version);
  if (o.pin) {
    await reader.stop();
  } else {
    deliver = (value) =>
      void updates.offer(value).then((outcome) =>
        outcome === "swapped" ? reportQuietly(report, slot.current().version, o.log) : undefined
      ).catch((e) =>
        o.log("model_refused", { code: "stopped", message: String(e), refused: updates.refused })
      );
    for (const value of early.splice(0)) deliver(value);
  }
  let stopping: Promise<void> | undefined;
  return {
    slot,
    updates,
    stop() {
      stopping ??= (async () => {
        deliver = undefined;
        await reader.stop();
        await updates.idle(); // a version still loading is swapped in or refused before the slot closes
        await reportQuietly(report, null, o.log);
        await producer.disconnect();
        await slot.close();
      })();
      return stopping;
    },
  };
}

/** A serving report that failed is logged, not thrown: it only feeds model:list. */
async function reportQuietly(
  report: (version: string | null) => ReturnType<Sender["send"]>,
  version: string | null,
  log: EventLog<ModelEvents>,
): Promise<void> {
  await report(version).catch((e) => log("model_report_failed", { error: String(e) }));
}

/**
 * The newest announcement of `backlog` that passes every check, or the
 * fallback folder; each refused one is logged and counted.
 */
async function initialModel(
  backlog: Uint8Array[],
  o: FollowOptions,
): Promise<{ serving: ServingModel; source: string; refused: number }> {
  let refused = 0;
  for (const value of backlog.reverse()) {
    const decoded = await decodeAnnouncement(value);
    try {
      if (!decoded.ok) throw decoded.error;
      const a = decoded.value;
      const serving = await checkModel(announcementArtifacts(a), a.version);
      return { serving, source: `topic ${o.topic} (announced ${a.announcedAt})`, refused };
    } catch (e) {
      refused++;
      const code = (e as { code?: string }).code ?? "load_failed";
      o.log("model_refused", { code, message: (e as Error).message, refused });
      o.hooks?.refused(code);
    }
  }
  return { serving: await loadCheckedModel(o.fallbackDir), source: o.fallbackDir, refused };
}
