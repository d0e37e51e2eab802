import { NUM_CLASSES } from "../protocol/classes.ts";

/**
 * The index of the largest of `n` scores starting at `offset` in `scores`,
 * the first one on ties: the predicted class of one row of a flat
 * [rows, classes] probability array (training's evaluation) or of one
 * image's own probabilities (the worker's replies), with `n` defaulting to
 * the ten Fashion-MNIST classes.
 *
 * @example
 * ```ts
 * argMax([0.1, 0.7, 0.2], 0, 3); // 1
 * argMax(flatProbs, row * NUM_CLASSES); // class of `row`
 * ```
 */
export function argMax(scores: ArrayLike<number>, offset = 0, n = NUM_CLASSES): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (scores[offset + i] > scores[offset + best]) best = i;
  return best;
}
