/**
 * Inference benchmark: the full-width BinaryNet as a float network and as a packed binary network, on one machine,
 * at batch 1 and batch 50, every engine in the same run (method and numbers: bench/INFERENCE.md).
 *
 *   float tfjs            the float model on the project's backend (`initBackend()`: wasm here, with the oneDNN
 *                         training kernels when the addon is built)
 *   float32 oneDNN        the same network with float32 weights through oneDNN (src/inference/native.ts'
 *                         FloatOneDnn: convolutions, inner products, max-pools; no int8, no XNOR), 1 and 2 threads
 *   packed native         the addon's XNOR-popcount engine (widest instruction set; also AVX2 with AVX-512 off),
 *                         1 and 2 threads
 *   packed wasm           the fused WebAssembly engine ('mix'), 1 and 2 threads: the portable fallback
 *   popcount peak         the machine's XNOR-popcount throughput: calls that do one image's binary MACs with a
 *                         register-only xor + popcount + add loop (no loads), 1 and 2 threads, timed like the engines:
 *                         each packed engine's binary MACs per CPU-second are printed as a fraction of the loop's
 *
 * Model: full-width BinaryNet (src/models/binarynet.ts, 'bop' kernels), RANDOM weights (glorot init, then sign → ±1
 * as after Bop's first step; random BN statistics). Speed does not depend on the values.
 *
 *   npm run bench:inference                 # width 1
 *   npm run bench:inference -- --quick      # fewer, shorter rounds
 *   npm run bench:inference -- --width=0.5
 *   npm run bench:inference -- --unet       # also the binarized UNet (--unet-width=1 --unet-size=128)
 *
 * Last line:  packed-vs-float-onednn batch1=<r> batch50=<r> size=<r> limit=<fraction>
 *   r = images/s of the fastest packed engine / images/s of the fastest float32 oneDNN configuration (each side at
 *   its best thread count; wall clock) at that batch size; size = float32 weight bytes / packed file bytes;
 *   limit = binary MACs per CPU-second of the batch-1 packed engine / the popcount loop's at its thread count.
 * The line before it compares the 1-thread configurations by CPU time (a cross-check the machine's load hardly sways).
 */
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend } from '../src/backend';
import { binaryNet } from '../src/models/binarynet';
import { BatchNorm } from '../src/layers';
import { Rng } from '../src/random';
import {
  binaryMacs,
  encodePacked,
  FloatOneDnn,
  floatModelBytes,
  nativeInference,
  PackedGraphModel,
  PackedModel,
  packGraph,
  packModel,
  popcountRun,
  signKernels,
} from '../src/inference';
import type { NativeIsa, PackedSpec } from '../src/inference';
import { unet } from '../src/models/unet';

function arg(name: string, def: string): string {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : process.argv.includes(`--${name}`) ? 'true' : def;
}

/**
 * Runs `fn` at least `minCalls` times and until `minSec` have passed; milliseconds per call of wall-clock time and of
 * the process's CPU time (all its threads: for a 1-thread engine, its own compute time whatever the machine's load).
 */
function msPerCall(fn: () => void, minCalls: number, minSec: number): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let calls = 0;
  while (calls < minCalls || performance.now() - t0 < minSec * 1000) {
    fn();
    calls++;
  }
  const wall = (performance.now() - t0) / calls;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 / calls };
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** Random signed kernels are already there (signKernels); random BN statistics as a trained model would have. */
function randomBn(model: tf.LayersModel, rng: Rng): void {
  for (const layer of model.layers)
    if (layer instanceof BatchNorm) {
      const c = layer.getWeights()[0].shape[0];
      const r = (f: () => number) => tf.tensor1d(Array.from({ length: c }, f));
      layer.setWeights([r(() => rng.next() - 0.5), r(() => (rng.next() - 0.5) * 10), r(() => 1 + rng.next() * 50)]);
    }
}

type Kind = 'float-tfjs' | 'float-onednn' | 'packed-native' | 'packed-wasm' | 'peak';
interface Engine {
  label: string;
  kind: Kind;
  threads: number;
  /** One call at batch 1 / batch 50 (null: not measured at that batch size). */
  run1: () => void;
  run50: (() => void) | null;
  /** Best ms per image over the rounds: wall clock, and CPU time of the process (c1, c50). */
  b1: number;
  b50: number;
  c1?: number;
  c50?: number;
  dispose: () => void;
}

