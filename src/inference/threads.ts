/**
 * What the fused engine's two threads share: the description of a built model (FusedBuild: module bytes, memory
 * layout, per-stage plans), the control block of the 2-thread engine (named slots of an Int32Array on a
 * SharedArrayBuffer) and the code both threads run on it. The main thread is engine.ts' FusedEngine; the worker is
 * worker.ts, a worker_threads module started by FusedEngine (run by tsx).
 *
 * One image on 2 threads, self-scheduled (`runImage`, the same code on both; `me` = 0 main, 1 worker): each large
 * stage is split into 2 shares by output channels (`splitPlans`); stage j may start once every share of stage j − 1
 * is done; each thread then claims shares of stage j, its own first, the other's if still unclaimed (compare-exchange
 * of a per-share claim tag with the image's sequence number), runs them and counts them done. So a thread that is
 * not scheduled (a loaded machine) never holds the other up: its shares are taken over.
 *
 * A batch on 2 threads: whole images; the worker runs a second copy of the model in its own memory and both threads
 * claim images from a shared counter (no per-stage synchronisation).
 *
 * Starting the worker (`startWorker`) and probing whether this runtime can (`threadsAvailable`) are here too.
 */
import * as path from 'path';
import { WA } from '../wasm/asm';

/** A generated wasm function: GEMM (pixels p0..p1, kernel rows o0..o1) or post-op (output pixels, channels). */
export type Run = (a: number, b: number, c: number, d: number) => void;

/** Per-stage plan: what to call with which ranges. */
export interface EnginePlan {
  /** Index of the stage in the spec. */
  stage: number;
  gemm: string;
  post: string;
  /** GEMM pixel range [0, npixP) in steps of P; row range [0, noutp) in steps of R. */
  npixP: number;
  P: number;
  noutp: number;
  R: number;
  /** post range [0, nq). */
  nq: number;
  /** Cost of the GEMM in bit multiply-accumulates (a float one counted as 64): small stages are not split between threads. */
  macs: number;
}

/** A model built for the fused engine (layout.ts' buildFused). */
export interface FusedBuild {
  bytes: Uint8Array;
  pages: number;
  /** Initial memory contents: [byte offset, data] (everything else zero). */
  init: [number, Uint8Array][];
  plans: EnginePlan[];
  /** Real input: padded float image. */
  input: { off: number; H: number; W: number; C: number; Wp: number; padTop: number; padLeft: number };
  /** Last stage's int32 y [outH·outW][noutp]. */
  final: { off: number; npix: number; noutp: number; outC: number };
  /** Every stage's memory layout (for engines that run this memory with their own code: native.ts). */
  layout: StageLayout[];
}

/**
 * One stage of a FusedBuild's memory, every offset in bytes from the memory's start (layout.ts' module comment
 * describes the tables):
 *   GEMM: conv pixels [0, npix) (npixP with padding entries), each patch `segs` segments of `segBytes` bytes,
 *   `segStride` apart, starting at int32 `tab`[p]; weights at `wOff`, `KB` bytes per output channel (binary: rows
 *   [noutp][KB/4] uint32 in patch order; real: float32 [kh·kw·inC][noutp], KB = noutp·4); scratch at `outOff`
 *   ([npixP][noutp] int32).
 *   Post: output pixels [0, nq), pool window top-left int32 `srcTab`[q] (conv pixel), window offsets `window`,
 *   K destinations int32 `dstTab`[q·K + k] (byte address of the pixel's bits in a consumer's padded image, or of
 *   its int32 row in the final buffer); `afterSign`: pool after BN + sign (OR of bits) rather than before;
 *   binary: int32 `patTab`[p] = address of conv pixel p's padding-correction row A (int32 [noutp]);
 *   threshold: sgn and T at `sgnOff`, `tOff` (int32 for binary stages: bit = sgn·y ≥ T; float32 for the real one:
 *   bit = sgn·y ≥ T in float32), −1 for the final stage.
 */
export interface StageLayout {
  real: boolean;
  npix: number;
  npixP: number;
  noutp: number;
  outC: number;
  tab: number;
  segs: number;
  segStride: number;
  segBytes: number;
  wOff: number;
  KB: number;
  outOff: number;
  nq: number;
  srcTab: number;
  dstTab: number;
  K: number;
  window: number[];
  afterSign: boolean;
  patTab: number;
  sgnOff: number;
  tOff: number;
  final: boolean;
}

