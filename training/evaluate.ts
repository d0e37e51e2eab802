import * as tf from "@tensorflow/tfjs";
import { NUM_CLASSES } from "../shared/protocol/classes.ts";
import type { ImageSet } from "../shared/data/idx.ts";
import { imagesToTensor } from "../shared/model/preprocess.ts";

const CHUNK = 1000;

/** Class probabilities for the images at `indices` (all when omitted), [n * 10]. */
export function predictProbabilities(
  model: tf.LayersModel,
  set: ImageSet,
  indices?: Int32Array,
): Float32Array {
  const n = indices ? indices.length : set.count;
  const out = new Float32Array(n * NUM_CLASSES);
  for (let start = 0; start < n; start += CHUNK) {
    const size = Math.min(CHUNK, n - start);
    const pick = indices
      ? indices.subarray(start, start + size)
      : Int32Array.from({ length: size }, (_, i) => start + i);
    const probs = tf.tidy(() => {
      const x = imagesToTensor(set.images, size, pick);
      return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
    });
    out.set(probs, start * NUM_CLASSES);
  }
  return out;
}

/** Mean cross-entropy and accuracy of probabilities against labels. */
export function lossAndAccuracy(
  probs: Float32Array,
  labels: ArrayLike<number>,
): { loss: number; accuracy: number } {
  const n = labels.length;
  let loss = 0;
  let right = 0;
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    // Keras clips probabilities at 1e-7 before the log; so do we.
    loss -= Math.log(Math.max(row[labels[i]], 1e-7));
    let best = 0;
    for (let c = 1; c < NUM_CLASSES; c++) if (row[c] > row[best]) best = c;
    if (best === labels[i]) right++;
  }
  return { loss: n ? loss / n : NaN, accuracy: n ? right / n : NaN };
}

/** Labels of the images at `indices` (all when omitted). */
export function labelsAt(set: ImageSet, indices?: Int32Array): Uint8Array {
  return indices ? Uint8Array.from(indices, (i) => set.labels[i]) : set.labels;
}
