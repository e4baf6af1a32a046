import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../src/backend';
import { binaryNet } from '../src/models/binarynet';
import { BatchNorm, QuantConv2D, QuantDense } from '../src/layers';
import { AdamOptimizer, BopOptimizer, CaseOptimizer } from '../src/optimizers';
import { train } from '../src/train/loop';
import { Rng } from '../src/random';
import {
  bnFloat32,
  decodePacked,
  encodePacked,
  floatLogits,
  floatModelBytes,
  foldThreshold,
  loadPacked,
  PackedModel,
  packModel,
  packedSummary,
  savePacked,
  signKernels,
  summaryEngines,
  summaryMarkdown,
} from '../src/inference';
import { availableKernels } from '../src/xnor';
import { tinySplit } from './helpers/tinyData';

before(async () => {
  await initBackend({ backend: 'wasm' });
});
after(() => shutdownBackend());

/** Random BN statistics whose thresholds fall inside the range of the layer's pre-activations. */
function randomizeBn(model: tf.LayersModel, rng: Rng, negativeGamma = false) {
  for (const layer of model.layers) {
    if (!(layer instanceof BatchNorm)) continue;
    const c = layer.getWeights()[0].shape[0];
    const w: tf.Tensor[] = [];
    const g = () => (negativeGamma && rng.next() < 0.5 ? -1 : 1) * (0.2 + rng.next());
    if (layer.scale) w.push(tf.tensor1d(Array.from({ length: c }, g)));
    if (layer.center) w.push(tf.tensor1d(Array.from({ length: c }, () => (rng.next() - 0.5) * 2)));
    // some means are integers with beta = 0 below, to hit BN(y) = 0 exactly (sign(0) = +1)
    const mean = Array.from({ length: c }, (_, i) => (i % 4 === 0 ? rng.int(7) - 3 : (rng.next() - 0.5) * 8));
    w.push(tf.tensor1d(mean));
    w.push(tf.tensor1d(Array.from({ length: c }, () => 0.5 + rng.next() * 20)));
    if (layer.center) {
      const b = w[layer.scale ? 1 : 0].arraySync() as number[];
      mean.forEach((_, i) => i % 4 === 0 && (b[i] = 0));
      w[layer.scale ? 1 : 0] = tf.tensor1d(b);
    }
    layer.setWeights(w);
  }
}

/** Images whose values are multiples of 1/64 in [−1, 1]: the first layer's sums are exact in float32. */
function dyadicImages(n: number, shape: number[], rng: Rng): Float32Array {
  const per = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n * per }, () => (rng.int(129) - 64) / 64);
}

function argmaxRows(a: Float32Array | Int32Array, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length / k; i++) {
    let b = 0;
    for (let j = 1; j < k; j++) if (a[i * k + j] > a[i * k + b]) b = j;
    out.push(b);
  }
  return out;
}

function compare(
  model: tf.LayersModel,
  x: Float32Array,
  shape: number[],
  exact: boolean,
  kernel?: 'simd' | 'i64' | 'js',
) {
  const n = x.length / shape.reduce((a, b) => a * b, 1);
  const ref = tf.tidy(() =>
    floatLogits(model, tf.tensor4d(x, [n, ...shape] as [number, number, number, number])).dataSync(),
  ) as Float32Array;
  const pm = new PackedModel(packModel(model), kernel);
  const out = pm.predict(x);
  const k = pm.numClasses;
  assert.equal(out.logits.length, ref.length);
  for (let i = 0; i < ref.length; i++) {
    const tol = exact ? 0 : 1e-4 * Math.max(1, Math.abs(ref[i]));
    assert.ok(
      Math.abs(out.logits[i] - ref[i]) <= tol,
      `logit ${i}: packed ${out.logits[i]} vs float ${ref[i]} (kernel ${pm.kernelName})`,
    );
  }
  assert.deepEqual(Array.from(out.classes), argmaxRows(ref, k));
  // probabilities: softmax of the same logits
  const probs = tf.tidy(() =>
    (model.predict(tf.tensor4d(x, [n, ...shape] as [number, number, number, number])) as tf.Tensor).dataSync(),
  );
  for (let i = 0; i < probs.length; i++) assert.ok(Math.abs(out.probs[i] - probs[i]) < 1e-5);
  return out;
}

