/**
 * The helper thread of gemm_helper.ts: runs its share of each product on
 * the shared memory, woken and answered through the control block.
 */
import { CONTROL, type HelperStart } from "./gemm_helper_protocol.ts";
import { gemmJobFromArgs } from "./simd/gemm_simd.ts";
import { instantiateSimdKernels } from "./simd_kernels.ts";

/** The worker global scope, as far as this file uses it. */
const scope = self as unknown as {
  onmessage: (event: MessageEvent<HelperStart>) => void;
  postMessage(message: unknown): void;
  close(): void;
};

scope.onmessage = (event) => {
  const { memory } = event.data;
  const kernels = instantiateSimdKernels(memory);
  const control = new Int32Array(memory.buffer, 0, CONTROL.slots);
  scope.postMessage("ready");
  let seen = 0;
  for (;;) {
    Atomics.wait(control, CONTROL.job, seen);
    seen = Atomics.load(control, CONTROL.job);
    if (seen < 0) break;
    kernels.gemm(gemmJobFromArgs(control.subarray(CONTROL.args, CONTROL.args + 9)));
    Atomics.store(control, CONTROL.done, seen);
    Atomics.notify(control, CONTROL.done);
  }
  scope.close();
};
