/**
 * Inference benchmark: packed binary inference (src/inference: XNOR-popcount on bit-packed weights, wasm
 * i64/SIMD kernels assembled in kernels.ts, single thread) vs the float tfjs model, on the same backend
 * (`initBackend()` default selection: wasm here) and the same machine, batch 1 and batch 50.
 *
 * Model: full-width BinaryNet (src/models/binarynet.ts, 'bop' kernels), RANDOM weights (glorot init, then
 * sign → ±1 as after Bop's first step; random BN statistics). Speed does not depend on the values.
 *
 *   npm run bench:inference                 # width 1
 *   npm run bench:inference -- --quick      # fewer repetitions
 *   npm run bench:inference -- --width=0.5
 *
 * Last line:  packed-vs-float batch1=<speed-up> batch50=<speed-up> size=<float bytes / packed bytes>
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend } from '../src/backend';
import { binaryNet } from '../src/models/binarynet';
import { BatchNorm } from '../src/layers';
import { Rng } from '../src/random';
import { availableKernels, encodePacked, floatModelBytes, KernelName, PackedModel, packModel, signKernels } from '../src/inference';

function arg(name: string, def: string): string {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : process.argv.includes(`--${name}`) ? 'true' : def;
}

/** Runs `fn` at least `minCalls` times and until `minSec` have passed (after one warm-up call); images/s. */
function measure(fn: () => void, batch: number, minCalls: number, minSec: number): { ips: number; msPerCall: number; calls: number } {
  fn();
  const t0 = performance.now();
  let calls = 0;
  while (calls < minCalls || performance.now() - t0 < minSec * 1000) {
    fn();
    calls++;
  }
  const sec = (performance.now() - t0) / 1000;
  return { ips: (calls * batch) / sec, msPerCall: (sec / calls) * 1000, calls };
}

async function main() {
  const quick = arg('quick', 'false') === 'true';
  const width = Number(arg('width', '1'));
  const info = await initBackend();
  console.log(`backend: ${describeBackend()}`);
  console.log(`machine: ${require('os').cpus().length} logical cores (${require('os').cpus()[0]?.model ?? '?'}), load average ${require('os').loadavg().map((l: number) => l.toFixed(1)).join(' ')}`);
  console.log(`model: BinaryNet width ${width}, 'bop' kernels, random weights (signed glorot) and random BN statistics`);

  const model = binaryNet({ width, seed: 1, kernels: 'bop' });
  signKernels(model);
  const rng = new Rng(1);
  for (const layer of model.layers)
    if (layer instanceof BatchNorm) {
      const c = layer.getWeights()[0].shape[0];
      const r = (f: () => number) => tf.tensor1d(Array.from({ length: c }, f));
      layer.setWeights([r(() => rng.next() - 0.5), r(() => (rng.next() - 0.5) * 10), r(() => 1 + rng.next() * 50)]);
    }
  const t0 = performance.now();
  const spec = packModel(model);
  const packMs = performance.now() - t0;
  const packedBytes = encodePacked(spec).length;
  const floatBytes = await floatModelBytes(model);
  const params = model.countParams();
  console.log(`params: ${params} · float (tf.io weights) ${(floatBytes / 1e6).toFixed(2)} MB · packed file ${(packedBytes / 1e6).toFixed(3)} MB · ${(floatBytes / packedBytes).toFixed(2)}× smaller · packing took ${packMs.toFixed(0)} ms`);

  const x50 = Float32Array.from({ length: 50 * 3072 }, () => rng.next() * 2 - 1);
  const x1 = x50.subarray(0, 3072);
  const t1 = tf.tensor4d(x1, [1, 32, 32, 3]);
  const t50 = tf.tensor4d(x50, [50, 32, 32, 3]);
  const floatRun = (t: tf.Tensor) => () => tf.tidy(() => (model.predict(t) as tf.Tensor).dataSync());

  // agreement on these 50 images (sanity)
  const pm = new PackedModel(spec);
  const pc = pm.predict(x50).classes;
  const fc = tf.tidy(() => tf.argMax(model.predict(t50) as tf.Tensor, 1).dataSync());
  const agree = pc.reduce((s, c, i) => s + (c === fc[i] ? 1 : 0), 0);
  console.log(`agreement (argmax) packed vs float on the 50 bench images: ${agree}/50`);

  const reps = quick ? { f1: 3, f50: 1, p1: 20, p50: 2, sec: 1 } : { f1: 10, f50: 3, p1: 100, p50: 5, sec: 3 };
  const f1 = measure(floatRun(t1), 1, reps.f1, reps.sec);
  const f50 = measure(floatRun(t50), 50, reps.f50, reps.sec);
  const rows: [string, { ips: number; msPerCall: number }, { ips: number; msPerCall: number }][] = [];
  rows.push([`float tfjs (${info.name}, ${info.threads} thr)`, f1, f50]);
  let best: { name: KernelName; p1: { ips: number; msPerCall: number }; p50: { ips: number; msPerCall: number } } | null = null;
  for (const k of availableKernels()) {
    const m = new PackedModel(spec, k);
    const slow = k === 'js';
    const p1 = measure(() => m.predict(x1), 1, slow ? 3 : reps.p1, slow ? 0 : reps.sec);
    const p50 = measure(() => m.predict(x50), 50, 1, slow ? 0 : reps.sec);
    rows.push([`packed (${k}, 1 thr)`, p1, p50]);
    if (!best || p1.ips > best.p1.ips) best = { name: k, p1, p50 };
  }
  console.log('');
  console.log(`${'engine'.padEnd(30)} ${'batch 1 img/s'.padStart(14)} ${'ms/img'.padStart(8)} ${'×float'.padStart(8)}   ${'batch 50 img/s'.padStart(15)} ${'ms/batch'.padStart(9)} ${'×float'.padStart(8)}`);
  for (const [name, a, b] of rows)
    console.log(
      `${name.padEnd(30)} ${a.ips.toFixed(1).padStart(14)} ${a.msPerCall.toFixed(2).padStart(8)} ${(a.ips / f1.ips).toFixed(2).padStart(8)}   ${b.ips.toFixed(1).padStart(15)} ${b.msPerCall.toFixed(1).padStart(9)} ${(b.ips / f50.ips).toFixed(2).padStart(8)}`,
    );
  console.log('');
  console.log(`default packed kernel: ${pm.kernelName}; fastest at batch 1: ${best!.name}`);
  const def = rows.find((r) => r[0].startsWith(`packed (${pm.kernelName}`))!;
  tf.dispose([t1, t50]);
  console.log(`packed-vs-float batch1=${(def[1].ips / f1.ips).toFixed(2)} batch50=${(def[2].ips / f50.ips).toFixed(2)} size=${(floatBytes / packedBytes).toFixed(2)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