test('foldThreshold: sign(BN(y)) = +1 ⇔ y ≥ t (or y ≤ t for a negative scale), exactly, including BN(y) = 0', () => {
  const rng = new Rng(2);
  const cases: [number, number, number][] = [
    [0, 1, 0],
    [3, 0.25, 0], // BN(3) = 0 exactly
    [1.5, -0.7, 0.3],
    [-2, 1e-3, -1e-3],
    [0, 0, 0.5], // constant +1
    [0, 0, -0.5], // constant −1
  ];
  for (let i = 0; i < 200; i++) cases.push([(rng.next() - 0.5) * 100, (rng.next() - 0.5) * 4, (rng.next() - 0.5) * 4]);
  for (const [mean, inv0, beta] of cases) {
    const inv = Math.fround(inv0);
    const { t, neg } = foldThreshold(Math.fround(mean), inv, Math.fround(beta));
    const ys: number[] = [];
    for (let y = -300; y <= 300; y++) ys.push(y);
    if (Number.isFinite(t))
      for (let d = -3; d <= 3; d++) ys.push(Math.fround(t + d * Math.abs(t) * 2 ** -23), Math.fround(t + d * 1e-30));
    for (const y of ys) {
      const want = bnFloat32(y, Math.fround(mean), inv, Math.fround(beta)) >= 0;
      const got = neg ? y <= t : y >= t;
      assert.equal(got, want, `mean ${mean} inv ${inv} beta ${beta} y ${y}: t ${t} neg ${neg}`);
    }
  }
});

test("random BinaryNets ('latent' and signed 'bop'; 'same' padding, pools, partial 32-bit words): packed logits equal the float model's", () => {
  const rng = new Rng(3);
  for (const kernels of ['latent', 'bop'] as const) {
    const model = binaryNet({ width: 0.07, seed: 11, kernels }); // 9, 9, 18, 18, 36, 36 filters; dense 72, 72, 10
    if (kernels === 'bop') signKernels(model);
    randomizeBn(model, rng);
    // dyadic inputs: every sum is exact in float32, so the outputs are identical (up to 0 difference)
    const x = dyadicImages(6, [32, 32, 3], rng);
    for (const k of availableKernels()) compare(model, x, [32, 32, 3], true, k);
    // arbitrary float inputs: the first layer may round differently; logits within 1e-4, same classes
    const xf = Float32Array.from({ length: 6 * 3072 }, () => (rng.next() - 0.5) * 2);
    compare(model, xf, [32, 32, 3], false);
    model.dispose();
  }
});

test('general BN (γ < 0: folded scale negative) with max-pool before BN, strides, odd sizes and padding', () => {
  const rng = new Rng(4);
  const model = tf.sequential();
  model.add(
    new QuantConv2D({
      filters: 5,
      kernelSize: 3,
      padding: 'same',
      inputQuantizer: null,
      kernelQuantizer: 'ste_sign',
      binaryKernel: true,
      seed: 1,
      inputShape: [7, 9, 3],
    }),
  );
  model.add(new BatchNorm({ scale: true, center: true }));
  model.add(
    new QuantConv2D({
      filters: 37,
      kernelSize: 3,
      padding: 'same',
      inputQuantizer: 'ste_sign',
      kernelQuantizer: 'ste_sign',
      binaryKernel: true,
      seed: 2,
    }),
  );
  model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  model.add(new BatchNorm({ scale: true, center: true }));
  model.add(
    new QuantConv2D({
      filters: 33,
      kernelSize: 2,
      strides: 2,
      padding: 'same',
      inputQuantizer: 'ste_sign',
      kernelQuantizer: 'ste_sign',
      binaryKernel: true,
      seed: 3,
    }),
  );
  model.add(new BatchNorm({ scale: true, center: false }));
  model.add(tf.layers.flatten());
  model.add(
    new QuantDense({ units: 6, inputQuantizer: 'ste_sign', kernelQuantizer: 'ste_sign', binaryKernel: true, seed: 4 }),
  );
  model.add(new BatchNorm({ scale: true, center: true }));
  model.add(tf.layers.activation({ activation: 'softmax' }));
  randomizeBn(model, rng, true);
  const spec = packModel(model);
  const negs = spec.stages.flatMap((s) => (s.post.kind === 'threshold' ? Array.from(s.post.neg) : []));
  assert.ok(negs.includes(1) && negs.includes(0), 'both threshold directions occur');
  for (const k of availableKernels()) compare(model, dyadicImages(20, [7, 9, 3], rng), [7, 9, 3], true, k);
  model.dispose();
});

