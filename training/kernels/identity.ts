/** A copy-free Identity on wasm; see sharedIdentity(). */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { Info, KernelArgs } from "./wasm_heap.ts";

/**
 * Identity that shares the input's memory (reference counted) instead of
 * copying it. The engine clones every tensor a gradient will need, and the
 * stock wasm Identity copies each one: 2 ms per activation of this model.
 * No wasm kernel writes into its inputs, so sharing is safe, as it is on
 * the cpu and webgl backends.
 */
export function sharedIdentity({ inputs, backend }: KernelArgs): Info {
  const { x } = inputs as { x: Info };
  (backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}
