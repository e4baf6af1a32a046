/**
 * The fused packed-inference engine (src/inference/engine.ts): every GEMM flavour and block size, the 2-thread
 * path and the fallback, against the reference path (reference.ts: JS glue around src/xnor's GEMMs, itself checked
 * against the float model in inference.test.ts) and against the float tfjs model. Dyadic inputs make the real first layer's float
 * sums exact, so every logit must be identical.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../src/backend';
import { binaryNet } from '../src/models/binarynet';
import { BatchNorm, QuantConv2D, QuantDense } from '../src/layers';
import { dyadic, oddModel, randomizeBn, wideDenseModel } from './helpers/packedModels';
import { Rng } from '../src/random';
import { floatLogits, fusedSupports, PackedModel, packModel, signKernels, threadsAvailable } from '../src/inference';
import type { GemmTune, PackedKernel } from '../src/inference';

before(async () => {
  await initBackend({ backend: 'wasm' });
});
after(() => shutdownBackend());

function floatRef(model: tf.LayersModel, x: Float32Array, shape: number[]): Float32Array {
  const n = x.length / shape.reduce((a, b) => a * b, 1);
  return tf.tidy(() =>
    floatLogits(model, tf.tensor4d(x, [n, ...shape] as [number, number, number, number])).dataSync(),
  ) as Float32Array;
}

function assertSame(a: Float32Array, b: Float32Array, what: string) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.equal(a[i], b[i], `${what}: logit ${i}: ${a[i]} vs ${b[i]}`);
}

test("fused engine: every GEMM flavour and block size gives the reference path's and the float model's logits exactly", () => {
  const rng = new Rng(21);
  const cases: { name: string; model: tf.LayersModel; shape: number[] }[] = [
    { name: 'binarynet w0.07', model: binaryNet({ width: 0.07, seed: 3, kernels: 'latent' }), shape: [32, 32, 3] },
    { name: 'odd', model: oddModel(), shape: [9, 11, 3] },
    { name: 'wide dense', model: wideDenseModel(), shape: [8, 8, 3] },
  ];
  const variants: [PackedKernel, GemmTune][] = [
    ['mix', {}],
    ['mix', { P: 2, R: 8, RS: 4, PR: 2 }],
    ['mix', { P: 1, R: 16, RS: 8 }],
    ['mix', { P: 3, R: 4, RS: 4 }],
    ['simd', {}],
    ['simd', { P: 3, R: 8, PR: 3 }],
    ['i64', {}],
    ['i64', { P: 1, R: 2 }],
    ['i64', { P: 4, R: 16 }],
  ];
  for (const c of cases) {
    randomizeBn(c.model, rng);
    const spec = packModel(c.model);
    assert.equal(fusedSupports(spec), null, c.name);
    const per = c.shape.reduce((a, b) => a * b, 1);
    const x = dyadic(5, per, rng);
    const want = floatRef(c.model, x, c.shape);
    const ref = new PackedModel(spec, 'simd', { reference: true });
    assert.equal(ref.fused, null);
    assertSame(ref.predict(x).logits, want, `${c.name} reference vs float`);
    for (const [k, tune] of variants) {
      const pm = new PackedModel(spec, k, { tune });
      assert.ok(pm.fused, `${c.name} ${k} runs fused`);
      const out = pm.predict(x);
      assertSame(out.logits, want, `${c.name} fused ${k} ${JSON.stringify(tune)} vs float`);
    }
    c.model.dispose();
  }
});

test('fused engine on 2 threads (one image: stages split; a batch: whole images per thread): identical outputs, repeatedly; dispose falls back to 1 thread', async () => {
  const rng = new Rng(22);
  const model = binaryNet({ width: 0.25, seed: 4, kernels: 'bop' });
  signKernels(model);
  randomizeBn(model, rng);
  const spec = packModel(model);
  const x = dyadic(6, 3072, rng);
  const one = new PackedModel(spec, 'mix').predict(x);
  assertSame(one.logits, floatRef(model, x, [32, 32, 3]), '1 thread vs float');
  const pm = new PackedModel(spec, 'mix', { threads: 2 });
  const up = await pm.ready();
  assert.equal(up, threadsAvailable(), 'the worker starts where shared memory and worker_threads exist');
  assert.equal(pm.threads, up ? 2 : 1);
  for (let rep = 0; rep < 3; rep++) {
    assertSame(pm.predict(x).logits, one.logits, `2 threads, pass ${rep}`);
    for (let i = 0; i < 6; i++)
      assertSame(
        pm.predict(x.subarray(i * 3072, (i + 1) * 3072)).logits,
        one.logits.subarray(i * 10, (i + 1) * 10),
        `2 threads, image ${i}`,
      );
  }
  // a batch over two hand-overs of whole images (FusedEngine.forwardBatch: 32 images each)
  const x40 = dyadic(40, 3072, rng);
  assertSame(pm.predict(x40).logits, new PackedModel(spec, 'mix').predict(x40).logits, '2 threads, 40 images');
  pm.timings = {};
  pm.predict(x.subarray(0, 3072));
  if (up)
    assert.ok(
      Object.keys(pm.timings).some((k) => k.endsWith('(2 threads)')),
      'timings name the 2-thread stages',
    );
  pm.dispose();
  assertSame(pm.predict(x).logits, one.logits, 'after dispose (1 thread)');
  model.dispose();
});

test('models the fused engine does not take (pool after the real layer) run on the reference path, still exact', () => {
  const rng = new Rng(23);
  const m = tf.sequential();
  const k = { kernelQuantizer: 'ste_sign' as const, binaryKernel: true };
  m.add(
    new QuantConv2D({
      filters: 12,
      kernelSize: 3,
      padding: 'valid',
      inputQuantizer: null,
      ...k,
      seed: 1,
      inputShape: [10, 10, 3],
    }),
  );
  m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  m.add(new BatchNorm({ scale: true, center: true }));
  m.add(tf.layers.flatten());
  m.add(new QuantDense({ units: 5, inputQuantizer: 'ste_sign', ...k, seed: 2 }));
  m.add(new BatchNorm({ scale: true, center: true }));
  randomizeBn(m, rng);
  const spec = packModel(m);
  assert.match(fusedSupports(spec) ?? '', /pooling after the real layer/);
  const pm = new PackedModel(spec);
  assert.equal(pm.fused, null);
  assert.equal(pm.kernelName, 'simd');
  const x = dyadic(4, 300, rng);
  assertSame(pm.predict(x).logits, floatRef(m, x, [10, 10, 3]), 'reference fallback vs float');
  m.dispose();
});
