/**
 * The fused packed-inference engine: one WebAssembly module generated per model, in which every stage runs
 * without JS glue. Its parts:
 *
 *   layout.ts    memory layout: each layer's input as a padded image read in place (no im2col), weights, patch
 *                address and destination tables, thresholds; `buildFused` lays out a model and generates its module
 *   codegen.ts   code generation: the GEMM of each layer for its exact shape (binary: xor + popcount on v128 and/or
 *                i64, 'mix' by default; the real first layer in float32) and the fused post-op (padding correction,
 *                pool, BN + sign as an integer threshold, bits packed into every consumer's image)
 *   threads.ts   the 2-thread runtime (control block, shares, scheduling), worker.ts its worker thread
 *   engine.ts    this file: FusedEngine, the public API (one image, a batch, 1 or 2 threads)
 *
 * Every GEMM and post function takes a range (pixels and kernel rows / channels), so the work can be split between
 * threads sharing one memory (FusedEngine with threads: 2).
 */
import { WA } from '../wasm/asm';
import type { WasmMemory, WasmModule } from '../wasm/asm';
import type { PackedSpec } from './spec';
import type { GemmMode, GemmTune } from './codegen';
import { buildFused } from './layout';
import {
  BATCH_CHUNK,
  ctrlLength,
  doneSlot,
  lastStageDone,
  readFinal,
  runImage,
  Slot,
  splitPlans,
  startWorker,
  threadsAvailable,
  waitAtLeast,
  writeInput,
} from './threads';
import type { FusedBuild, Run, Share, WorkerLike } from './threads';

export type { EnginePlan, FusedBuild } from './threads';
export type { GemmMode, GemmTune } from './codegen';
export { buildFused, fusedSupports } from './layout';
export { threadsAvailable } from './threads';

/**
 * A fused model instance: one memory, one module instance, and with `threads: 2` one worker thread sharing
 * the memory (each stage split by output channels into shares that both threads claim: threads.ts). Results are
 * identical either way (integer arithmetic; the real layer's float sums are per output channel and not split).
 */
export class FusedEngine {
  readonly memory: WasmMemory;
  private readonly fns: Record<string, Run>;
  readonly build: FusedBuild;
  /** 2 when a worker runs half of every stage (once it has started: see `ready`). */
  readonly threads: number;
  private worker: WorkerLike | null = null;
  private readonly ctrl: Int32Array | null = null;
  private readonly shares: [Share, Share][] = [];
  private inBuf: Float32Array | null = null;
  private outBuf: Int32Array | null = null;
  private seq = 0;

  constructor(
    spec: PackedSpec,
    readonly mode: GemmMode,
    threads = 1,
    tune: GemmTune = {},
  ) {
    if (!WA || !WA.Memory) throw new Error('FusedEngine: WebAssembly is not available');
    this.threads = threads >= 2 && threadsAvailable() ? 2 : 1;
    const shared = this.threads === 2;
    this.build = buildFused(spec, mode, shared, tune);
    const b = this.build;
    this.memory = shared
      ? new WA.Memory({ initial: b.pages, maximum: b.pages, shared: true })
      : new WA.Memory({ initial: b.pages });
    const u8 = new Uint8Array(this.memory.buffer);
    for (const [off, data] of b.init) u8.set(data, off);
    const mod: WasmModule = new WA.Module(b.bytes);
    const inst = new WA.Instance(mod, { env: { mem: this.memory } });
    this.fns = inst.exports as Record<string, Run>;
    if (shared) {
      this.shares = splitPlans(b.plans);
      this.ctrl = new Int32Array(new SharedArrayBuffer(4 * ctrlLength(this.shares.length)));
      this.inBuf = new Float32Array(new SharedArrayBuffer(4 * BATCH_CHUNK * b.input.H * b.input.W * b.input.C));
      this.outBuf = new Int32Array(new SharedArrayBuffer(4 * BATCH_CHUNK * b.final.npix * b.final.outC));
      const { bytes: _bytes, ...build } = b;
      try {
        const w = startWorker({
          mod,
          memory: this.memory,
          ctrlBuf: this.ctrl.buffer as SharedArrayBuffer,
          shares: this.shares,
          build,
          inBuf: this.inBuf.buffer as SharedArrayBuffer,
          outBuf: this.outBuf.buffer as SharedArrayBuffer,
        });
        w.unref();
        w.on('error', () => (this.worker = null));
        w.on('exit', () => (this.worker = null));
        this.worker = w;
      } catch {
        this.worker = null; // no worker: one thread
      }
    }
  }

  /** Whether the worker runs (it has started and set the ready slot). */
  private workerUp(): boolean {
    return this.ctrl !== null && this.worker !== null && Atomics.load(this.ctrl, Slot.ready) === 1;
  }

