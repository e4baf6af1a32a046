/**
 * Packed binarized UNet (src/inference/graph.ts): skips, OR-pooling after BN, nearest upsampling and channel
 * concatenation on bits; logits equal to the float tfjs model's on random models, export/import of the graph.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../src/backend';
import { unet } from '../src/models/unet';
import { binaryNet } from '../src/models/binarynet';
import { randomizeBn } from './helpers/packedModels';
import { Rng } from '../src/random';
import {
  decodePacked,
  encodePacked,
  floatLogits,
  floatModelBytes,
  fusedSupports,
  PackedGraphModel,
  PackedModel,
  packGraph,
  signKernels,
} from '../src/inference';

before(async () => {
  await initBackend({ backend: 'wasm' });
});
after(() => shutdownBackend());

test("binarized UNet (random, latent and signed bop kernels, fused engine and reference path): packed logits equal the float model's", async () => {
  const rng = new Rng(31);
  for (const [kernels, width] of [
    ['latent', 1 / 8],
    ['bop', 3 / 16],
    ['latent', 1 / 2],
  ] as const) {
    const model = unet({ binary: true, width, imageSize: 16, kernels, seed: 7 });
    if (kernels === 'bop') signKernels(model);
    randomizeBn(model, rng);
    const spec = packGraph(model);
    assert.ok(
      spec.graph!.nodes.some((n) => n.op === 'concat') &&
        spec.graph!.nodes.some((n) => n.op === 'upsample') &&
        spec.graph!.nodes.some((n) => n.op === 'orpool'),
    );
    const n = 3;
    const x = Float32Array.from({ length: n * 16 * 16 * 3 }, () => (rng.int(129) - 64) / 64); // dyadic: exact first-layer sums
    const want = tf.tidy(() => floatLogits(model, tf.tensor4d(x, [n, 16, 16, 3])).dataSync()) as Float32Array;
    const probs = tf.tidy(() => (model.predict(tf.tensor4d(x, [n, 16, 16, 3])) as tf.Tensor).dataSync());
    const fusable = width === 1 / 2; // channel counts before each concatenation multiples of 16
    assert.equal(fusedSupports(spec) === null, fusable, `${kernels} ${width}: ${fusedSupports(spec)}`);
    for (const k of ['mix', 'simd', 'i64', 'js'] as const) {
      const pg = new PackedGraphModel(spec, k);
      assert.equal(pg.fused !== null, fusable && k !== 'js');
      const out = pg.predict(x);
      assert.equal(out.logits.length, want.length);
      for (let i = 0; i < want.length; i++) assert.equal(out.logits[i], want[i], `${kernels} ${k}: logit ${i}`);
      for (let i = 0; i < probs.length; i++)
        assert.ok(Math.abs(out.probs[i] - probs[i]) < 1e-5, `${kernels} ${k}: prob ${i}`);
      for (let p = 0; p < n * 256; p++) {
        let b = 0;
        for (let j = 1; j < 3; j++) if (want[p * 3 + j] > want[p * 3 + b]) b = j;
        assert.equal(out.classes[p], b);
      }
    }
    if (fusable) {
      const ref = new PackedGraphModel(spec, 'simd', { reference: true }).predict(x).logits;
      assert.deepEqual(Array.from(ref), Array.from(want));
      const two = new PackedGraphModel(spec, 'mix', { threads: 2 });
      await two.ready();
      assert.deepEqual(Array.from(two.predict(x).logits), Array.from(want), '2 threads');
      two.dispose();
    }
    // one file, graph included
    const bytes = encodePacked(spec);
    const again = decodePacked(bytes);
    assert.deepEqual(again, spec);
    assert.deepEqual(Array.from(new PackedGraphModel(again).predict(x).logits), Array.from(want));
    model.dispose();
  }
});

test('UNet packing: size ratio, clear errors for graphs in PackedModel and non-graph specs in PackedGraphModel', async () => {
  const model = unet({ binary: true, width: 0.5, imageSize: 32, kernels: 'latent', seed: 2 });
  const spec = packGraph(model);
  const ratio = (await floatModelBytes(model)) / encodePacked(spec).length;
  assert.ok(ratio > 20 && ratio < 32, `size ratio ${ratio}`);
  assert.throws(() => new PackedModel(spec), /graph.*PackedGraphModel/);
  const bn = binaryNet({ width: 1 / 16, seed: 1, kernels: 'latent' });
  assert.throws(() => packGraph(unet({ binary: false, width: 1 / 16, imageSize: 16 })), /not supported|real-valued/);
  const { packModel } = await import('../src/inference');
  assert.throws(() => new PackedGraphModel(packModel(bn)), /no graph/);
  model.dispose();
  bn.dispose();
});
