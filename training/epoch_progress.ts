import { bar, formatDuration, StatusLine } from "../shared/cli/status_line.ts";
import type { EpochRecord, FitListener } from "./fit.ts";

/**
 * Training progress on stderr: a live bar per epoch (batch, loss, accuracy,
 * ETA) on a terminal, one line per epoch otherwise.
 */
export function epochProgress(epochs: number, line = new StatusLine()): FitListener {
  let started = performance.now();
  return {
    onBatch(epoch, batch, batches, loss, accuracy) {
      if (batch === 1) started = performance.now();
      const elapsed = (performance.now() - started) / 1000;
      const eta = (elapsed / batch) * (batches - batch);
      line.update(
        `epoch ${epoch}/${epochs} ${bar(batch, batches)} ${batch}/${batches} ` +
          `loss ${loss.toFixed(4)} acc ${accuracy.toFixed(4)} ETA ${formatDuration(eta)}`,
        batch === batches,
      );
    },
    onEpoch(r: EpochRecord, improved: boolean) {
      const val = Number.isFinite(r.val_accuracy)
        ? ` val_loss ${r.val_loss.toFixed(4)} val_acc ${r.val_accuracy.toFixed(4)}${
          improved ? " *" : ""
        }`
        : "";
      line.done(
        `epoch ${r.epoch}/${epochs}: loss ${r.loss.toFixed(4)} acc ${
          r.accuracy.toFixed(4)
        }${val} (${r.seconds.toFixed(1)}s)`,
      );
    },
  };
}
