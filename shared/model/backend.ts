import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

/**
 * Selects TF.js's wasm backend and waits until it is ready. Call once per
 * entry point, before any tensor is made.
 *
 * @example
 * ```ts
 * await useBackend("wasm");
 * ```
 */
export async function useBackend(name: "wasm" | "cpu" = "wasm"): Promise<void> {
  // PROD skips debug checks and the "install tfjs-node" banner on the cpu backend.
  tf.env().set("PROD", true);
  if (!(await tf.setBackend(name))) {
    throw new Error(`Could not initialise the TF.js '${name}' backend`);
  }
  await tf.ready();
}