  /** Resolves when the worker (if any) is running; until then `forward` runs on one thread. */
  async ready(timeoutMs = 10000): Promise<boolean> {
    const t0 = Date.now();
    while (this.ctrl && Atomics.load(this.ctrl, Slot.ready) !== 1) {
      if (Date.now() - t0 > timeoutMs || !this.worker) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.ctrl !== null && this.worker !== null;
  }

  /** Stops the worker (the engine then runs on one thread). */
  dispose(): void {
    if (this.ctrl && this.worker) {
      Atomics.store(this.ctrl, Slot.seq, -1);
      Atomics.notify(this.ctrl, Slot.seq);
      void this.worker.terminate();
    }
    this.worker = null;
  }

  /**
   * Several images on 2 threads by whole images: the worker runs a second copy of the model in its own memory;
   * both threads claim images from a shared counter (no per-stage synchronisation). Returns each image's last-stage
   * integer outputs, or null when there is no running worker (the caller then runs `forward` per image).
   */
  forwardBatch(data: Float32Array, n: number): Int32Array[] | null {
    const ctrl = this.ctrl;
    if (!ctrl || !this.inBuf || !this.outBuf || !this.workerUp()) return null;
    const { H, W, C } = this.build.input;
    const per = H * W * C;
    const outLen = this.build.final.npix * this.build.final.outC;
    const res: Int32Array[] = [];
    for (let s0 = 0; s0 < n; s0 += BATCH_CHUNK) {
      const m = Math.min(BATCH_CHUNK, n - s0);
      this.inBuf.set(data.subarray(s0 * per, (s0 + m) * per));
      // the done counter before the claim counter: a worker still in the previous hand-over may claim (and finish) an
      // image of this one as soon as batchNext is 0, and its count must not be reset after that
      Atomics.store(ctrl, Slot.batchDone, 0);
      Atomics.store(ctrl, Slot.batchCount, m);
      Atomics.store(ctrl, Slot.batchMode, 1);
      Atomics.store(ctrl, Slot.batchNext, 0);
      Atomics.store(ctrl, Slot.seq, ++this.seq);
      Atomics.notify(ctrl, Slot.seq);
      for (let i = Atomics.add(ctrl, Slot.batchNext, 1); i < m; i = Atomics.add(ctrl, Slot.batchNext, 1)) {
        const y = this.forward(this.inBuf.subarray(i * per, (i + 1) * per), null, [], true);
        this.outBuf.set(y, i * outLen);
        Atomics.add(ctrl, Slot.batchDone, 1);
      }
      waitAtLeast(ctrl, Slot.batchDone, m, 10000 + 1000 * m, 'FusedEngine: the worker thread stopped responding');
      for (let i = 0; i < m; i++) res.push(this.outBuf.slice(i * outLen, (i + 1) * outLen));
    }
    return res;
  }

  /** Runs one image (NHWC float32, H·W·C values); returns the last stage's integer outputs [npix·outC]. */
  forward(image: Float32Array, timings: Record<string, number> | null, names: string[], serial = false): Int32Array {
    const b = this.build;
    writeInput(this.memory.buffer, b.input, image);
    let t0 = timings ? performance.now() : 0;
    const lap = (k: string) => {
      if (!timings) return;
      const t = performance.now();
      timings[k] = (timings[k] ?? 0) + t - t0;
      t0 = t;
    };
    const ctrl = this.ctrl;
    if (!serial && ctrl && this.workerUp()) {
      const seq = ++this.seq;
      Atomics.store(ctrl, Slot.batchMode, 0);
      const n = this.shares.length;
      for (let j = 0; j < n; j++) Atomics.store(ctrl, doneSlot(n, j), seq * 8);
      Atomics.store(ctrl, Slot.seq, seq);
      Atomics.notify(ctrl, Slot.seq);
      runImage(
        ctrl,
        this.fns,
        this.shares,
        seq,
        0,
        timings ? (j: number) => lap(`${names[b.plans[j].stage]} stage (2 threads)`) : null,
      );
      // wait for the last stage's shares (the worker may run one)
      waitAtLeast(
        ctrl,
        doneSlot(n, n - 1),
        lastStageDone(this.shares, seq),
        10000,
        'FusedEngine: the worker thread stopped responding',
      );
      lap('wait for the worker');
    } else
      for (const pl of b.plans) {
        this.fns[pl.gemm](0, pl.npixP, 0, pl.noutp);
        lap(`${names[pl.stage]} conv`);
        this.fns[pl.post](0, pl.nq, 0, pl.noutp);
        lap(`${names[pl.stage]} post`);
      }
    const out = new Int32Array(b.final.npix * b.final.outC);
    readFinal(this.memory.buffer, b.final, out);
    return out;
  }
}
