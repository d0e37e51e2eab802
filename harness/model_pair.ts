/**
 * Two small, different trained models for the model-update tests and the
 * chaos case, and the corrupt announcements they must survive.
 */
import { type Announcement, encodeAnnouncement } from "../shared/model/announcement.ts";
import { modelVersion } from "../shared/model/model_version.ts";
import { train } from "../train.ts";

/** Model folders A and B (seeds 1 and 2): trained once per checkout. */
export const MODEL_PAIR = { a: ".tmp/swap-model-a", b: ".tmp/swap-model-b" } as const;

/** Trains models A and B if missing (3,000 images, 1 epoch: a few seconds each). */
export async function ensureModelPair(): Promise<{ a: string; b: string }> {
  for (const [seed, out] of [[1, MODEL_PAIR.a], [2, MODEL_PAIR.b]] as const) {
    try {
      await Deno.stat(`${out}/model/model.json`);
    } catch {
      await train({
        epochs: 1,
        batchSize: 200,
        patience: 1,
        validationSplit: 0,
        seed,
        limit: 3000,
        backend: "wasm",
        threads: 1,
        out,
      });
    }
  }
  return { a: `${MODEL_PAIR.a}/model`, b: `${MODEL_PAIR.b}/model` };
}

/**
 * Three corrupt announcements of `a`, one per kind a worker must refuse: a
 * flipped weight byte (bad hash), weights cut short (truncated), and
 * weight shapes that do not match the bytes, with every hash made right
 * (wrong shape).
 */
export async function corruptAnnouncements(
  a: Announcement,
): Promise<{ badHash: Uint8Array; truncated: Uint8Array; wrongShape: Uint8Array }> {
  const good = await encodeAnnouncement(a);
  const badHash = good.slice();
  badHash[badHash.length - 100] ^= 0xff;
  const truncated = good.slice(0, good.length - 4096);
  const manifest = a.modelJson.weightsManifest.map((g) => ({
    ...g,
    weights: g.weights.map((w, i) => i === 0 ? { ...w, shape: w.shape.map((d) => d + 1) } : w),
  }));
  const specs = manifest.flatMap((g) => g.weights);
  const wrong = {
    ...a,
    modelJson: { ...a.modelJson, weightsManifest: manifest },
    version: await modelVersion(a.modelJson.modelTopology, specs, a.weights),
  };
  return { badHash, truncated, wrongShape: await encodeAnnouncement(wrong) };
}
