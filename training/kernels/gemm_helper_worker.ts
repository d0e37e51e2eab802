/**
 * The helper thread of gemm_helper.ts: runs its share of each product or
 * convolution on the shared memory, woken and answered through the control
 * block.
 */
import { CONTROL, type HelperStart, JOB } from "./gemm_helper_protocol.ts";
import { gemmJobFromArgs } from "./simd/gemm_simd.ts";
import { instantiateSimdKernels } from "./simd_kernels.ts";
import { bindConvPoolKernels, geometryFromArgs } from "./conv_relu_pool_wasm.ts";

/** The worker global scope, as far as this file uses it. */
const scope = self as unknown as {
  onmessage: (event: MessageEvent<HelperStart>) => void;
  postMessage(message: unknown): void;
  close(): void;
};

scope.onmessage = (event) => {
  const { memory } = event.data;
  const kernels = instantiateSimdKernels(memory);
  const conv = bindConvPoolKernels(memory, CONTROL.callBlock);
  const control = new Int32Array(memory.buffer, 0, CONTROL.slots);
  scope.postMessage("ready");
  let seen = 0;
  for (;;) {
    Atomics.wait(control, CONTROL.job, seen);
    seen = Atomics.load(control, CONTROL.job);
    if (seen < 0) break;
    const args = control.slice(CONTROL.args, CONTROL.slots);
    const kind = control[CONTROL.kind];
    // Conv jobs: 9 geometry fields, then the pointers in the kernel's order.
    const [p0, p1, p2, p3, p4] = args.slice(9);
    if (kind === JOB.gemm) kernels.gemm(gemmJobFromArgs(args));
    else if (kind === JOB.convForward) {
      conv.forward(geometryFromArgs(args), { x: p0, w: p1, bias: p2, y: p3, arg: p4 });
    } else if (kind === JOB.convFilterGrad) {
      conv.filterGrad(geometryFromArgs(args), { x: p0, dy: p1, arg: p2, dw: p3 });
    } else {
      throw new Error(`Expected a helper job kind of 0, 1 or 2, got ${kind}`);
    }
    Atomics.store(control, CONTROL.done, seen);
    Atomics.notify(control, CONTROL.done);
  }
  scope.close();
};
