import * as tf from "@tensorflow/tfjs";
import { IMAGE_BYTES, IMAGE_SIZE } from "../protocol/classes.ts";

/**
 * Turns `count` raw images (784 bytes each, row-major) into the model's
 * input: a [count, 28, 28, 1] float tensor scaled to [0, 1]. `pick`, when
 * given, selects which images of `images` to use, in order.
 *
 * @example
 * ```ts
 * const x = imagesToTensor(set.images, 200, batchIndices);
 * ```
 */
export function imagesToTensor(
  images: Uint8Array,
  count: number,
  pick?: ArrayLike<number>,
): tf.Tensor4D {
  const data = new Float32Array(count * IMAGE_BYTES);
  for (let i = 0; i < count; i++) {
    const from = (pick ? pick[i] : i) * IMAGE_BYTES;
    const to = i * IMAGE_BYTES;
    for (let p = 0; p < IMAGE_BYTES; p++) data[to + p] = images[from + p] / 255;
  }
  return tf.tensor4d(data, [count, IMAGE_SIZE, IMAGE_SIZE, 1]);
}
