/**
 * The wasm kernels training needs: see registerTrainingKernels(). The
 * matrix products are in matmul_kernel.ts and the Adam step in
 * adam_kernel.ts; the SIMD code they run is in simd_kernels.ts.
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { ADAM_KERNEL, adamKernel } from "./adam_kernel.ts";
import { sumRows } from "./column_sum.ts";
import { type ConvGeometry, im2col } from "./im2col.ts";
import { swapLastTwo, withPlainMatMul, withSimdMatMul } from "./matmul_kernel.ts";
import { maxPoolGradNhwc } from "./max_pool_grad_math.ts";
import { callKernel, heap, type Info, type KernelArgs, ptr, simdKernels } from "./wasm_heap.ts";

type Shape4 = [number, number, number, number];

function requireNhwc(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== "NHWC") {
    throw new TypeError(
      `${kernel} on wasm expects dataFormat NHWC, got ${String(dataFormat)}`,
    );
  }
}

/**
 * Conv2DBackpropFilter as one product of the patch matrix and dy,
 * dW = colsᵀ·dy, on our SIMD gemm (the transposed operand costs nothing).
 * The patches usually come from the forward Conv2D of the same step.
 * Channel counts that are not a multiple of 4 use XNNPACK, with the
 * operands oriented so the one it packs is the smaller.
 */
function conv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs): Info {
  const wasm = backend as BackendWasm;
  const { x, dy } = inputs as { x: Info; dy: Info };
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs & {
    dilations?: number | [number, number];
  };
  requireNhwc("Conv2DBackpropFilter", a.dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    a.filterShape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
  );
  const g = geometry(info);
  const patch = g.filterHeight * g.filterWidth * g.inChannels;
  const positions = g.batch * g.outHeight * g.outWidth;
  if (info.outChannels % 4 === 0) {
    // SIMD path: patches, then colsᵀ·dy straight into the result.
    const kernels = simdKernels(wasm);
    const cached = cachedPatches(x, g);
    const cols = cached ?? wasm.makeOutput([positions, patch], "float32");
    const out = wasm.makeOutput([...a.filterShape], "float32");
    if (!cached) kernels.im2col(ptr(wasm, x), ptr(wasm, cols), ...geometryArgs(g));
    const [pc, pd, po] = [ptr(wasm, cols), ptr(wasm, dy), ptr(wasm, out)];
    kernels.gemm(pc, pd, po, patch, info.outChannels, positions, 1, patch, 0);
    if (positions === 0) heap(wasm, out).fill(0);
    if (!cached) wasm.disposeData(cols.dataId);
    return out;
  }
  const cols = wasm.makeOutput([1, positions, patch], "float32");
  // Views are taken after the allocation: malloc may grow the heap.
  im2col(heap(wasm, x), g, heap(wasm, cols));
  const dy3: Info = {
    dataId: dy.dataId,
    shape: [1, positions, info.outChannels],
    dtype: dy.dtype,
  };
  const dyT = swapLastTwo(wasm, dy3);
  const gradT = callKernel("BatchMatMul", wasm, { a: dyT, b: cols }, {
    transposeA: false,
    transposeB: false,
  });
  const grad = swapLastTwo(wasm, gradT);
  for (const t of [cols, dyT, gradT]) wasm.disposeData(t.dataId);
  return { ...grad, shape: [...a.filterShape] };
}

function geometry(info: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

function geometryArgs(g: ConvGeometry): number[] {
  return [
    g.batch,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.outHeight,
    g.outWidth,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.dilationHeight,
    g.dilationWidth,
    g.padTop,
    g.padLeft,
  ];
}

/**
 * Conv2D (NHWC) as im2col plus one product with the filter (the registered
 * BatchMatMul): about twice as fast as the stock kernel on this model's
 * single-channel input, where XNNPACK's convolution is weak.
 */
function withIm2colConv(original: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { x, filter } = inputs as { x: Info; filter: Info };
    const a = attrs as unknown as tf.Conv2DAttrs;
    if ((a.dataFormat && a.dataFormat !== "NHWC") || x.dtype !== "float32") {
      return original({ inputs, backend, attrs });
    }
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as Shape4,
      filter.shape as Shape4,
      a.strides,
      a.dilations,
      a.pad,
      a.dimRoundingMode,
    );
    const g = geometry(info);
    const patch = g.filterHeight * g.filterWidth * g.inChannels;
    const positions = g.batch * g.outHeight * g.outWidth;
    const cols = wasm.makeOutput([1, positions, patch], "float32");
    simdKernels(wasm).im2col(ptr(wasm, x), ptr(wasm, cols), ...geometryArgs(g));
    rememberPatches(wasm, x, g, cols);
    const w: Info = {
      dataId: filter.dataId,
      shape: [1, patch, info.outChannels],
      dtype: "float32",
    };
    const out = callKernel("BatchMatMul", wasm, { a: cols, b: w }, {
      transposeA: false,
      transposeB: false,
    });
    wasm.disposeData(cols.dataId);
    return { ...out, shape: [g.batch, g.outHeight, g.outWidth, info.outChannels] };
  };
}

