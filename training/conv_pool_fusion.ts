/**
 * Runs a model's Conv2D(relu) + MaxPooling2D(2x2) pair as one fused wasm
 * kernel during training; see fuseConvReluPool().
 */
import * as tf from "@tensorflow/tfjs";
import { convReluPool, registerConvReluPool } from "./kernels/conv_relu_pool.ts";

/** The fields of TF.js's Conv2D layer this file reads (they are not public API). */
interface ConvLayer extends tf.layers.Layer {
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
}

type Call = tf.layers.Layer["call"];

/** Whether `conv` then `pool` compute maxPool2x2(relu(conv2d_valid(x) + bias)). */
function fusable(conv: tf.layers.Layer, pool: tf.layers.Layer): boolean {
  if (conv.getClassName() !== "Conv2D" || pool.getClassName() !== "MaxPooling2D") return false;
  const c = conv.getConfig();
  const p = pool.getConfig();
  const ones = (v: unknown) => [v].flat().every((n) => n === 1);
  const twos = (v: unknown) => [v].flat().every((n) => n === 2);
  return c.activation === "relu" && c.useBias === true && c.padding === "valid" &&
    c.dataFormat === "channelsLast" && ones(c.strides) && ones(c.dilationRate) &&
    (c.filters as number) % 4 === 0 && twos(p.poolSize) && twos(p.strides) &&
    p.padding === "valid" && p.dataFormat === "channelsLast" &&
    // The pool must be the conv's only consumer, and the conv its only source.
    conv.outboundNodes.length === 1 && conv.outboundNodes[0].outboundLayer === pool &&
    pool.inboundNodes.length === 1;
}

/**
 * Makes `model`'s first Conv2D(relu, valid, stride 1) directly followed by a
 * MaxPooling2D(2x2, stride 2) run as one fused kernel (wasm backend only):
 * the conv layer passes its input through, and the pool layer computes
 * maxPool(relu(conv(x) + bias)) from it with the conv layer's weights. The
 * model's weights, configuration and saved form do not change. Returns a
 * function that undoes it, or undefined when the model has no such pair.
 *
 * @example
 * ```ts
 * const restore = fuseConvReluPool(model);
 * try { await model.trainOnBatch(x, y); } finally { restore?.(); }
 * ```
 */
export function fuseConvReluPool(model: tf.LayersModel): (() => void) | undefined {
  if (tf.getBackend() !== "wasm") return undefined;
  const at = model.layers.findIndex((l, i) =>
    i + 1 < model.layers.length && fusable(l, model.layers[i + 1])
  );
  if (at < 0) return undefined;
  registerConvReluPool();
  const conv = model.layers[at] as ConvLayer;
  const pool = model.layers[at + 1];
  const [convCall, poolCall]: Call[] = [conv.call, pool.call];
  conv.call = (inputs) => Array.isArray(inputs) ? inputs[0] : inputs;
  pool.call = (inputs) =>
    tf.tidy(() =>
      convReluPool(
        (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D,
        conv.kernel.read() as tf.Tensor4D,
        conv.bias!.read() as tf.Tensor1D,
      )
    );
  return () => {
    conv.call = convCall;
    pool.call = poolCall;
  };
}