async function main() {
  const quick = arg('quick', 'false') === 'true';
  const width = Number(arg('width', '1'));
  const info = await initBackend();
  const nat = nativeInference();
  console.log(`backend: ${describeBackend()}`);
  console.log(
    `machine: ${nat.cpu}, ${os.cpus().length} logical cores (${os.cpus()[0]?.model ?? '?'}); ${nat.available ? `native instruction sets ${nat.isas.join(', ')}; features ${nat.features.join(', ')}` : `native engine unavailable: ${nat.reason}`}; load average ${load()}`,
  );
  console.log(
    `model: BinaryNet width ${width}, 'bop' kernels, random weights (signed glorot) and random BN statistics`,
  );

  const model = binaryNet({ width, seed: 1, kernels: 'bop' });
  signKernels(model);
  const rng = new Rng(1);
  randomBn(model, rng);
  const spec = packModel(model);
  const packedBytes = encodePacked(spec).length;
  const floatBytes = await floatModelBytes(model);
  const macs = binaryMacs(spec);
  console.log(
    `params: ${model.countParams()} · float32 weights (tf.io) ${(floatBytes / 1e6).toFixed(2)} MB · packed file ${(packedBytes / 1e6).toFixed(3)} MB · ${(floatBytes / packedBytes).toFixed(2)}× smaller · ${(macs / 1e6).toFixed(1)} M binary MACs per image (the real first layer not counted)`,
  );

  const x50 = Float32Array.from({ length: 50 * 3072 }, () => rng.next() * 2 - 1);
  const x1 = x50.subarray(0, 3072);
  const t1 = tf.tensor4d(x1, [1, 32, 32, 3]);
  const t50 = tf.tensor4d(x50, [50, 32, 32, 3]);
  const floatRun = (t: tf.Tensor) => () => void tf.tidy(() => (model.predict(t) as tf.Tensor).dataSync());

  const engines: Engine[] = [];
  const none = () => {};
  engines.push({
    label: `float tfjs (${info.name}${info.path ? `, ${info.path}` : ''}, ${info.threads} thr)`,
    kind: 'float-tfjs',
    threads: info.threads,
    run1: floatRun(t1),
    run50: floatRun(t50),
    b1: Infinity,
    b50: Infinity,
    dispose: none,
  });
  if (nat.available) {
    for (const th of [1, 2]) {
      const f = new FloatOneDnn(spec, th);
      engines.push({
        label: `float32 oneDNN (${th} thr)`,
        kind: 'float-onednn',
        threads: th,
        run1: () => f.forward(x1, 1),
        run50: () => f.forward(x50, 50),
        b1: Infinity,
        b50: Infinity,
        dispose: () => f.dispose(),
      });
    }
    const isas: NativeIsa[] = [
      nat.isas[0],
      ...(nat.isas[0] === 'avx512' && nat.isas.includes('avx2') ? ['avx2' as const] : []),
    ];
    for (const isa of isas)
      for (const th of isa === nat.isas[0] ? [1, 2] : [1]) {
        const m = new PackedModel(spec, 'native', { isa, threads: th });
        engines.push({
          label: `packed ${m.engine}`,
          kind: 'packed-native',
          threads: th,
          run1: () => m.predict(x1),
          run50: () => m.predict(x50),
          b1: Infinity,
          b50: Infinity,
          dispose: () => m.dispose(),
        });
      }
  }
  for (const th of [1, 2]) {
    const m = new PackedModel(spec, 'mix', { threads: th });
    if (th > 1 && !(await m.ready())) {
      console.log('(packed wasm, 2 threads: shared memory / worker_threads unavailable, skipped)');
      continue;
    }
    engines.push({
      label: `packed ${m.engine}`,
      kind: 'packed-wasm',
      threads: th,
      run1: () => m.predict(x1),
      run50: () => m.predict(x50),
      b1: Infinity,
      b50: Infinity,
      dispose: () => m.dispose(),
    });
  }
  if (nat.available) {
    // the peak timed as the engines are: calls of one image's (or 50 images') binary MACs done by the register-only
    // popcount loop
    const isa = nat.isas[0];
    for (const th of [1, 2])
      engines.push({
        label: `popcount peak ${isa} (${th} thr)`,
        kind: 'peak',
        threads: th,
        run1: () => popcountRun(isa, th, 0, macs),
        run50: () => popcountRun(isa, th, 0, 50 * macs),
        b1: Infinity,
        b50: Infinity,
        dispose: none,
      });
  }

  // Interleaved rounds: every engine, round after round, each a window of ≥ `sec` s at batch 1 and one of ≥ `sec` s
  // (at least one call) at batch 50, timed as the mean over the window; per engine the best round counts (on a
  // shared machine: the round least disturbed by other processes, for the float and the packed engines alike).
  const R = quick ? { rounds: 3, sec: 0.3 } : { rounds: 8, sec: 0.4 };
  for (const e of engines) (e.run1(), e.run50?.()); // warm-up: compilation, primitive creation
  for (let r = 0; r < R.rounds; r++)
    for (const e of engines) {
      const m1 = msPerCall(e.run1, 3, R.sec);
      e.b1 = Math.min(e.b1, m1.wall);
      e.c1 = Math.min(e.c1 ?? Infinity, m1.cpu);
      if (e.run50) {
        const m50 = msPerCall(e.run50, 1, R.sec);
        e.b50 = Math.min(e.b50, m50.wall / 50);
        e.c50 = Math.min(e.c50 ?? Infinity, m50.cpu / 50);
      }
    }
  for (const e of engines) e.dispose();

  // CPU ms of the popcount loop for one image's binary MACs, at each thread count and batch size (its calls do 1 or 50
  // images' MACs): the fraction of the peak an engine reaches is this over its own CPU ms per image (binary MACs per
  // CPU-second achieved / possible; CPU time, unlike wall time, hardly depends on the machine's load)
  const peakCpu = (th: number, key: 'c1' | 'c50') =>
    engines.find((e) => e.kind === 'peak' && e.threads === th)?.[key] ?? NaN;
  const gmacs = (ms: number) => macs / (ms * 1e-3) / 1e9;
  const fl = engines.find((e) => e.kind === 'float-tfjs')!;
  console.log('');
  const head = (b: string) =>
    `${`${b} ms/img`.padStart(15)} ${'cpu ms'.padStart(8)} ${'img/s'.padStart(8)} ${'G bMAC/s'.padStart(9)} ${'of peak'.padStart(8)}`;
  console.log(`${'engine'.padEnd(44)} ${head('batch 1')}   ${head('batch 50')}`);
  for (const e of engines) {
    const binary = e.kind !== 'float-tfjs' && e.kind !== 'float-onednn';
    const cols = (ms: number, cpu: number | undefined, key: 'c1' | 'c50') =>
      `${ms.toFixed(3).padStart(15)} ${(cpu ?? NaN).toFixed(3).padStart(8)} ${(e.kind === 'peak' ? '-' : (1000 / ms).toFixed(1)).padStart(8)} ${(binary ? gmacs(ms).toFixed(0) : '-').padStart(9)} ` +
      `${(binary && nat.available ? (peakCpu(e.threads, key) / cpu!).toFixed(3) : '-').padStart(8)}`;
    console.log(`${e.label.padEnd(44)} ${cols(e.b1, e.c1, 'c1')}   ${cols(e.b50, e.c50, 'c50')}`);
  }
  console.log('');
  console.log(
    `(ms/img: wall clock; cpu ms: CPU time of the process per image, all its threads (a 1-thread engine's own compute time, whatever the load); ` +
      `G bMAC/s: binary multiply-accumulates per second (wall clock), ${(macs / 1e6).toFixed(1)} M per image; "of peak": binary MACs per CPU-second against the popcount peak's ` +
      `at the same thread count and batch size (its rows: the loop doing one image's MACs).) Best of ${R.rounds} interleaved rounds; load average at the end ${load()}.`,
  );

  const best = (kind: Kind, key: 'b1' | 'b50') =>
    engines
      .filter((e) => e.kind === kind)
      .reduce<Engine | null>((a, e) => (!a || e[key] < a[key] ? e : null) ?? a, null);
  const packedKind: Kind = nat.available ? 'packed-native' : 'packed-wasm';
  const p1 = best(packedKind, 'b1')!;
  const p50 = best(packedKind, 'b50')!;
  const wasm1 = best('packed-wasm', 'b1')!;
  const wasm50 = best('packed-wasm', 'b50')!;
  console.log(
    `packed-vs-float-tfjs batch1=${(fl.b1 / p1.b1).toFixed(2)} batch50=${(fl.b50 / p50.b50).toFixed(2)} (packed wasm alone: batch1=${(fl.b1 / wasm1.b1).toFixed(2)} batch50=${(fl.b50 / wasm50.b50).toFixed(2)})`,
  );
  if (arg('unet', 'false') === 'true') await unetBench(Number(arg('unet-width', '1')), Number(arg('unet-size', '128')));
  tf.dispose([t1, t50]);
  if (!nat.available) {
    console.log(`packed-vs-float-onednn unavailable: ${nat.reason}`);
    return;
  }
  const f1 = best('float-onednn', 'b1')!;
  const f50 = best('float-onednn', 'b50')!;
  console.log(
    `batch 1: ${p1.label} (${p1.b1.toFixed(3)} ms) vs ${f1.label} (${f1.b1.toFixed(3)} ms); batch 50: ${p50.label} (${p50.b50.toFixed(3)} ms/img) vs ${f50.label} (${f50.b50.toFixed(3)} ms/img)`,
  );
  const limit = peakCpu(p1.threads, 'c1') / p1.c1!;
  // a cross-check that the load does not sway: 1-thread configurations compared by CPU time
  const one = (kind: Kind) =>
    engines.find(
      (e) => e.kind === kind && e.threads === 1 && (kind !== 'packed-native' || e.label.includes(nat.isas[0])),
    )!;
  const pn = one('packed-native');
  const fo = one('float-onednn');
  console.log(
    `cpu-time, 1 thread: packed native vs float32 oneDNN batch1=${(fo.c1! / pn.c1!).toFixed(2)} batch50=${(fo.c50! / pn.c50!).toFixed(2)}`,
  );
  console.log(
    `packed-vs-float-onednn batch1=${(f1.b1 / p1.b1).toFixed(2)} batch50=${(f50.b50 / p50.b50).toFixed(2)} size=${(floatBytes / packedBytes).toFixed(2)} limit=${limit.toFixed(3)}`,
  );
}