/** One thread's share of a stage: GEMM (pixels, kernel rows) and post-op (output pixels, channels); null = none. */
export type Share =
  [gemm: string, p0: number, p1: number, o0: number, o1: number, post: string, q0: number, q1: number] | null;

/**
 * The control block's slots (indices into an Int32Array on a SharedArrayBuffer; main thread M, worker W):
 *   seq         sequence number of the current request; M increments it and notifies, W waits for a change;
 *               M sets it < 0 to stop W.
 *   ready       W sets 1 once its instances run.
 *   batchMode   1: the request is a batch (whole images per thread); 0: one image, stages split (runImage).
 *   batchCount  images in the current batch hand-over (in the shared input buffer).
 *   batchNext   next image of the hand-over to claim (Atomics.add by either thread).
 *   batchDone   images of the hand-over finished.
 *   claims      first of 2 claim tags per stage: slot claims + 2j + s = last sequence number that claimed share s
 *               of stage j. Slot 16: a 64-byte cache line after the request slots, so that the threads' traffic on
 *               the per-stage slots does not share a line with `seq` (on which the idle worker spins).
 * After the claim tags, one counter per stage (`doneSlot`): 8·seq + shares of stage j done for request seq.
 */
export const Slot = {
  seq: 0,
  ready: 1,
  batchMode: 2,
  batchCount: 3,
  batchNext: 4,
  batchDone: 5,
  claims: 16,
} as const;

/** Length of the control block for `stages` stages. */
export const ctrlLength = (stages: number): number => Slot.claims + 3 * stages;
/** The slot counting the finished shares of stage j (of `stages`). */
export const doneSlot = (stages: number, j: number): number => Slot.claims + 2 * stages + j;

/** Spin iterations (Atomics.load) before a thread sleeps in Atomics.wait while it waits at a barrier. */
export const SPIN = 200000;

/** Images per hand-over in FusedEngine.forwardBatch. */
export const BATCH_CHUNK = 32;

/** Stages with fewer multiply-accumulates than this run on the main thread only (a barrier costs more). */
const SPLIT_MIN_MACS = 4e6;

/**
 * Waits until ctrl[slot] ≥ target: spins SPIN times, then sleeps in Atomics.wait (50 ms slices). With `timeoutMs`,
 * throws `what` once that much time has passed.
 */
export function waitAtLeast(
  ctrl: Int32Array,
  slot: number,
  target: number,
  timeoutMs = 0,
  what = 'the other thread stopped responding',
): void {
  const t0 = timeoutMs > 0 ? Date.now() : 0;
  for (let n = 0; ; n++) {
    const v = Atomics.load(ctrl, slot);
    if (v >= target) return;
    if (n > SPIN) {
      Atomics.wait(ctrl, slot, v, 50);
      if (timeoutMs > 0 && Date.now() - t0 > timeoutMs) throw new Error(what);
    }
  }
}

/**
 * Splits each stage into 2 shares by output channels (multiples of 16): a share is the GEMM rows and post-op channels
 * of its half for every pixel, so the only dependency is between stages (see the module comment). Small stages are
 * one share.
 */
export function splitPlans(plans: EnginePlan[]): [Share, Share][] {
  return plans.map((pl): [Share, Share] => {
    const whole: Share = [pl.gemm, 0, pl.npixP, 0, pl.noutp, pl.post, 0, pl.nq];
    if (pl.noutp < 32 || pl.macs < SPLIT_MIN_MACS) return [whole, null];
    const half = Math.floor(pl.noutp / 32) * 16;
    return [
      [pl.gemm, 0, pl.npixP, 0, half, pl.post, 0, pl.nq],
      [pl.gemm, 0, pl.npixP, half, pl.noutp, pl.post, 0, pl.nq],
    ];
  });
}

/** Finished shares of a stage for request `seq`: 8·seq + its number of shares. */
const stageDone = (seq: number, sh: [Share, Share]) => seq * 8 + (sh[1] ? 2 : 1);

/** The count `doneSlot(n, n − 1)` reaches when the last stage of request `seq` is done. */
export const lastStageDone = (shares: [Share, Share][], seq: number): number =>
  stageDone(seq, shares[shares.length - 1]);

