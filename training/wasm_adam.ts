import * as tf from "@tensorflow/tfjs";
import { ADAM_KERNEL, type AdamAttrs } from "./kernels/adam.ts";

type Gradients = Parameters<tf.AdamOptimizer["applyGradients"]>[0];

/** AdamOptimizer's own state, private in its type declarations. */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/**
 * tf.train.adam with each variable's update done by one wasm kernel instead
 * of 14 TF.js ops: the same float32 arithmetic in the same order, so the
 * weights are bit-identical, minus about 80 kernel launches and 13 passes
 * over the Dense weights per step. It saves, loads and serialises as Adam;
 * off the wasm backend, or before registerTrainingKernels(), it is Adam.
 */
export class WasmAdamOptimizer extends tf.AdamOptimizer {
  constructor(learningRate = 0.001) {
    super(learningRate, 0.9, 0.999);
  }

  override applyGradients(gradients: Gradients): void {
    if (tf.getBackend() !== "wasm" || !tf.getKernel(ADAM_KERNEL, "wasm")) {
      return super.applyGradients(gradients);
    }
    const state = this as unknown as AdamState;
    const names = Array.isArray(gradients) ? gradients.map((g) => g.name) : Object.keys(gradients);
    const attrs: AdamAttrs = {
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      learningRate: this.learningRate,
    };
    tf.tidy(() => {
      const c1 = tf.sub(1, state.accBeta1);
      const c2 = tf.sub(1, state.accBeta2);
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        const moment = (suffix: string) => ({
          originalName: `${name}/${suffix}`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        });
        state.accumulatedFirstMoment[i] ??= moment("m");
        state.accumulatedSecondMoment[i] ??= moment("v");
        const gradient = Array.isArray(gradients) ? gradients[i].tensor : gradients[name];
        if (gradient == null) return;
        const m = state.accumulatedFirstMoment[i].variable;
        const v = state.accumulatedSecondMoment[i].variable;
        const [newValue, newM, newV] = tf.engine().runKernel(
          ADAM_KERNEL,
          { value, gradient, m, v, c1, c2 },
          attrs as unknown as tf.NamedAttrMap,
        ) as tf.Tensor[];
        m.assign(newM);
        v.assign(newV);
        value.assign(newValue);
      });
      state.accBeta1.assign(tf.mul(state.accBeta1, this.beta1));
      state.accBeta2.assign(tf.mul(state.accBeta2, this.beta2));
    });
    this.incrementIterations();
  }
}
