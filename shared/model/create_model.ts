import * as tf from "@tensorflow/tfjs";
import { IMAGE_SIZE, NUM_CLASSES } from "../protocol/classes.ts";

/** Options of {@linkcode createModel}. */
export interface ModelOptions {
  /** Seeds the weight initialisers and the dropout mask. */
  seed?: number;
  /** Default: tf.train.adam(0.001), Keras's Adam. */
  optimizer?: tf.Optimizer;
}

/**
 * Builds and compiles the original project's CNN: Conv2D 32 3x3 relu
 * (he-uniform), MaxPool 2x2, Flatten, Dense 100 relu (he-uniform),
 * Dropout 0.2, Dense 10 softmax; Adam and sparse categorical cross-entropy.
 * Input: [batch, 28, 28, 1] floats in [0, 1].
 *
 * @example
 * ```ts
 * const model = createModel({ seed: 42 });
 * model.countParams(); // 542230
 * ```
 */
export function createModel(options: ModelOptions = {}): tf.LayersModel {
  const seed = options.seed;
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [IMAGE_SIZE, IMAGE_SIZE, 1],
        filters: 32,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: tf.initializers.heUniform({ seed }),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({
        units: 100,
        activation: "relu",
        kernelInitializer: tf.initializers.heUniform({ seed: offset(seed, 1) }),
      }),
      tf.layers.dropout({ rate: 0.2, seed: offset(seed, 2) }),
      tf.layers.dense({
        units: NUM_CLASSES,
        activation: "softmax",
        kernelInitializer: tf.initializers.glorotUniform({
          seed: offset(seed, 3),
        }),
      }),
    ],
  });
  compileModel(model, options.optimizer);
  return model;
}

/** Attaches the optimiser and loss: also needed after loading a model. */
export function compileModel(
  model: tf.LayersModel,
  optimizer: tf.Optimizer = tf.train.adam(0.001),
): void {
  model.compile({
    optimizer,
    loss: "sparseCategoricalCrossentropy",
    metrics: ["accuracy"],
  });
}

function offset(seed: number | undefined, by: number): number | undefined {
  return seed === undefined ? undefined : seed + by;
}