/**
 * One image on 2 threads (module comment), run by both with `me` = 0 (main) or 1 (worker). The main thread has set
 * every done counter to 8·seq before publishing `seq`. `lap(j)`, when given, is called after each stage.
 */
export function runImage(
  ctrl: Int32Array,
  fns: Record<string, Run>,
  shares: [Share, Share][],
  seq: number,
  me: 0 | 1,
  lap: ((j: number) => void) | null,
): void {
  const n = shares.length;
  for (let j = 0; j < n; j++) {
    if (j > 0) waitAtLeast(ctrl, doneSlot(n, j - 1), stageDone(seq, shares[j - 1]));
    for (let k = 0; k < 2; k++) {
      const s = k === 0 ? me : 1 - me;
      const sh = shares[j][s];
      if (!sh) continue;
      const idx = Slot.claims + 2 * j + s;
      const v = Atomics.load(ctrl, idx);
      if (v >= seq || Atomics.compareExchange(ctrl, idx, v, seq) !== v) continue;
      fns[sh[0]](sh[1], sh[2], sh[3], sh[4]);
      fns[sh[5]](sh[6], sh[7], sh[3], sh[4]);
      const done = doneSlot(n, j);
      Atomics.add(ctrl, done, 1);
      Atomics.notify(ctrl, done);
    }
    if (lap) lap(j);
  }
}

/** Copies one NHWC image into the model's padded input image in `buffer` (the instance's memory). */
export function writeInput(buffer: ArrayBufferLike, input: FusedBuild['input'], image: Float32Array): void {
  const { off, H, W, C, Wp, padTop, padLeft } = input;
  const f = new Float32Array(buffer);
  for (let y = 0; y < H; y++)
    f.set(image.subarray(y * W * C, (y + 1) * W * C), (off >> 2) + ((y + padTop) * Wp + padLeft) * C);
}

/** Copies the last stage's integer outputs [npix][outC] (without the channel padding) from `buffer` into `out` at `at`. */
export function readFinal(buffer: ArrayBufferLike, final: FusedBuild['final'], out: Int32Array, at = 0): void {
  const { off, npix, noutp, outC } = final;
  const y = new Int32Array(buffer, off, npix * noutp);
  for (let p = 0; p < npix; p++) out.set(y.subarray(p * noutp, p * noutp + outC), at + p * outC);
}

/** What FusedEngine hands its worker (worker.ts). */
export interface WorkerData {
  /** The compiled module (shared memory import). */
  mod: object;
  /** The main thread's (shared) memory: one-image requests run on it. */
  memory: object;
  ctrlBuf: SharedArrayBuffer;
  shares: [Share, Share][];
  build: Omit<FusedBuild, 'bytes'>;
  /** Batch hand-overs: BATCH_CHUNK input images, their last-stage outputs. */
  inBuf: SharedArrayBuffer;
  outBuf: SharedArrayBuffer;
}

// ------------------------------------------------------------------ the worker thread

/** The part of a worker_threads Worker the engine uses. */
export interface WorkerLike {
  unref(): void;
  terminate(): Promise<number>;
  on(ev: string, f: (...a: unknown[]) => void): void;
}

/** Whether this runtime can run the engine on 2 threads (worker_threads, SharedArrayBuffer, shared wasm memory). */
export function threadsAvailable(): boolean {
  try {
    if (typeof SharedArrayBuffer === 'undefined' || !WA?.Memory) return false;
    new WA.Memory({ initial: 1, maximum: 1, shared: true });
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a probe: does this runtime have worker threads?
    require('worker_threads');
    return true;
  } catch {
    return false;
  }
}

/** The worker's module (worker.ts), started with tsx's CommonJS hook so that it runs as TypeScript. */
export function startWorker(data: WorkerData): WorkerLike {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when the threaded engine starts
  const { Worker } = require('worker_threads') as { Worker: new (file: string, o: object) => WorkerLike };
  const file = require.resolve(path.join(__dirname, 'worker'));
  const execArgv = /\.[cm]?ts$/.test(file) ? ['--require', require.resolve('tsx/cjs')] : [];
  return new Worker(file, { workerData: data, execArgv });
}
