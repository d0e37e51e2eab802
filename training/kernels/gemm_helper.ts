/**
 * A second thread for the large matrix products of training. TF.js's wasm
 * build here is single-threaded (its pthread build cannot start under Deno),
 * and its heap is not shared memory, so the helper gets copies: the rows of
 * A it multiplies and all of B go into a shared memory, its rows of C come
 * back. On this model's Dense products the copies cost a tenth of the half
 * product they save.
 */
import { CONTROL, type HelperStart, JOB } from "./gemm_helper_protocol.ts";
import { gemmArgs, type GemmJob } from "./simd/gemm_simd.ts";

/** Products smaller than this many multiply-adds stay on one thread. */
const MIN_SPLIT_MACS = 4_000_000;
/**
 * A split pays when the helper's half saves more time than the copies
 * cost: a float copied costs about as much as 16 multiply-adds here (the
 * Dense products copy 1 float per 80 to 100; a 3x3 convolution's, 1 per 7).
 */
const MACS_PER_COPIED_FLOAT = 16;
/** Pages (64 KiB) the shared memory may grow to: 1 GiB. */
const MAX_PAGES = 16_384;
/** How long a product may take on the helper before we call it lost. */
const TIMEOUT_MS = 30_000;

interface Helper {
  worker: Worker;
  memory: WebAssembly.Memory;
  control: Int32Array;
  job: number;
}

let helper: Helper | undefined;
let splits = 0;

/** Whether the helper thread runs. */
export function helperRunning(): boolean {
  return helper !== undefined;
}

/** Products split across both threads so far, in this process. */
export function splitProducts(): number {
  return splits;
}

/**
 * Starts the helper thread, when the machine has a second core. Resolves to
 * whether products will be split. Pair it with {@linkcode stopGemmHelper}:
 * a live worker keeps the process from exiting.
 */
export async function startGemmHelper(): Promise<boolean> {
  if (helper) return true;
  if ((navigator.hardwareConcurrency ?? 1) < 2) return false;
  const initial = Math.ceil(CONTROL.dataOffset / 65536);
  const memory = new WebAssembly.Memory({ initial, maximum: MAX_PAGES, shared: true });
  const worker = new Worker(new URL("./gemm_helper_worker.ts", import.meta.url), {
    type: "module",
  });
  const ready = new Promise<void>((resolve, reject) => {
    worker.onmessage = () => resolve();
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`The gemm helper thread failed to start: ${event.message}`));
    };
  });
  worker.postMessage({ memory } satisfies HelperStart);
  try {
    await ready;
  } catch (error) {
    worker.terminate();
    throw error;
  }
  helper = { worker, memory, control: new Int32Array(memory.buffer, 0, CONTROL.slots), job: 0 };
  return true;
}

/**
 * The threads training will use for its large products: 2 when `wanted` is
 * 2 and the helper starts, else 1, with a warning on stderr when it failed.
 */
export async function startHelperThreads(wanted: number): Promise<1 | 2> {
  if (wanted < 2) return 1;
  try {
    return await startGemmHelper() ? 2 : 1;
  } catch (error) {
    console.error(`warning: ${(error as Error).message}; training on one thread`);
    return 1;
  }
}

/** Stops the helper thread, if one runs. Idempotent. */
export function stopGemmHelper(): void {
  if (!helper) return;
  Atomics.store(helper.control, CONTROL.job, -1);
  Atomics.notify(helper.control, CONTROL.job);
  helper.worker.terminate();
  helper = undefined;
}

/**
 * C = A·B on two threads when a helper runs and the product is large: the
 * helper takes the lower rows of C, this thread the upper ones. Returns
 * false, having done nothing, otherwise.
 */
export function splitGemm(
  heap: WebAssembly.Memory,
  job: GemmJob,
  gemm: (job: GemmJob) => void,
): boolean {
  const { m, n, k, rowStride, kStride } = job;
  // The helper writes fresh rows into its own memory: it cannot accumulate.
  if (!helper || job.accumulate || m < 8 || m * n * k < MIN_SPLIT_MACS) return false;
  const top = Math.floor(m / 8) * 4; // this thread's rows: half, whole tiles
  const rows = m - top;
  // Elements of A the helper reads: from its first row's first element to
  // its last row's last element, whatever the strides.
  const aFrom = top * rowStride;
  const aTo = (m - 1) * rowStride + (k - 1) * kStride + 1;
  const aLength = k === 0 ? 0 : aTo - aFrom;
  if ((aLength + k * n + rows * n) * MACS_PER_COPIED_FLOAT > m * n * k) return false;
  const [sa, sb, sc] = helperLayout([aLength * 4, k * n * 4, rows * n * 4]);
  const memory = helperMemory(sc + rows * n * 4);
  if (!memory) return false;
  const shared = new Float32Array(memory.buffer);
  const source = new Float32Array(heap.buffer);
  shared.set(source.subarray(job.a / 4 + aFrom, job.a / 4 + aFrom + aLength), sa / 4);
  shared.set(source.subarray(job.b / 4, job.b / 4 + k * n), sb / 4);

  const id = startHelperJob(JOB.gemm, gemmArgs({ ...job, a: sa, b: sb, c: sc, m: rows }));
  gemm({ ...job, m: top });
  awaitHelperJob(id);
  new Float32Array(heap.buffer).set(
    new Float32Array(memory.buffer, sc, rows * n),
    job.c / 4 + top * n,
  );
  splits++;
  return true;
}

/** Starts a job of `kind` with `args` on the helper thread, which must run; returns its id. */
export function startHelperJob(kind: number, args: number[]): number {
  const { control } = helper!;
  const id = ++helper!.job;
  control[CONTROL.kind] = kind;
  control.set(args, CONTROL.args);
  Atomics.store(control, CONTROL.job, id);
  Atomics.notify(control, CONTROL.job);
  return id;
}

/** Waits for the helper to finish job `id`; stops it and throws after TIMEOUT_MS. */
export function awaitHelperJob(id: number): void {
  const { control } = helper!;
  const deadline = performance.now() + TIMEOUT_MS;
  while (Atomics.load(control, CONTROL.done) !== id) {
    if (performance.now() > deadline) {
      stopGemmHelper();
      throw new Error(`The gemm helper thread did not finish a job in ${TIMEOUT_MS} ms`);
    }
    Atomics.wait(control, CONTROL.done, Atomics.load(control, CONTROL.done), 100);
  }
}

/**
 * Byte offsets of consecutive regions of `sizes` bytes in the helper's
 * memory, after its control block, each 16-byte aligned.
 */
export function helperLayout(sizes: number[]): number[] {
  let offset: number = CONTROL.dataOffset;
  return sizes.map((size) => {
    const at = offset;
    offset += Math.ceil(size / 16) * 16;
    return at;
  });
}

/**
 * The helper's shared memory grown to at least `bytes`; undefined when no
 * helper runs or that is past its limit.
 */
export function helperMemory(bytes: number): WebAssembly.Memory | undefined {
  if (!helper) return undefined;
  const pages = Math.ceil(bytes / 65536);
  const have = helper.memory.buffer.byteLength / 65536;
  if (pages > MAX_PAGES) return undefined;
  if (pages > have) helper.memory.grow(pages - have);
  return helper.memory;
}
