import * as tf from "@tensorflow/tfjs";
import { NUM_CLASSES } from "../shared/protocol/classes.ts";
import { stackImages } from "../shared/model/preprocess.ts";

/**
 * Runs the model on a batch of raw images in one `predict` and returns
 * each image's ten class probabilities. No tensor outlives the call.
 */
export function predictBatch(model: tf.LayersModel, images: readonly Uint8Array[]): Float32Array[] {
  const flat = tf.tidy(() => (model.predict(stackImages(images)) as tf.Tensor).dataSync());
  return images.map((_, i) =>
    flat.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES) as Float32Array
  );
}
