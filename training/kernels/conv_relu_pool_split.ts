/**
 * The fused conv block's forward pass and filter gradient on two threads:
 * the helper thread (gemm_helper.ts) takes the last half of the images. Its
 * memory is not TF.js's heap, so its inputs are copied in and its results
 * out; per image that is the 784-float input and the pooled output (5,408
 * floats and as many bytes), about a tenth of the work's cost.
 */
import {
  awaitHelperJob,
  helperLayout,
  helperMemory,
  helperRunning,
  startHelperJob,
} from "./gemm_helper.ts";
import { JOB } from "./gemm_helper_protocol.ts";
import {
  type ConvPoolGeometry,
  type ConvPoolKernels,
  geometryArgs,
} from "./conv_relu_pool_wasm.ts";

/** Blocks smaller than this many multiply-adds stay on one thread. */
const MIN_SPLIT_MACS = 2_000_000;

let splits = 0;

/** Forward passes and filter gradients split across both threads so far, in this process. */
export function splitConvBlocks(): number {
  return splits;
}

/** Per-image sizes: input floats, pooled floats (and as many position bytes). */
function perImage(g: ConvPoolGeometry): { x: number; y: number } {
  return {
    x: g.inHeight * g.inWidth * g.inChannels,
    y: g.poolHeight * g.poolWidth * g.outChannels,
  };
}

/** This thread's images and the helper's, or undefined when the block stays on one thread. */
function shares(g: ConvPoolGeometry): { mine: number; theirs: number } | undefined {
  const macs = g.batch * perImage(g).y * 4 * g.filterHeight * g.filterWidth * g.inChannels;
  if (!helperRunning() || g.batch < 2 || macs < MIN_SPLIT_MACS) return undefined;
  const theirs = Math.floor(g.batch / 2);
  return { mine: g.batch - theirs, theirs };
}

/** Copies `bytes` bytes from `from` in memory `a` to `to` in memory `b`. */
function copy(a: WebAssembly.Memory, from: number, b: WebAssembly.Memory, to: number, n: number) {
  new Uint8Array(b.buffer, to, n).set(new Uint8Array(a.buffer, from, n));
}

/**
 * The forward pass on two threads when a helper runs and the block is
 * large enough; false, having done nothing, otherwise. Pointers are byte
 * offsets in `heap`.
 */
export function splitForward(
  heap: WebAssembly.Memory,
  kernels: ConvPoolKernels,
  g: ConvPoolGeometry,
  p: { x: number; w: number; bias: number; y: number; arg: number },
): boolean {
  const share = shares(g);
  if (!share) return false;
  const { mine, theirs } = share;
  const size = perImage(g);
  const weights = g.filterHeight * g.filterWidth * g.inChannels * g.outChannels * 4;
  const bytes = [
    theirs * size.x * 4,
    weights,
    g.outChannels * 4,
    theirs * size.y * 4,
    theirs * size.y,
  ];
  const [sx, sw, sb, sy, sa] = helperLayout(bytes);
  const shared = helperMemory(sa + bytes[4]);
  if (!shared) return false;
  copy(heap, p.x + mine * size.x * 4, shared, sx, bytes[0]);
  copy(heap, p.w, shared, sw, bytes[1]);
  copy(heap, p.bias, shared, sb, bytes[2]);
  const id = startHelperJob(JOB.convForward, [
    ...geometryArgs({ ...g, batch: theirs }),
    sx,
    sw,
    sb,
    sy,
    sa,
  ]);
  kernels.forward({ ...g, batch: mine }, p);
  awaitHelperJob(id);
  copy(shared, sy, heap, p.y + mine * size.y * 4, bytes[3]);
  copy(shared, sa, heap, p.arg + mine * size.y, bytes[4]);
  splits++;
  return true;
}

/**
 * The filter gradient on two threads when a helper runs and the block is
 * large enough (the helper's sum is added to this thread's); false, having
 * done nothing, otherwise.
 */
export function splitFilterGrad(
  heap: WebAssembly.Memory,
  kernels: ConvPoolKernels,
  g: ConvPoolGeometry,
  p: { x: number; dy: number; arg: number; dw: number },
): boolean {
  const share = shares(g);
  if (!share) return false;
  const { mine, theirs } = share;
  const size = perImage(g);
  const weights = g.filterHeight * g.filterWidth * g.inChannels * g.outChannels;
  const bytes = [theirs * size.x * 4, theirs * size.y * 4, theirs * size.y, weights * 4];
  const [sx, sdy, sa, sdw] = helperLayout(bytes);
  const shared = helperMemory(sdw + bytes[3]);
  if (!shared) return false;
  copy(heap, p.x + mine * size.x * 4, shared, sx, bytes[0]);
  copy(heap, p.dy + mine * size.y * 4, shared, sdy, bytes[1]);
  copy(heap, p.arg + mine * size.y, shared, sa, bytes[2]);
  const id = startHelperJob(JOB.convFilterGrad, [
    ...geometryArgs({ ...g, batch: theirs }),
    sx,
    sdy,
    sa,
    sdw,
  ]);
  kernels.filterGrad({ ...g, batch: mine }, p);
  awaitHelperJob(id);
  const sum = new Float32Array(heap.buffer, p.dw, weights);
  const theirSum = new Float32Array(shared.buffer, sdw, weights);
  for (let i = 0; i < weights; i++) sum[i] += theirSum[i];
  splits++;
  return true;
}
