import { stringify } from "csv-stringify/sync";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../shared/fs/atomic_write.ts";
import { CLASS_NAMES, NUM_CLASSES } from "../shared/protocol/classes.ts";
import { fileSaver } from "../shared/model/model_io.ts";
import type { EpochRecord } from "./fit.ts";
import { renderReportSvg } from "./report_svg.ts";

export interface Metrics {
  test_accuracy: number;
  test_loss: number;
  train_accuracy: number;
  validation_accuracy: number | null;
  epochs_run: number;
  best_epoch: number;
  seconds_per_epoch: number;
  backend: string;
  /** Threads of the large wasm matrix products. */
  threads: number;
  seed: number;
  tfjs_version: string;
  train_images: number;
  validation_images: number;
  test_images: number;
  batch_size: number;
  data: string;
  finished_at: string;
}

export interface Artifacts {
  model: tf.LayersModel;
  history: EpochRecord[];
  testProbs: Float32Array;
  testLabels: ArrayLike<number>;
  testPredicted: ArrayLike<number>;
  confusion: number[][];
  metrics: Metrics;
}

const round = (n: number) => Number.isFinite(n) ? Number(n.toFixed(6)) : "";

/** Writes every artifact of a training run into `dir`, each file atomically. */
export async function writeArtifacts(dir: string, a: Artifacts): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await a.model.save(fileSaver(`${dir}/model`));
  await writeFileAtomic(
    `${dir}/labels.csv`,
    stringify(CLASS_NAMES.map((label, index) => [index, label]), {
      header: true,
      columns: ["index", "label"],
    }),
  );
  await writeFileAtomic(
    `${dir}/history.csv`,
    stringify(
      a.history.map((r) => [
        r.epoch,
        round(r.loss),
        round(r.accuracy),
        round(r.val_loss),
        round(r.val_accuracy),
        round(r.seconds),
      ]),
      {
        header: true,
        columns: ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"],
      },
    ),
  );
  const probColumns = CLASS_NAMES.map((_, i) => `p${i}`);
  const rows: (number | string)[][] = [];
  for (let i = 0; i < a.testLabels.length; i++) {
    const p = Array.from(a.testProbs.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES), round);
    rows.push([...p, a.testLabels[i], a.testPredicted[i]]);
  }
  await writeFileAtomic(
    `${dir}/predictions_test.csv`,
    stringify(rows, { header: true, columns: [...probColumns, "true_label", "predicted_label"] }),
  );
  await writeFileAtomic(
    `${dir}/confusion_test.csv`,
    stringify(a.confusion.map((row, i) => [CLASS_NAMES[i], ...row]), {
      header: true,
      columns: ["true\\predicted", ...CLASS_NAMES],
    }),
  );
  await writeFileAtomic(`${dir}/metrics.json`, JSON.stringify(a.metrics, null, 2) + "\n");
  const m = a.metrics;
  await writeFileAtomic(
    `${dir}/report.svg`,
    renderReportSvg(
      a.history,
      m.best_epoch,
      a.confusion,
      CLASS_NAMES,
      `test accuracy ${
        m.test_accuracy.toFixed(4)
      } · best epoch ${m.best_epoch} of ${m.epochs_run} · ` +
        `${m.seconds_per_epoch.toFixed(1)} s/epoch on ${m.backend} · seed ${m.seed}`,
    ),
  );
}