test('trained smoke model (Bop, 1 epoch): same classes as the float model on every test image; export/import round trip', async () => {
  const model = binaryNet({ width: 1 / 16, seed: 5 });
  const opt = new CaseOptimizer(
    [{ name: 'bop', claims: (v) => v.binary, optimizer: new BopOptimizer({ gamma: 1e-3, threshold: 1e-6 }) }],
    { name: 'adam', optimizer: new AdamOptimizer({ lr: 0.01 }) },
  );
  await train({
    model,
    optimizer: opt,
    train: tinySplit(100, 1),
    val: tinySplit(20, 2),
    epochs: 1,
    batchSize: 20,
    rng: new Rng(5),
    log: null,
  });
  const test = tinySplit(40, 9).batch(
    Int32Array.from({ length: 40 }, (_, i) => i),
    null,
  );
  const x = test.x.dataSync() as Float32Array;
  const out = compare(model, x, [32, 32, 3], false);

  const spec = packModel(model);
  const bytes = encodePacked(spec);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bnnp-')), 'model.bnnp');
  assert.equal(savePacked(spec, file), bytes.length);
  const again = new PackedModel(loadPacked(file)).predict(x);
  assert.deepEqual(Array.from(again.logits), Array.from(out.logits));
  assert.deepEqual(decodePacked(bytes), spec);
  const floatBytes = await floatModelBytes(model);
  assert.ok(floatBytes / bytes.length > 8, `size ratio ${floatBytes / bytes.length}`); // tiny width: BN/header overhead

  const s = await packedSummary(model, { images: test.x as tf.Tensor4D, labels: test.y });
  assert.equal(s.n, 40);
  assert.equal(s.agreement, 1);
  assert.equal(s.floatAccuracy, s.packedAccuracy);
  assert.ok(
    s.maxLogitDiff < 1e-3 && s.floatBytes === floatBytes && s.packedBytes === bytes.length && s.packedImagesPerSec > 0,
  );
  assert.equal(s.batch1Images, 40);
  assert.ok(s.packedImagesPerSecBatch1 > 0 && s.floatImagesPerSecBatch1 > 0);
  assert.ok(Math.abs(s.speedupBatch1 - s.packedImagesPerSecBatch1 / s.floatImagesPerSecBatch1) < 1e-9);
  const engines = summaryEngines(s);
  assert.deepEqual(Object.keys(engines[1].imagesPerSec), ['batch 1', 'batch 50']);
  assert.equal(engines[1].bytes, bytes.length);
  assert.match(summaryMarkdown(s, 'tiny'), /\| images \/ s, batch 1 \(40 images\) \|/);
  tf.dispose([test.x, test.y]);
  model.dispose();
});

test('a half-width BinaryNet packs more than 20× smaller than its tf.io weights', async () => {
  const model = binaryNet({ width: 0.5, seed: 6, kernels: 'latent' });
  const bytes = encodePacked(packModel(model)).length;
  const ratio = (await floatModelBytes(model)) / bytes;
  assert.ok(ratio > 20 && ratio < 32, `ratio ${ratio}`);
  model.dispose();
});

test('clear errors: an untrained bop model (kernels not ±1), a corrupt file, wrong image shape', () => {
  const model = binaryNet({ width: 1 / 16, seed: 7, kernels: 'bop' });
  assert.throws(() => packModel(model), /not ±1.*signKernels/);
  signKernels(model);
  const spec = packModel(model);
  const bytes = encodePacked(spec);
  assert.throws(() => decodePacked(bytes.subarray(0, 20), 'x.bnnp'), /x\.bnnp: not a valid packed BNN file/);
  const bad = bytes.slice();
  bad[0] = 0;
  assert.throws(() => decodePacked(bad, 'y.bnnp'), /bad magic/);
  const pm = new PackedModel(spec, 'js');
  assert.throws(() => pm.predict(new Float32Array(100)), /whole number/);
  assert.throws(() => pm.predict(tf.zeros([1, 8, 8, 3])), /expected images \[n, 32, 32, 3\]/);
  model.dispose();
});
