import { NUM_CLASSES } from "../shared/protocol/classes.ts";

// argMax lives in shared/model (the worker needs it too); re-exported here
// so that training code keeps importing its metrics from one module.
export { argMax } from "../shared/model/argmax.ts";

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
