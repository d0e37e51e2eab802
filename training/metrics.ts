import { NUM_CLASSES } from "../shared/protocol/classes.ts";

/** Index of the largest of `probs[offset .. offset + n)`, first on ties. */
export function argMax(probs: ArrayLike<number>, offset = 0, n = NUM_CLASSES): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (probs[offset + i] > probs[offset + best]) best = i;
  return best;
}

/** Confusion counts: rows are true classes, columns predicted classes. */
export function confusionMatrix(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes = NUM_CLASSES,
): number[][] {
  if (truth.length !== predicted.length) {
    throw new RangeError(
      `confusionMatrix expects as many predictions as labels, got ${predicted.length} and ${truth.length}`,
    );
  }
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]][predicted[i]]++;
  return m;
}

/** Share of the diagonal in a confusion matrix (0 for an empty one). */
export function accuracyOf(confusion: number[][]): number {
  let right = 0;
  let all = 0;
  confusion.forEach((row, i) =>
    row.forEach((n, j) => {
      all += n;
      if (i === j) right += n;
    })
  );
  return all === 0 ? 0 : right / all;
}
