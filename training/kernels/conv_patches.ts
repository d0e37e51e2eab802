/**
 * The patch matrix of the last Conv2D, kept for its filter gradient: the
 * backward pass of a training step needs exactly the patches its forward
 * pass built. Tensor data never changes, so a dataId plus the geometry
 * identifies the patches. One entry: the next forward replaces it.
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { ConvGeometry } from "./im2col.ts";
import type { Info } from "./wasm_heap.ts";

let lastPatches: { x: object; key: string; cols: Info } | undefined;

function geometryKey(g: ConvGeometry): string {
  return Object.values(g).join(",");
}

/** Keeps `cols`, the patches of `x` for `g`, releasing the ones kept before. */
export function rememberPatches(wasm: BackendWasm, x: Info, g: ConvGeometry, cols: Info): void {
  if (lastPatches) wasm.disposeData(lastPatches.cols.dataId);
  wasm.incRef(cols.dataId);
  lastPatches = { x: x.dataId, key: geometryKey(g), cols };
}

/** The kept patches of `x` for `g`, if those are the ones kept; the cache still owns them. */
export function cachedPatches(x: Info, g: ConvGeometry): Info | undefined {
  const hit = lastPatches?.x === x.dataId && lastPatches.key === geometryKey(g);
  return hit ? lastPatches!.cols : undefined;
}
