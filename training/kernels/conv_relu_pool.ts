/**
 * Conv2D + bias + relu + 2x2 max pool as one wasm kernel, with its gradient:
 * see registerConvReluPool(). The model's convolution output (200 x 26 x 26
 * x 32 floats, 17 MB a step) is never written: the forward pass keeps the
 * pooled values and which window position won, which is all the gradients
 * need. That replaces Conv2D, Add, Relu, MaxPool forward and MaxPoolGrad,
 * the relu gradient, Sum and Conv2DBackpropFilter backward: eight passes
 * over the 17 MB, and their allocations, per step.
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { type ConvPoolGeometry, convPoolKernels, MAX_PATCH } from "./conv_relu_pool_wasm.ts";
import { heap, heapMemory, type Info, type KernelArgs, ptr } from "./wasm_heap.ts";
import { splitFilterGrad, splitForward } from "./conv_relu_pool_split.ts";

/** The forward kernel: inputs x, filter, bias; output the pooled relu. */
export const CONV_RELU_POOL = "FashionConvReluPool";
/** Gradient kernels: inputs x, filter, bias, y (the forward output), dy. */
export const CONV_RELU_POOL_FILTER_GRAD = "FashionConvReluPoolFilterGrad";
export const CONV_RELU_POOL_BIAS_GRAD = "FashionConvReluPoolBiasGrad";
export const CONV_RELU_POOL_INPUT_GRAD = "FashionConvReluPoolInputGrad";

/** Thrown for inputs the fused kernel does not take. */
export class ConvReluPoolShapeError extends RangeError {
  override name = "ConvReluPoolShapeError";
}

/**
 * The geometry of the fused block for input `x` and `filter`: valid padding,
 * stride 1, then 2x2 pools with stride 2 (an odd last row or column is
 * dropped, as by a valid pool).
 */
export function convPoolGeometry(xShape: number[], filterShape: number[]): ConvPoolGeometry {
  if (xShape.length !== 4 || filterShape.length !== 4) {
    throw new ConvReluPoolShapeError(
      `Expected a 4-D input and filter, got [${xShape}] and [${filterShape}]`,
    );
  }
  const [batch, inHeight, inWidth, inChannels] = xShape;
  const [filterHeight, filterWidth, filterIn, outChannels] = filterShape;
  const patch = filterHeight * filterWidth * inChannels;
  if (filterIn !== inChannels || outChannels % 4 !== 0 || patch > MAX_PATCH) {
    throw new ConvReluPoolShapeError(
      `Expected filter [fh, fw, ${inChannels}, a multiple of 4] with at most ${MAX_PATCH} ` +
        `weights per output, got [${filterShape}]`,
    );
  }
  const poolHeight = Math.floor((inHeight - filterHeight + 1) / 2);
  const poolWidth = Math.floor((inWidth - filterWidth + 1) / 2);
  return {
    batch,
    inHeight,
    inWidth,
    inChannels,
    filterHeight,
    filterWidth,
    outChannels,
    poolHeight: Math.max(poolHeight, 0),
    poolWidth: Math.max(poolWidth, 0),
  };
}

/**
 * The winning positions of the last forward pass, one byte per pooled value,
 * kept for its gradients under the forward output's dataId (tensor data
 * never changes). One entry: the next forward replaces it.
 */
let lastArg: { y: object; arg: Info } | undefined;

function pooledSize(g: ConvPoolGeometry): number {
  return g.batch * g.poolHeight * g.poolWidth * g.outChannels;
}

/** Runs the forward pass into `y`, returning a new buffer of winning positions. */
function runForward(wasm: BackendWasm, g: ConvPoolGeometry, x: Info, w: Info, b: Info, y: Info) {
  const arg = wasm.makeOutput([Math.ceil(pooledSize(g) / 4)], "int32");
  const kernels = convPoolKernels(wasm);
  const p = {
    x: ptr(wasm, x),
    w: ptr(wasm, w),
    bias: ptr(wasm, b),
    y: ptr(wasm, y),
    arg: ptr(wasm, arg),
  };
  if (!splitForward(heapMemory(wasm), kernels, g, p)) kernels.forward(g, p);
  return arg;
}

function convReluPoolKernel({ inputs, backend }: KernelArgs): Info {
  const wasm = backend as BackendWasm;
  const { x, filter, bias } = inputs as { x: Info; filter: Info; bias: Info };
  const g = convPoolGeometry([...x.shape], [...filter.shape]);
  const y = wasm.makeOutput([g.batch, g.poolHeight, g.poolWidth, g.outChannels], "float32");
  const arg = runForward(wasm, g, x, filter, bias, y);
  if (lastArg) wasm.disposeData(lastArg.arg.dataId);
  lastArg = { y: y.dataId, arg };
  return y;
}

