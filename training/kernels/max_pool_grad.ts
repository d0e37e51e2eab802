/** MaxPoolGrad on wasm, which TF.js's wasm backend lacks; see maxPoolGrad(). */
import type * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { isTiled2x2, type PoolGeometry, poolGeometry } from "./pool_geometry.ts";
import { heap, type Info, type KernelArgs, ptr, simdKernels } from "./wasm_heap.ts";

/**
 * MaxPoolGrad (NHWC): the model's 2x2 pools in one unrolled SIMD pass,
 * other pools over channels in groups of 4 in a general SIMD loop, and the
 * rest in maxPoolGradNhwc(). All three send ties to the first position.
 */
export function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): Info {
  const wasm = backend as BackendWasm;
  const { dy, input } = inputs as { dy: Info; input: Info };
  const g = poolGeometry(input, attrs as unknown as tf.MaxPoolGradAttrs);
  const dx = wasm.makeOutput([...input.shape], input.dtype);
  const pointers = { x: ptr(wasm, input), dy: ptr(wasm, dy), dx: ptr(wasm, dx) };
  if (isTiled2x2(g)) {
    // The unrolled pass writes whole windows; rows and columns past them get nothing.
    if (g.outHeight * 2 < g.inHeight || g.outWidth * 2 < g.inWidth) heap(wasm, dx).fill(0);
    simdKernels(wasm).maxPoolGrad2x2(pointers, g);
  } else if (g.channels % 4 === 0) {
    heap(wasm, dx).fill(0);
    simdKernels(wasm).maxPoolGrad(pointers, g);
  } else {
    maxPoolGradNhwc(heap(wasm, input), heap(wasm, dy), g, heap(wasm, dx));
  }
  return dx;
}

/**
 * Routes each output gradient in `dy` back to the input position that won
 * its pooling window, accumulating into `dx` (which this function zeroes).
 *
 * Ties go to the first position in window order (row, then column), the
 * rule of the CPU backend, so both backends train identically. The channel
 * loop is innermost because NHWC keeps channels contiguous.
 */
export function maxPoolGradNhwc(
  x: Float32Array,
  dy: Float32Array,
  g: PoolGeometry,
  dx: Float32Array,
): void {
  const c = g.channels;
  dx.fill(0);
  const best = new Float32Array(c);
  const bestAt = new Int32Array(c);
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        best.fill(-Infinity);
        bestAt.fill(-1);
        for (let wr = 0; wr < g.filterHeight; wr++) {
          const ih = oh * g.strideHeight - g.padTop + wr;
          if (ih < 0 || ih >= g.inHeight) continue;
          for (let wc = 0; wc < g.filterWidth; wc++) {
            const iw = ow * g.strideWidth - g.padLeft + wc;
            if (iw < 0 || iw >= g.inWidth) continue;
            const base = ((b * g.inHeight + ih) * g.inWidth + iw) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[base + ch];
              if (v > best[ch]) {
                best[ch] = v;
                bestAt[ch] = base + ch;
              }
            }
          }
        }
        const dyBase = ((b * g.outHeight + oh) * g.outWidth + ow) * c;
        for (let ch = 0; ch < c; ch++) {
          if (bestAt[ch] >= 0) dx[bestAt[ch]] += dy[dyBase + ch];
        }
      }
    }
  }
}
