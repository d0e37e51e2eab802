import type * as tf from "@tensorflow/tfjs";
import type { AnnouncedMetrics, Announcement } from "./announcement.ts";
import { weightSpecsOf } from "./announcement.ts";
import { artifactsVersion } from "./model_io.ts";
import type { WeightSpec } from "./model_version.ts";

/**
 * The TF.js artifacts of an announced model, for an in-memory IO handler:
 * the worker loads an announced model without touching its disk.
 *
 * @example
 * ```ts
 * const model = await tf.loadLayersModel({ load: async () => announcementArtifacts(a) });
 * ```
 */
export function announcementArtifacts(a: Announcement): tf.io.ModelArtifacts {
  return {
    modelTopology: a.modelJson.modelTopology as tf.io.ModelArtifacts["modelTopology"],
    format: "layers-model",
    weightSpecs: weightSpecsOf(a.modelJson) as tf.io.WeightsManifestEntry[],
    // A copy: TF.js keeps the buffer, and the record's bytes may be a view into a larger one.
    weightData: a.weights.slice().buffer as ArrayBuffer,
  };
}

/**
 * The announcement of loaded artifacts (e.g. `fileLoader(dir).load()`),
 * named `name`, with no history yet: promoted() adds it.
 *
 * @example
 * ```ts
 * const a = await artifactsAnnouncement(await fileLoader(dir).load!(), "fashion-cnn", metrics);
 * ```
 */
export async function artifactsAnnouncement(
  artifacts: tf.io.ModelArtifacts,
  name: string,
  metrics: AnnouncedMetrics | null,
  at = new Date().toISOString(),
): Promise<Announcement> {
  if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new TypeError("Expected a layers model with a JSON topology, got a binary one");
  }
  const weightData = artifacts.weightData;
  if (!(weightData instanceof ArrayBuffer)) {
    throw new TypeError("Expected the weights as one buffer, got none or several");
  }
  const weights = (artifacts.weightSpecs ?? []) as WeightSpec[];
  return {
    name,
    version: await artifactsVersion(artifacts),
    announcedAt: at,
    history: [],
    metrics,
    modelJson: {
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: ["weights.bin"], weights }],
    },
    weights: new Uint8Array(weightData),
  };
}
