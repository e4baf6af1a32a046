/**
 * The native packed engine (src/inference/native.ts, native/packed.cc) and the float32 oneDNN baseline
 * (native/float_net.cc): logits identical to the reference interpreter's (reference.ts, itself checked against the
 * float tfjs model in inference.test.ts) on BinaryNet (full width and small), odd geometries and the binarized UNet,
 * on every instruction set this CPU has (AVX-512 forced off: avx2 and scalar), 1 and 2 threads, one image and
 * batches. Without the addon the native tests are skipped, saying why, and the default path is checked to be the
 * wasm engine. Dyadic inputs make the real first layer's float sums exact, so every logit must be identical.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../src/backend';
import { binaryNet } from '../src/models/binarynet';
import { unet } from '../src/models/unet';
import { Rng } from '../src/random';
import { BatchNorm, QuantConv2D, QuantDense } from '../src/layers';
import {
  binaryMacs,
  comparisonEngines,
  comparisonMarkdown,
  engineComparison,
  FloatOneDnn,
  floatLogits,
  isaFromEnv,
  NativeEngine,
  nativeInference,
  nativeSupports,
  PackedGraphModel,
  PackedModel,
  packGraph,
  packModel,
  popcountPeak,
  signKernels,
} from '../src/inference';
import type { NativeIsa, PackedSpec } from '../src/inference';
import { dyadic, oddModel, randomizeBn, wideDenseModel } from './helpers/packedModels';

const native = nativeInference();
const skip = native.available ? false : `native engine unavailable: ${native.reason}`;

before(async () => {
  await initBackend({ backend: 'wasm' });
});
after(() => shutdownBackend());

function assertSame(a: Float32Array, b: Float32Array, what: string) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.equal(a[i], b[i], `${what}: logit ${i}: ${a[i]} vs ${b[i]}`);
}

/** Runs `env` changes for the duration of `f` (restored after). */
function withEnv<T>(env: Record<string, string | undefined>, f: () => T): T {
  const old = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  try {
    return f();
  } finally {
    for (const [k, v] of Object.entries(old))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

/** A signed 'bop' BinaryNet of `width` with random BN statistics, packed. */
function binaryNetSpec(width: number, seed: number, rng: Rng): { model: tf.LayersModel; spec: PackedSpec } {
  const model = binaryNet({ width, seed, kernels: 'bop' });
  signKernels(model);
  randomizeBn(model, rng);
  return { model, spec: packModel(model) };
}

test('which path: the machine, its instruction sets, and the path PackedModel takes by default', (t) => {
  t.diagnostic(
    `CPU ${native.cpu}; native engine ${native.available ? `available: ${native.isas.join(', ')} (${native.features.join(', ')})` : `unavailable: ${native.reason}`}`,
  );
  const { model, spec } = binaryNetSpec(1 / 16, 1, new Rng(1));
  const pm = new PackedModel(spec);
  t.diagnostic(`default PackedModel path: ${pm.engine}`);
  if (native.available) {
    assert.equal(pm.kernelName, 'native');
    assert.equal(pm.engine, `native ${isaFromEnv() ?? native.isas[0]}, 1 thread`);
    assert.ok(native.isas.includes('scalar') && native.features.length > 0);
  } else {
    assert.match(pm.engine, /^wasm fused mix|^reference/);
    assert.throws(() => new PackedModel(spec, 'native'), /native engine cannot run this model/);
  }
  model.dispose();
});

test("BNN_NATIVE=0: everything runs on the wasm engine, with the same logits; kernel 'native' says why it cannot run", () => {
  const rng = new Rng(2);
  const { model, spec } = binaryNetSpec(1 / 8, 2, rng);
  const x = dyadic(3, 3072, rng);
  const want = new PackedModel(spec, 'simd', { reference: true }).predict(x).logits;
  withEnv({ BNN_NATIVE: '0' }, () => {
    const pm = new PackedModel(spec);
    assert.match(pm.engine, /^wasm fused mix, 1 thread$/);
    assertSame(pm.predict(x).logits, want, 'wasm without native');
    assert.throws(() => new PackedModel(spec, 'native'), /BNN_NATIVE=0/);
    assert.match(nativeSupports(spec) ?? '', /BNN_NATIVE=0/);
    assert.equal(nativeInference().available, false);
  });
  model.dispose();
});

const isas = (): NativeIsa[] => native.isas;

test(
  "native engine: BinaryNet (full width and 1/4) logits equal the reference interpreter's on every instruction set, 1 and 2 threads, one image and batches",
  { skip },
  (t) => {
    const rng = new Rng(3);
    for (const [width, n] of [
      [1, 2],
      [1 / 4, 7],
    ] as const) {
      const { model, spec } = binaryNetSpec(width, 4, rng);
      const x = dyadic(n, 3072, rng);
      const want = new PackedModel(spec, 'simd', { reference: true }).predict(x).logits;
      for (const isa of isas())
        for (const threads of [1, 2]) {
          const pm = new PackedModel(spec, 'native', { isa, threads });
          assert.equal(pm.engine, `native ${isa}, ${threads} thread${threads > 1 ? 's' : ''}`);
          assertSame(pm.predict(x).logits, want, `width ${width} ${pm.engine}, batch of ${n}`);
          for (let i = 0; i < n; i++)
            assertSame(
              pm.predict(x.subarray(i * 3072, (i + 1) * 3072)).logits,
              want.subarray(i * 10, (i + 1) * 10),
              `width ${width} ${pm.engine}, image ${i}`,
            );
          pm.dispose();
        }
      t.diagnostic(`BinaryNet width ${width}: ${isas().join(', ')} × 1, 2 threads identical to the reference`);
      model.dispose();
    }
  },
);

test(
  'native engine: odd geometries (strides, odd sizes, partial words, channels not multiples of 16, a 4096-bit dense row) equal the float model and the reference',
  { skip },
  () => {
    const rng = new Rng(4);
    for (const [name, model, shape] of [
      ['odd', oddModel(), [9, 11, 3]],
      ['wide dense', wideDenseModel(), [8, 8, 3]],
    ] as const) {
      randomizeBn(model, rng);
      const spec = packModel(model);
      const per = shape[0] * shape[1] * shape[2];
      const x = dyadic(5, per, rng);
      const want = tf.tidy(() => floatLogits(model, tf.tensor4d(x, [5, ...shape])).dataSync()) as Float32Array;
      assertSame(
        new PackedModel(spec, 'simd', { reference: true }).predict(x).logits,
        want,
        `${name}: reference vs float`,
      );
      for (const isa of isas())
        for (const threads of [1, 2]) {
          const pm = new PackedModel(spec, 'native', { isa, threads });
          assertSame(pm.predict(x).logits, want, `${name} ${pm.engine}`);
          pm.dispose();
        }
      model.dispose();
    }
  },
);

test(
  'native engine: the binarized UNet (skips, OR-pools, upsampling, concatenation) equals the reference on every instruction set and thread count',
  { skip },
  (t) => {
    const rng = new Rng(5);
    for (const [width, size] of [
      [1 / 2, 16],
      [1, 32],
    ] as const) {
      const model = unet({ binary: true, width, imageSize: size, kernels: 'bop', seed: 7 });
      signKernels(model);
      randomizeBn(model, rng);
      const spec = packGraph(model);
      assert.equal(nativeSupports(spec), null, `UNet width ${width}`);
      const n = 3;
      const x = dyadic(n, size * size * 3, rng);
      const want = new PackedGraphModel(spec, 'simd', { reference: true }).predict(x);
      const float = tf.tidy(() => floatLogits(model, tf.tensor4d(x, [n, size, size, 3])).dataSync()) as Float32Array;
      assertSame(want.logits, float, `UNet width ${width}: reference vs float`);
      for (const isa of isas())
        for (const threads of [1, 2]) {
          const pg = new PackedGraphModel(spec, 'native', { isa, threads });
          assert.equal(pg.engine, `native ${isa}, ${threads} thread${threads > 1 ? 's' : ''}`);
          const out = pg.predict(x);
          assertSame(out.logits, want.logits, `UNet width ${width} ${pg.engine}`);
          assert.deepEqual(Array.from(out.classes), Array.from(want.classes));
          const one = pg.predict(x.subarray(0, size * size * 3));
          assertSame(
            one.logits,
            want.logits.subarray(0, one.logits.length),
            `UNet width ${width} ${pg.engine}, one image`,
          );
          pg.dispose();
        }
      t.diagnostic(
        `UNet width ${width}, ${size}×${size}: ${isas().join(', ')} × 1, 2 threads identical to the reference`,
      );
      model.dispose();
    }
  },
);

test(
  'BNN_PACKED_ISA forces a narrower path (avx2: AVX-512 off), and a bad value or an instruction set the CPU lacks is a clear error',
  { skip },
  () => {
    const rng = new Rng(6);
    const { model, spec } = binaryNetSpec(1 / 8, 5, rng);
    const x = dyadic(2, 3072, rng);
    const want = new PackedModel(spec, 'simd', { reference: true }).predict(x).logits;
    for (const isa of isas())
      withEnv({ BNN_PACKED_ISA: isa }, () => {
        const pm = new PackedModel(spec);
        assert.equal(pm.engine, `native ${isa}, 1 thread`);
        assertSame(pm.predict(x).logits, want, `BNN_PACKED_ISA=${isa}`);
      });
    withEnv({ BNN_PACKED_ISA: 'avx1024' }, () =>
      assert.throws(() => new PackedModel(spec), /BNN_PACKED_ISA=avx1024: expected one of avx512, avx2, scalar/),
    );
    for (const isa of ['avx512', 'avx2'] as const)
      if (!native.isas.includes(isa))
        assert.throws(() => new NativeEngine(spec, { isa }), new RegExp(`cannot run the ${isa} path`));
    assert.throws(() => new PackedModel(spec, 'native', { reference: true }), /exclude each other/);
    assert.throws(() => new NativeEngine(spec, { threads: 0 }), /threads must be a positive integer/);
    const e = new NativeEngine(spec);
    e.dispose();
    assert.throws(() => e.forward(x), /disposed/);
    model.dispose();
  },
);

test('models neither engine takes (pool after the real layer) still run exactly on the reference path by default; NativeEngine says why not', () => {
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
  const spec = packModel(m);
  const pm = new PackedModel(spec);
  assert.match(pm.engine, /^reference/);
  if (native.available)
    assert.throws(() => new NativeEngine(spec), /unsupported model \(stage .*pooling after the real layer\)/);
  m.dispose();
});

test(
  'float32 oneDNN network: the same logits as the packed model (dyadic inputs), batch 1 and batch n, 1 and 2 threads; clear errors',
  { skip },
  () => {
    const rng = new Rng(7);
    const { model, spec } = binaryNetSpec(1 / 4, 8, rng);
    const x = dyadic(6, 3072, rng);
    const want = new PackedModel(spec, 'simd', { reference: true }).predict(x).logits;
    for (const threads of [1, 2]) {
      const f = new FloatOneDnn(spec, threads);
      assertSame(f.predict(x), want, `oneDNN float ${threads} threads, batch 6`);
      assertSame(f.predict(x.subarray(0, 3072)), want.subarray(0, 10), `oneDNN float ${threads} threads, batch 1`);
      const impls = f.implementations();
      assert.ok(
        impls.some((s) => /convolution/.test(s)) && impls.some((s) => /inner product/.test(s)),
        impls.join('; '),
      );
      assert.ok(!impls.some((s) => /int8|s8|u8/.test(s)), `float32 only: ${impls.join('; ')}`);
      f.dispose();
      assert.throws(() => f.predict(x), /disposed/);
    }
    const odd = oddModel();
    randomizeBn(odd, rng);
    const xo = dyadic(3, 9 * 11 * 3, rng);
    const wantOdd = tf.tidy(() => floatLogits(odd, tf.tensor4d(xo, [3, 9, 11, 3])).dataSync()) as Float32Array;
    assertSame(new FloatOneDnn(packModel(odd)).predict(xo), wantOdd, 'oneDNN float, odd geometries');
    const g = unet({ binary: true, width: 1 / 2, imageSize: 16, kernels: 'latent', seed: 1 });
    assert.throws(() => new FloatOneDnn(packGraph(g)), /graph models \(UNet\) are not supported/);
    g.dispose();
    odd.dispose();
    model.dispose();
  },
);

test('popcount peak: a positive throughput on every instruction set', { skip }, () => {
  for (const isa of isas()) assert.ok(popcountPeak(isa, 1, 0.02) > 1e9, isa);
});

test('binary MACs of BinaryNet, counted by hand', () => {
  const { model, spec } = binaryNetSpec(1, 9, new Rng(9));
  // conv1 ('valid', 30×30) takes the real image and is not binary; conv2..conv6 are 3×3 'same' on 30, 15, 15, 7, 7
  // pixels (2×2 pools after conv2, 4, 6); then dense 3·3·512 → 1024 → 1024 → 10
  const want =
    30 * 30 * 128 * 9 * 128 +
    15 * 15 * 256 * 9 * 128 +
    15 * 15 * 256 * 9 * 256 +
    7 * 7 * 512 * 9 * 256 +
    7 * 7 * 512 * 9 * 512 +
    4608 * 1024 +
    1024 * 1024 +
    1024 * 10;
  assert.equal(binaryMacs(spec), want);
  model.dispose();
});

test('engineComparison: every engine this machine has on the same images (native ones only with the addon), identical packed logits, the machine named', async (t) => {
  const rng = new Rng(10);
  const { model } = binaryNetSpec(1 / 16, 10, rng);
  const n = 12;
  const x = dyadic(n, 3072, rng);
  const labels = Int32Array.from({ length: n }, () => rng.int(10));
  const c = await engineComparison(model, { images: x, labels }, { batchSize: 5, batch1Images: 3 });
  t.diagnostic(c.engines.map((e) => e.name).join(' · '));
  const names = c.engines.map((e) => e.name);
  assert.match(names[0], /^float tfjs \(wasm\)$/);
  if (native.available) {
    assert.equal(names.length, 4);
    assert.match(names[1], /^float32 oneDNN, 1 thread$/);
    assert.match(names[3], /^packed native (avx512|avx2|scalar), 1 thread$/);
    assert.equal(c.nativeSkipped, undefined);
    assert.deepEqual(c.machine.features, native.features);
  } else {
    assert.equal(names.length, 2);
    assert.ok(c.nativeSkipped);
  }
  assert.ok(names.some((s) => /^packed wasm fused mix, 1 thread$/.test(s)));
  assert.equal(c.packedIdentical, true);
  assert.equal(c.agreement, 1); // dyadic inputs: every engine computes the float model's integers
  const acc = c.engines[0].accuracy;
  for (const e of c.engines) {
    assert.equal(e.accuracy, acc, e.name);
    assert.ok(e.msPerImageBatch1 > 0 && e.msPerImageBatch > 0 && e.bytes > 0, e.name);
  }
  assert.ok(c.engines[names.length - 1].bytes * 8 < c.engines[0].bytes, 'packed much smaller');
  const md = comparisonMarkdown(c, 'tiny');
  assert.match(md, new RegExp(`^Machine: ${c.machine.cpu.replace(/[()]/g, '.')}, ${c.machine.cores} logical cores`));
  assert.match(
    md,
    /\| tiny, 12 test images \| size \| ms \/ image, batch 1 \(3 images\) \| ms \/ image, batch 5 \| accuracy \|/,
  );
  if (native.available)
    assert.match(
      md,
      /Packed native against float32 oneDNN: [\d.]+× faster at batch 1, [\d.]+× at batch 5, [\d.]+× smaller\./,
    );
  const fig = comparisonEngines(c);
  assert.deepEqual(Object.keys(fig[0].imagesPerSec), ['batch 1', 'batch 5']);
  assert.equal(fig[0].imagesPerSec['batch 1'], 1000 / c.engines[0].msPerImageBatch1);
  model.dispose();
});
