import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { sumRows } from "./column_sum.ts";
import { type ConvGeometry, im2col } from "./im2col.ts";
import { maxPoolGradNhwc } from "./max_pool_grad_math.ts";
import { instantiateSimdKernels, type SimdKernels } from "./simd_kernels.ts";

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Info = tf.TensorInfo;
type Shape4 = [number, number, number, number];

function heap(backend: BackendWasm, info: Info): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Byte offset of a tensor's data in the wasm heap. */
function ptr(backend: BackendWasm, info: Info): number {
  return backend.dataIdMap.get(info.dataId)!.memoryOffset;
}

let simd: SimdKernels | undefined;

/** Our SIMD kernels, bound to the wasm backend's own memory. */
function simdKernels(backend: BackendWasm): SimdKernels {
  const memory = (backend.wasm as unknown as { asm?: { memory?: WebAssembly.Memory } }).asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) {
    throw new Error("Expected the TF.js wasm module to export its memory");
  }
  simd ??= instantiateSimdKernels(memory);
  return simd;
}

function callKernel(
  name: string,
  backend: BackendWasm,
  inputs: Record<string, Info>,
  attrs: Record<string, unknown>,
): Info {
  const kernel = tf.getKernel(name, "wasm");
  if (!kernel) {
    throw new Error(`Expected the wasm backend to have kernel '${name}'`);
  }
  return kernel.kernelFunc({
    inputs,
    backend,
    attrs: attrs as tf.NamedAttrMap,
  }) as Info;
}

function requireNhwc(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== "NHWC") {
    throw new TypeError(
      `${kernel} on wasm expects dataFormat NHWC, got ${String(dataFormat)}`,
    );
  }
}

/**
 * Conv2DBackpropFilter as one im2col matMul, dW^T = dy^T · cols. XNNPACK
 * repacks the right operand on every call, and packing costs more than the
 * product here, so the right operand is the [positions, fh*fw*inC] patch
 * matrix, the smaller of the two.
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
    // SIMD path: patches, then Aᵀ·B accumulated straight into the result.
    const kernels = simdKernels(wasm);
    const cached = cachedPatches(x, g);
    const cols = cached ?? wasm.makeOutput([positions, patch], "float32");
    const out = wasm.makeOutput([...a.filterShape], "float32");
    heap(wasm, out).fill(0);
    if (!cached) kernels.im2col(ptr(wasm, x), ptr(wasm, cols), ...geometryArgs(g));
    kernels.gemm_at_b(
      ptr(wasm, cols),
      ptr(wasm, dy),
      ptr(wasm, out),
      positions,
      patch,
      info.outChannels,
    );
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
 * Conv2D (NHWC) as im2col plus one XNNPACK product with the filter as the
 * packed operand, which is tiny: about twice as fast as the stock kernel on
 * this model's single-channel input, where XNNPACK's convolution is weak.
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

function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): Info {
  const wasm = backend as BackendWasm;
  const { dy, input } = inputs as { dy: Info; input: Info };
  const a = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const dx = wasm.makeOutput([...input.shape], input.dtype);
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

function swapLastTwo(wasm: BackendWasm, t: Info): Info {
  const perm = t.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return callKernel("Transpose", wasm, { x: t }, { perm });
}

function product(
  wasm: BackendWasm,
  plain: tf.KernelFunc,
  a: Info,
  b: Info,
): Info {
  return plain({
    inputs: { a, b },
    backend: wasm,
    attrs: { transposeA: false, transposeB: false },
  }) as Info;
}

/**
 * The wasm BatchMatMul leaves XNNPACK for a scalar loop whenever an operand
 * is transposed, and XNNPACK repacks its right operand on every call. So a
 * transposed product becomes explicit transposes plus a plain product,
 * oriented so the operand that gets packed is the small one:
 * a·bᵀ is either a·(bᵀ) or (b·aᵀ)ᵀ; aᵀ·b is either (aᵀ)·b or (bᵀ·a)ᵀ.
 */
function withPlainMatMul(plain: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { a, b } = inputs as { a: Info; b: Info };
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    const batched = a.shape.length > 2 && tf.util.sizeFromShape(a.shape.slice(0, -2)) > 1;
    if ((!transposeA && !transposeB) || batched) {
      return plain({ inputs, backend, attrs });
    }
    const temps: Info[] = [];
    const t = (x: Info) => {
      const y = swapLastTwo(wasm, x);
      temps.push(y);
      return y;
    };
    const [m, k] = transposeA
      ? [a.shape.at(-1)!, a.shape.at(-2)!]
      : [a.shape.at(-2)!, a.shape.at(-1)!];
    const n = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
    // Costs in element moves; packing runs about 5x slower than a transpose.
    const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + 5 * k * n;
    const flipped = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + 5 * k * m + m * n;
    let out: Info;
    if (direct <= flipped) {
      out = product(wasm, plain, transposeA ? t(a) : a, transposeB ? t(b) : b);
    } else {
      const left = transposeB ? b : t(b);
      const right = transposeA ? a : t(a);
      const outT = product(wasm, plain, left, right);
      temps.push(outT);
      out = swapLastTwo(wasm, outT);
    }
    for (const x of temps) wasm.disposeData(x.dataId);
    return out;
  };
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

/**
 * Registers the kernels training needs on the wasm backend: the missing
 * Conv2DBackpropFilter, a faster MaxPoolGrad, a BatchMatMul that keeps
 * transposed products on the fast path, a row Sum for bias gradients and a
 * copy-free Identity. Idempotent.
 *
 * @example
 * ```ts
 * await useWasmBackend();
 * registerTrainingKernels();
 * ```
 */
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

export function registerTrainingKernels(): void {
  if (registered) return;
  if (!tf.getKernel("BatchMatMul", "wasm")) {
    throw new Error("Expected the wasm backend to be loaded before training");
  }
  replaceKernel("BatchMatMul", (original) => withPlainMatMul(original!));
  replaceKernel("MaxPoolGrad", () => maxPoolGrad);
  replaceKernel("Identity", () => sharedIdentity);
  replaceKernel("Sum", (original) => withRowSum(original!));
  replaceKernel("Conv2D", (original) => withIm2colConv(original!));
  replaceKernel("Conv2DBackpropFilter", () => conv2dBackpropFilter);
  replaceKernel(RELU_GRAD, () => reluGradKernel);
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