/**
 * `--unet`: the binarized UNet (src/models/unet.ts, random signed kernels and BN statistics), float tfjs vs the
 * packed graph (graph.ts) on the native and the wasm engine, batch 1, best of 3 rounds; printed before the last line.
 */
async function unetBench(width: number, size: number) {
  const model = unet({ binary: true, width, imageSize: size, kernels: 'bop', seed: 1 });
  signKernels(model);
  randomBn(model, new Rng(2));
  const spec: PackedSpec = packGraph(model);
  const fBytes = await floatModelBytes(model);
  const pBytes = encodePacked(spec).length;
  const rng = new Rng(3);
  const x = Float32Array.from({ length: size * size * 3 }, () => rng.next() * 2 - 1);
  const t = tf.tensor4d(x, [1, size, size, 3]);
  const fr = () => void tf.tidy(() => (model.predict(t) as tf.Tensor).dataSync());
  const fc = tf.tidy(() => tf.argMax(model.predict(t) as tf.Tensor, -1).dataSync());
  const engines: [string, () => void, PackedGraphModel | null][] = [['float tfjs', fr, null]];
  const nat = nativeInference();
  const configs: ['native' | 'mix', number][] = [
    ['mix', 1],
    ['mix', 2],
  ];
  if (nat.available) configs.unshift(['native', 1], ['native', 2]);
  for (const [kernel, threads] of configs) {
    const pg = new PackedGraphModel(spec, kernel, { threads });
    if (threads > 1 && !(await pg.ready())) continue;
    const pc = pg.predict(x).classes;
    const agree = pc.reduce((s, c, i) => s + (c === fc[i] ? 1 : 0), 0) / pc.length;
    engines.push([
      `packed ${pg.engine} (per-pixel class agreement ${(agree * 100).toFixed(2)} %)`,
      () => pg.predict(x),
      pg,
    ]);
  }
  for (const [, f] of engines) f();
  const bestMs = engines.map(() => Infinity);
  for (let r = 0; r < 3; r++) engines.forEach(([, f], i) => (bestMs[i] = Math.min(bestMs[i], msPerCall(f, 2, 0).wall)));
  console.log('');
  console.log(
    `binarized UNet width ${width}, ${size}×${size}: float ${(fBytes / 1e6).toFixed(2)} MB vs packed ${(pBytes / 1e6).toFixed(3)} MB (${(fBytes / pBytes).toFixed(2)}× smaller); batch 1, best of 3 rounds:`,
  );
  engines.forEach(([label, , pg], i) => {
    console.log(
      `  ${label.padEnd(78)} ${bestMs[i].toFixed(2).padStart(8)} ms/img  ×${(bestMs[0] / bestMs[i]).toFixed(2)}`,
    );
    pg?.dispose();
  });
  tf.dispose(t);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
