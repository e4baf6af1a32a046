/**
 * The fused engine's worker thread (started by engine.ts' FusedEngine with `threads: 2`; see threads.ts for the
 * protocol). It instantiates the main thread's compiled module twice: on the main thread's shared memory, to take
 * shares of one image's stages (runImage), and on a memory of its own holding a second copy of the model, to run
 * whole images of a batch. It waits for requests on the control block's `seq` slot until that turns negative.
 */
import { workerData, isMainThread } from 'worker_threads';
import { WA } from '../wasm/asm';
import type { WasmMemory, WasmModule } from '../wasm/asm';
import { readFinal, runImage, Slot, SPIN, writeInput } from './threads';
import type { Run, WorkerData } from './threads';

/** The worker's main loop (see the module comment). */
function serve(d: WorkerData): void {
  if (!WA?.Memory) throw new Error('fused engine worker: WebAssembly is not available');
  const { build, shares } = d;
  const mod = d.mod as WasmModule;
  const fns = new WA.Instance(mod, { env: { mem: d.memory } }).exports as Record<string, Run>;
  const ctrl = new Int32Array(d.ctrlBuf);
  // batch mode: whole images on a second copy of the model (own memory)
  const mem2: WasmMemory = new WA.Memory({ initial: build.pages, maximum: build.pages, shared: true });
  const u8 = new Uint8Array(mem2.buffer);
  for (const [off, data] of build.init) u8.set(data, off);
  const fns2 = new WA.Instance(mod, { env: { mem: mem2 } }).exports as Record<string, Run>;
  const per = build.input.H * build.input.W * build.input.C;
  const outLen = build.final.npix * build.final.outC;
  const xin = new Float32Array(d.inBuf);
  const yout = new Int32Array(d.outBuf);
  const forwardOwn = (i: number) => {
    writeInput(mem2.buffer, build.input, xin.subarray(i * per, (i + 1) * per));
    for (const pl of build.plans) {
      fns2[pl.gemm](0, pl.npixP, 0, pl.noutp);
      fns2[pl.post](0, pl.nq, 0, pl.noutp);
    }
    readFinal(mem2.buffer, build.final, yout, i * outLen);
  };
  let seq = 0;
  Atomics.store(ctrl, Slot.ready, 1);
  Atomics.notify(ctrl, Slot.ready);
  for (;;) {
    for (let n = 0; Atomics.load(ctrl, Slot.seq) === seq; n++) if (n > SPIN) Atomics.wait(ctrl, Slot.seq, seq, 50);
    seq = Atomics.load(ctrl, Slot.seq);
    if (seq < 0) break;
    if (Atomics.load(ctrl, Slot.batchMode) === 1) {
      const count = Atomics.load(ctrl, Slot.batchCount);
      for (let i = Atomics.add(ctrl, Slot.batchNext, 1); i < count; i = Atomics.add(ctrl, Slot.batchNext, 1)) {
        forwardOwn(i);
        Atomics.add(ctrl, Slot.batchDone, 1);
        Atomics.notify(ctrl, Slot.batchDone);
      }
    } else runImage(ctrl, fns, shares, seq, 1, null);
  }
}

if (!isMainThread) serve(workerData as WorkerData);