/**
 * `fn` given the winning positions of the forward pass that made `y`: the
 * kept ones, or (when another forward pass replaced them) recomputed.
 */
function withArg<T>(wasm: BackendWasm, inputs: Record<string, Info>, fn: (arg: number) => T): T {
  const { x, filter, bias, y } = inputs;
  if (lastArg?.y === y.dataId) return fn(ptr(wasm, lastArg.arg));
  const g = convPoolGeometry([...x.shape], [...filter.shape]);
  const scratchY = wasm.makeOutput([...y.shape], "float32");
  const arg = runForward(wasm, g, x, filter, bias, scratchY);
  try {
    return fn(ptr(wasm, arg));
  } finally {
    wasm.disposeData(scratchY.dataId);
    wasm.disposeData(arg.dataId);
  }
}

function gradKernel(
  output: (inputs: Record<string, Info>) => Info,
  run: (
    wasm: BackendWasm,
    g: ConvPoolGeometry,
    inputs: Record<string, Info>,
    out: Info,
    arg: number,
  ) => void,
): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const wasm = backend as BackendWasm;
    const named = inputs as Record<string, Info>;
    const g = convPoolGeometry([...named.x.shape], [...named.filter.shape]);
    const ref = output(named);
    const out = wasm.makeOutput([...ref.shape], "float32");
    withArg(wasm, named, (arg) => run(wasm, g, named, out, arg));
    // An empty batch never reaches the kernels' loops.
    if (g.batch === 0) heap(wasm, out).fill(0);
    return out;
  };
}

const filterGradKernel = gradKernel((i) => i.filter, (wasm, g, i, out, arg) => {
  const kernels = convPoolKernels(wasm);
  const p = { x: ptr(wasm, i.x), dy: ptr(wasm, i.dy), arg, dw: ptr(wasm, out) };
  if (!splitFilterGrad(heapMemory(wasm), kernels, g, p)) kernels.filterGrad(g, p);
});

const biasGradKernel = gradKernel(
  (i) => i.bias,
  (wasm, g, i, out, arg) =>
    convPoolKernels(wasm).biasGrad(g, { dy: ptr(wasm, i.dy), arg, db: ptr(wasm, out) }),
);

const inputGradKernel = gradKernel(
  (i) => i.x,
  (wasm, g, i, out, arg) =>
    convPoolKernels(wasm).inputGrad(g, {
      w: ptr(wasm, i.filter),
      dy: ptr(wasm, i.dy),
      arg,
      dx: ptr(wasm, out),
    }),
);

let registered = false;

/**
 * Registers {@linkcode CONV_RELU_POOL} and its gradient kernels on wasm, and
 * its gradient: each of dx, dW and db is computed only when asked for (the
 * model's input is no variable, so training never computes dx). Idempotent.
 *
 * @example
 * ```ts
 * registerConvReluPool();
 * const y = tf.engine().runKernel(CONV_RELU_POOL, { x, filter, bias }) as tf.Tensor4D;
 * ```
 */
export function registerConvReluPool(): void {
  if (registered) return;
  const kernels: [string, tf.KernelFunc][] = [
    [CONV_RELU_POOL, convReluPoolKernel],
    [CONV_RELU_POOL_FILTER_GRAD, filterGradKernel],
    [CONV_RELU_POOL_BIAS_GRAD, biasGradKernel],
    [CONV_RELU_POOL_INPUT_GRAD, inputGradKernel],
  ];
  for (const [kernelName, kernelFunc] of kernels) {
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc });
  }
  tf.registerGradient({
    kernelName: CONV_RELU_POOL,
    inputsToSave: ["x", "filter", "bias"],
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [x, filter, bias, y] = saved;
      const inputs = { x, filter, bias, y, dy: dy as tf.Tensor };
      const run = (name: string) => () => tf.engine().runKernel(name, inputs) as tf.Tensor;
      return {
        x: run(CONV_RELU_POOL_INPUT_GRAD),
        filter: run(CONV_RELU_POOL_FILTER_GRAD),
        bias: run(CONV_RELU_POOL_BIAS_GRAD),
      };
    },
  });
  registered = true;
}

/** The fused block's output for `x`: maxPool2x2(relu(conv2d(x, filter) + bias)). */
export function convReluPool(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  return tf.engine().runKernel(CONV_RELU_POOL, { x, filter, bias }) as tf.Tensor4D;
}
