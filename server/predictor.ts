import * as tf from "@tensorflow/tfjs";
import { IMAGE_BYTES, NUM_CLASSES } from "../shared/protocol/classes.ts";
import { imagesToTensor } from "../shared/model/preprocess.ts";

/**
 * Runs the model on a batch of raw images in one `predict` and returns
 * each image's ten class probabilities. No tensor outlives the call.
 */
export function predictBatch(model: tf.LayersModel, images: readonly Uint8Array[]): Float32Array[] {
  // One contiguous copy (784 bytes an image) lets the worker share the
  // training's imagesToTensor, the one place images become model input.
  const flat = new Uint8Array(images.length * IMAGE_BYTES);
  images.forEach((image, i) => flat.set(image, i * IMAGE_BYTES));
  const probs = tf.tidy(() =>
    (model.predict(imagesToTensor(flat, images.length)) as tf.Tensor).dataSync()
  );
  return images.map((_, i) =>
    probs.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES) as Float32Array
  );
}
