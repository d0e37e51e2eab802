/** MaxPool on wasm for the model's 2x2 pools; see withTiledMaxPool(). */
import type * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { isTiled2x2, poolGeometry } from "./pool_geometry.ts";
import { type Info, ptr, simdKernels } from "./wasm_heap.ts";

/** MaxPool with the model's 2x2 windows in one SIMD pass; other pools go to `original`. */
export function withTiledMaxPool(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const wasm = args.backend as BackendWasm;
    const { x } = args.inputs as { x: Info };
    const g = poolGeometry(x, args.attrs as unknown as tf.MaxPoolAttrs);
    if (x.dtype !== "float32" || !isTiled2x2(g)) return original(args);
    const y = wasm.makeOutput([g.batch, g.outHeight, g.outWidth, g.channels], "float32");
    simdKernels(wasm).maxPool2x2({ x: ptr(wasm, x), y: ptr(wasm, y) }, g);
    return y;
  };
}
