/**
 * The control block at the start of the helper thread's shared memory, in
 * Int32 slots: `job` is bumped by the main thread to start a job (-1 stops
 * the helper), `done` is set to the same number when it is finished, `kind`
 * says which kernel runs, and `args` holds its arguments (byte offsets into
 * the shared memory). Then, at `callBlock`, the geometry and stack of the
 * compiled conv kernels (see conv_relu_pool_wasm.ts); data starts at
 * `dataOffset`.
 */
export const CONTROL = {
  job: 0,
  done: 1,
  kind: 2,
  args: 3,
  slots: 32,
  callBlock: 128,
  dataOffset: 128 + 65_600,
} as const;

/** The kernels the helper runs. */
export const JOB = { gemm: 0, convForward: 1, convFilterGrad: 2 } as const;

/** The message that starts the helper thread. */
export interface HelperStart {
  memory: WebAssembly.Memory;
}
