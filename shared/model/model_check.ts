import * as tf from "@tensorflow/tfjs";
import { IMAGE_BYTES, IMAGE_SIZE, NUM_CLASSES } from "../protocol/classes.ts";
import { imagesToTensor } from "./preprocess.ts";

/** A model that passed checkModel(), ready to serve. */
export interface ServingModel {
  model: tf.LayersModel;
  /** Content-addressed: see modelVersion(). */
  version: string;
}

/** Why a model was refused at load: a shape or a smoke batch that is wrong. */
export class ModelCheckError extends Error {
  readonly code: "load_failed" | "wrong_shape" | "not_finite";
  constructor(code: ModelCheckError["code"], message: string) {
    super(message);
    this.name = "ModelCheckError";
    this.code = code;
  }
}

/** The smoke batch, back to back: a black, a white and two gradient images. */
const SMOKE_COUNT = 4;
function smokeImages(): Uint8Array {
  const images = new Uint8Array(SMOKE_COUNT * IMAGE_BYTES);
  images.fill(255, IMAGE_BYTES, 2 * IMAGE_BYTES);
  for (let i = 0; i < IMAGE_BYTES; i++) {
    images[2 * IMAGE_BYTES + i] = i % 256;
    images[3 * IMAGE_BYTES + i] = (i * 7) % 256;
  }
  return images;
}

/**
 * Loads a model from memory and checks it before it may serve: input shape
 * [null, 28, 28, 1], output shape [null, 10], and a smoke batch whose
 * outputs are finite probabilities. The smoke batch also warms the model up
 * (the first predict compiles kernels), so a swap to it costs no latency
 * spike. Throws a ModelCheckError after disposing what it loaded.
 *
 * @example
 * ```ts
 * const serving = await checkModel(announcementArtifacts(announcement), announcement.version);
 * ```
 */
export async function checkModel(
  artifacts: tf.io.ModelArtifacts,
  version: string,
): Promise<ServingModel> {
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel({ load: () => Promise.resolve(artifacts) });
  } catch (e) {
    throw new ModelCheckError(
      "load_failed",
      `Cannot load model ${version}: ${(e as Error).message}`,
    );
  }
  try {
    checkShape("input", model.inputs[0]?.shape, [null, IMAGE_SIZE, IMAGE_SIZE, 1], version);
    checkShape("output", model.outputs[0]?.shape, [null, NUM_CLASSES], version);
    const out = tf.tidy(() =>
      (model.predict(imagesToTensor(smokeImages(), SMOKE_COUNT)) as tf.Tensor).dataSync()
    );
    if (out.length !== SMOKE_COUNT * NUM_CLASSES) {
      throw new ModelCheckError(
        "wrong_shape",
        `Model ${version}: expected ${SMOKE_COUNT * NUM_CLASSES} outputs, got ${out.length}`,
      );
    }
    const bad = out.findIndex((p) => !Number.isFinite(p) || p < 0 || p > 1);
    if (bad >= 0) {
      throw new ModelCheckError(
        "not_finite",
        `Model ${version}: expected smoke-batch probabilities in [0, 1], got ${out[bad]}`,
      );
    }
    return { model, version };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

function checkShape(
  which: string,
  actual: readonly (number | null)[] | undefined,
  expected: readonly (number | null)[],
  version: string,
): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new ModelCheckError(
      "wrong_shape",
      `Model ${version}: expected ${which} shape ${JSON.stringify(expected)}, got ${
        JSON.stringify(actual ?? null)
      }`,
    );
  }
}