/**
 * The patch matrix of the last Conv2D, kept for its filter gradient: the
 * backward pass of a training step needs exactly the patches its forward
 * pass built. Tensor data never changes, so a dataId plus the geometry
 * identifies the patches. One entry: the next forward replaces it.
 */
let lastPatches: { x: object; key: string; cols: Info } | undefined;

function rememberPatches(wasm: BackendWasm, x: Info, g: ConvGeometry, cols: Info): void {
  if (lastPatches) wasm.disposeData(lastPatches.cols.dataId);
  wasm.incRef(cols.dataId);
  lastPatches = { x: x.dataId, key: geometryArgs(g).join(","), cols };
}

function cachedPatches(x: Info, g: ConvGeometry): Info | undefined {
  const hit = lastPatches?.x === x.dataId && lastPatches.key === geometryArgs(g).join(",");
  return hit ? lastPatches!.cols : undefined;
}

/** Kernel of the relu gradient on wasm; see registerTrainingKernels(). */
const RELU_GRAD = "FashionWasmReluGrad";

function reluGradKernel({ inputs, backend }: KernelArgs): Info {
  const wasm = backend as BackendWasm;
  const { dy, x } = inputs as { dy: Info; x: Info };
  const dx = wasm.makeOutput([...x.shape], "float32");
  const n = tf.util.sizeFromShape(x.shape);
  const whole = n - (n % 4);
  simdKernels(wasm).relu_grad(ptr(wasm, dy), ptr(wasm, x), ptr(wasm, dx), whole);
  if (whole < n) {
    const [dyv, xv, dxv] = [heap(wasm, dy), heap(wasm, x), heap(wasm, dx)];
    for (let i = whole; i < n; i++) dxv[i] = xv[i] > 0 ? dyv[i] : 0;
  }
  return dx;
}

/** Bias gradients reduce over every leading axis: a row sum, no transpose. */
function withRowSum(original: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { x } = inputs as { x: Info };
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = axes.every((ax, i) => ax === i);
    if (x.dtype !== "float32" || !leading || axes.length === 0) {
      return original({ inputs, backend, attrs });
    }
    const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
    const rest = x.shape.slice(axes.length);
    const shape = keepDims ? [...axes.map(() => 1), ...rest] : rest;
    const out = wasm.makeOutput(shape, "float32");
    const cols = tf.util.sizeFromShape(rest);
    if (cols % 4 === 0) {
      const scratch = wasm.makeOutput([cols], "float32");
      heap(wasm, out).fill(0);
      simdKernels(wasm).sum_rows(ptr(wasm, x), ptr(wasm, out), ptr(wasm, scratch), rows, cols);
      wasm.disposeData(scratch.dataId);
    } else {
      sumRows(heap(wasm, x), rows, cols, heap(wasm, out));
    }
    return out;
  };
}

/**
 * Add of a bias vector to every row (the layers' bias add): one SIMD pass.
 * The stock kernel computes a broadcast index per element, at 1.5x the
 * cost of a same-shape Add. Other shapes go to `original`.
 */
function withBiasAdd(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const wasm = args.backend as BackendWasm;
    const { a, b } = args.inputs as { a: Info; b: Info };
    const [x, bias] = b.shape.length > a.shape.length ? [b, a] : [a, b];
    const cols = tf.util.sizeFromShape(bias.shape);
    const trailing = x.shape.slice(x.shape.length - bias.shape.length);
    const isBias = x.dtype === "float32" && bias.dtype === "float32" && cols % 4 === 0 &&
      cols > 0 && bias.shape.length < x.shape.length &&
      tf.util.arraysEqual(trailing, bias.shape);
    if (!isBias) return original(args);
    const out = wasm.makeOutput([...x.shape], "float32");
    const rows = tf.util.sizeFromShape(x.shape) / cols;
    simdKernels(wasm).add_rows(ptr(wasm, x), ptr(wasm, bias), ptr(wasm, out), rows, cols);
    return out;
  };
}

function poolInfo(x: Info, a: tf.MaxPoolAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    x.shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
}

/** A 2x2 pool with stride 2 and no padding over whole groups of 4 float channels. */
function isTiled2x2(info: tf.backend_util.Conv2DInfo): boolean {
  return info.effectiveFilterHeight === 2 && info.effectiveFilterWidth === 2 &&
    info.strideHeight === 2 && info.strideWidth === 2 && info.padInfo.top === 0 &&
    info.padInfo.left === 0 && info.outHeight * 2 <= info.inHeight &&
    info.outWidth * 2 <= info.inWidth && info.inChannels % 4 === 0;
}

function tiledArgs(info: tf.backend_util.Conv2DInfo): number[] {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  return [batchSize, inHeight, inWidth, inChannels, outHeight, outWidth];
}

