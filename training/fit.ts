import * as tf from "@tensorflow/tfjs";
import type { ImageSet } from "../shared/data/idx.ts";
import { imagesToTensor } from "../shared/model/preprocess.ts";
import { labelsAt, lossAndAccuracy, predictProbabilities } from "./evaluate.ts";
import { shuffleInPlace } from "./random.ts";
import { fuseConvReluPool } from "./conv_pool_fusion.ts";

/** One row of the training history. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss: number;
  val_accuracy: number;
  seconds: number;
}

/** Progress reports during {@linkcode fit}. */
export interface FitListener {
  onBatch?(epoch: number, batch: number, batches: number, loss: number, accuracy: number): void;
  onEpoch?(record: EpochRecord, improved: boolean): void;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  /** Epochs without a better validation accuracy before stopping. */
  patience: number;
  random: () => number;
  listener?: FitListener;
}

export interface FitResult {
  history: EpochRecord[];
  /** 1-based epoch whose weights the model holds at the end. */
  bestEpoch: number;
  epochsRun: number;
}

/**
 * Trains `model` on the images at `trainIdx`, one seeded shuffle per epoch,
 * and stops early when validation accuracy has not improved for `patience`
 * epochs. The model ends with the best epoch's weights (Keras's
 * restore_best_weights, which TF.js's EarlyStopping lacks). With no
 * validation images it trains all epochs and keeps the last.
 */
export async function fit(
  model: tf.LayersModel,
  set: ImageSet,
  trainIdx: Int32Array,
  validationIdx: Int32Array,
  options: FitOptions,
): Promise<FitResult> {
  const { epochs, batchSize, patience, random, listener } = options;
  const order = trainIdx.slice();
  const batches = Math.ceil(order.length / batchSize);
  const validationLabels = labelsAt(set, validationIdx);
  const history: EpochRecord[] = [];
  let best = { accuracy: -Infinity, epoch: 0, weights: [] as tf.Tensor[] };
  // On wasm, the conv block runs as one fused kernel while this function trains.
  const unfuse = fuseConvReluPool(model);
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const started = performance.now();
      shuffleInPlace(order, random);
      let lossSum = 0;
      let accSum = 0;
      let seen = 0;
      for (let b = 0; b < batches; b++) {
        const pick = order.subarray(b * batchSize, Math.min((b + 1) * batchSize, order.length));
        const x = imagesToTensor(set.images, pick.length, pick);
        const y = tf.tensor1d(Array.from(pick, (i) => set.labels[i]), "float32");
        const [loss, acc] = await model.trainOnBatch(x, y) as number[];
        tf.dispose([x, y]);
        lossSum += loss * pick.length;
        accSum += acc * pick.length;
        seen += pick.length;
        listener?.onBatch?.(epoch, b + 1, batches, lossSum / seen, accSum / seen);
      }
      const val = validationIdx.length
        ? lossAndAccuracy(predictProbabilities(model, set, validationIdx), validationLabels)
        : { loss: NaN, accuracy: NaN };
      const record: EpochRecord = {
        epoch,
        loss: lossSum / seen,
        accuracy: accSum / seen,
        val_loss: val.loss,
        val_accuracy: val.accuracy,
        seconds: (performance.now() - started) / 1000,
      };
      history.push(record);
      const improved = !validationIdx.length || val.accuracy > best.accuracy;
      if (improved) {
        tf.dispose(best.weights);
        best = {
          accuracy: val.accuracy,
          epoch,
          weights: model.getWeights().map((w) => w.clone()),
        };
      }
      listener?.onEpoch?.(record, improved);
      if (validationIdx.length && epoch - best.epoch >= patience) break;
    }
    model.setWeights(best.weights);
    return { history, bestEpoch: best.epoch, epochsRun: history.length };
  } finally {
    unfuse?.();
    tf.dispose(best.weights);
  }
}
