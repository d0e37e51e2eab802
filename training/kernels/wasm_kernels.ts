import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { sumRows } from "./column_sum.ts";
import { type ConvGeometry, im2col } from "./im2col.ts";
import { maxPoolGradNhwc } from "./max_pool_grad_math.ts";

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Info = tf.TensorInfo;
type Shape4 = [number, number, number, number];

function heap(backend: BackendWasm, info: Info): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
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
  const g: ConvGeometry = {
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
  const patch = g.filterHeight * g.filterWidth * g.inChannels;
  const positions = g.batch * g.outHeight * g.outWidth;
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
    sumRows(heap(wasm, x), rows, cols, heap(wasm, out));
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
export function registerTrainingKernels(): void {
  if (registered) return;
  const matMul = tf.getKernel("BatchMatMul", "wasm");
  if (!matMul) {
    throw new Error("Expected the wasm backend to be loaded before training");
  }
  tf.unregisterKernel("BatchMatMul", "wasm");
  // No setupFunc: the original's already ran when the backend started.
  tf.registerKernel({
    kernelName: "BatchMatMul",
    backendName: "wasm",
    kernelFunc: withPlainMatMul(matMul.kernelFunc),
  });
  tf.unregisterKernel("MaxPoolGrad", "wasm");
  tf.registerKernel({
    kernelName: "MaxPoolGrad",
    backendName: "wasm",
    kernelFunc: maxPoolGrad,
  });
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({ kernelName: "Identity", backendName: "wasm", kernelFunc: sharedIdentity });
  const sum = tf.getKernel("Sum", "wasm")!;
  tf.unregisterKernel("Sum", "wasm");
  tf.registerKernel({
    kernelName: "Sum",
    backendName: "wasm",
    kernelFunc: withRowSum(sum.kernelFunc),
  });
  if (tf.getKernel("Conv2DBackpropFilter", "wasm")) {
    tf.unregisterKernel("Conv2DBackpropFilter", "wasm");
  }
  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: conv2dBackpropFilter,
  });
  registered = true;
}