/** MaxPool with the model's 2x2 windows in one SIMD pass; other pools go to `original`. */
function withTiledMaxPool(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const wasm = args.backend as BackendWasm;
    const { x } = args.inputs as { x: Info };
    const a = args.attrs as unknown as tf.MaxPoolAttrs;
    const info = poolInfo(x, a);
    if (x.dtype !== "float32" || !isTiled2x2(info)) return original(args);
    const y = wasm.makeOutput([...info.outShape], "float32");
    simdKernels(wasm).max_pool_2x2(ptr(wasm, x), ptr(wasm, y), 0, ...tiledArgs(info));
    return y;
  };
}

function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): Info {
  const wasm = backend as BackendWasm;
  const { dy, input } = inputs as { dy: Info; input: Info };
  const a = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = poolInfo(input, a);
  const dx = wasm.makeOutput([...input.shape], input.dtype);
  if (isTiled2x2(info)) {
    if (info.outHeight * 2 < info.inHeight || info.outWidth * 2 < info.inWidth) {
      heap(wasm, dx).fill(0);
    }
    simdKernels(wasm).max_pool_grad_2x2(
      ptr(wasm, input),
      ptr(wasm, dy),
      ptr(wasm, dx),
      ...tiledArgs(info),
    );
    return dx;
  }
  if (info.inChannels % 4 === 0) {
    heap(wasm, dx).fill(0);
    simdKernels(wasm).max_pool_grad(
      ptr(wasm, input),
      ptr(wasm, dy),
      ptr(wasm, dx),
      info.batchSize,
      info.inHeight,
      info.inWidth,
      info.inChannels,
      info.outHeight,
      info.outWidth,
      info.effectiveFilterHeight,
      info.effectiveFilterWidth,
      info.strideHeight,
      info.strideWidth,
      info.padInfo.top,
      info.padInfo.left,
    );
    return dx;
  }
  maxPoolGradNhwc(heap(wasm, input), heap(wasm, dy), {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    channels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.effectiveFilterHeight,
    filterWidth: info.effectiveFilterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  }, heap(wasm, dx));
  return dx;
}

/**
 * Identity that shares the input's memory (reference counted) instead of
 * copying it. The engine clones every tensor a gradient will need, and the
 * stock wasm Identity copies each one: 2 ms per activation of this model.
 * No wasm kernel writes into its inputs, so sharing is safe, as it is on
 * the cpu and webgl backends.
 */
function sharedIdentity({ inputs, backend }: KernelArgs): Info {
  const { x } = inputs as { x: Info };
  (backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

let registered = false;

/** Swaps a wasm kernel for `make(original)`; the original may be absent. */
function replaceKernel(name: string, make: (original?: tf.KernelFunc) => tf.KernelFunc): void {
  const original = tf.getKernel(name, "wasm");
  if (original) tf.unregisterKernel(name, "wasm");
  // No setupFunc: the original's already ran when the backend started.
  tf.registerKernel({
    kernelName: name,
    backendName: "wasm",
    kernelFunc: make(original?.kernelFunc),
  });
}

/**
 * Registers the kernels training needs on the wasm backend: the missing
 * Conv2DBackpropFilter; SIMD Conv2D, MaxPoolGrad, relu gradient, bias Add
 * and bias-gradient Sum; BatchMatMul through our own gemm; the fused Adam
 * step; and a copy-free Identity. Idempotent.
 *
 * @example
 * ```ts
 * await useBackend("wasm");
 * registerTrainingKernels();
 * ```
 */
export function registerTrainingKernels(): void {
  if (registered) return;
  if (!tf.getKernel("BatchMatMul", "wasm")) {
    throw new Error("Expected the wasm backend to be loaded before training");
  }
  replaceKernel("BatchMatMul", (original) => withSimdMatMul(withPlainMatMul(original!)));
  replaceKernel("MaxPoolGrad", () => maxPoolGrad);
  replaceKernel("MaxPool", (original) => withTiledMaxPool(original!));
  replaceKernel("Identity", () => sharedIdentity);
  replaceKernel("Sum", (original) => withRowSum(original!));
  replaceKernel("Conv2D", (original) => withIm2colConv(original!));
  replaceKernel("Conv2DBackpropFilter", () => conv2dBackpropFilter);
  replaceKernel(RELU_GRAD, () => reluGradKernel);
  replaceKernel("Add", (original) => withBiasAdd(original!));
  replaceKernel(ADAM_KERNEL, () => adamKernel as tf.KernelFunc);
  const reluGradient = tf.getGradient("Relu")!;
  // Step, Cast and Multiply over every activation cost 4x one fused pass;
  // other backends keep TF.js's own gradient.
  tf.registerGradient({
    ...reluGradient,
    gradFunc: (dy, saved, attrs) =>
      tf.getBackend() === "wasm" && !Array.isArray(dy) && dy.dtype === "float32"
        ? { x: () => tf.engine().runKernel(RELU_GRAD, { dy, x: saved[0] }) as tf.Tensor }
        : reluGradient.gradFunc(dy, saved, attrs),
  });
  registered = true;
}
