/**
 * The control block at the start of the helper thread's shared memory, in
 * Int32 slots: `job` is bumped by the main thread to start a product (-1
 * stops the helper), `done` is set to the same number when it is finished,
 * and `args` holds gemm()'s nine arguments (byte offsets into the shared
 * memory). Data starts at `dataOffset`.
 */
export const CONTROL = { job: 0, done: 1, args: 2, slots: 16, dataOffset: 64 } as const;

/** The message that starts the helper thread. */
export interface HelperStart {
  memory: WebAssembly.Memory;
}
