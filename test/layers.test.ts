import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  BatchNorm,
  isQuantLayer,
  QuantConv2D,
  QuantDense,
  QuantizerBase,
  SeededDropout,
  modelVariables,
  type QuantArgsBase,
} from '../src/layers';
import { binaryNet } from '../src/models/binarynet';
import { saveModelToMemory, loadModelFromMemory } from '../src/models/io';

before(async () => {
  await tf.setBackend('cpu');
});

test('QuantConv2D: ste_sign input and kernel, no bias by default, valid/same shapes', () => {
  const layer = new QuantConv2D({
    filters: 2,
    kernelSize: 3,
    padding: 'same',
    inputQuantizer: 'ste_sign',
    kernelQuantizer: 'ste_sign',
    seed: 1,
  });
  const x = tf.randomNormal([1, 5, 5, 3], 0, 1, 'float32', 2);
  const y = layer.apply(x) as tf.Tensor;
  assert.deepEqual(y.shape, [1, 5, 5, 2]);
  assert.equal(layer.trainableWeights.length, 1);
  const ref = tf.conv2d(
    tf.where(tf.greaterEqual(x, 0), 1, -1) as tf.Tensor4D,
    tf.where(tf.greaterEqual(layer.kernelVariable(), 0), 1, -1) as tf.Tensor4D,
    1,
    'same',
  );
  assert.deepEqual(Array.from(y.dataSync()), Array.from(ref.dataSync()));
  const valid = new QuantConv2D({ filters: 4, kernelSize: 3 });
  assert.deepEqual((valid.apply(x) as tf.Tensor).shape, [1, 3, 3, 4]);
  assert.equal(valid.binaryKernel, false);
  assert.equal(new QuantConv2D({ filters: 1, kernelSize: 3, binaryKernel: true }).binaryKernel, true);
});

test('QuantDense quantizes input and kernel', () => {
  const layer = new QuantDense({
    units: 3,
    inputQuantizer: 'ste_sign',
    kernelQuantizer: 'ste_sign',
    kernelConstraint: 'weight_clip',
    seed: 3,
  });
  const x = tf.tensor2d([[0.2, -0.1, 0, 5]]);
  const y = layer.apply(x) as tf.Tensor;
  const k = tf.where(tf.greaterEqual(layer.kernelVariable(), 0), 1, -1);
  const ref = tf.matMul(tf.tensor2d([[1, -1, 1, 1]]), k as tf.Tensor2D);
  assert.deepEqual(Array.from(y.dataSync()), Array.from(ref.dataSync()));
  assert.equal(layer.binaryKernel, true);
});

test('BatchNorm: batch statistics in training, moving statistics (momentum 0.99) in inference', () => {
  const bn = new BatchNorm({ scale: false });
  const x = tf.tensor2d([
    [1, 2],
    [3, 6],
  ]);
  const yt = bn.apply(x, { training: true }) as tf.Tensor;
  // mean [2,4], var [1,4] (biased), eps 1e-3
  const exp = [-1 / Math.sqrt(1.001), -2 / Math.sqrt(4.001), 1 / Math.sqrt(1.001), 2 / Math.sqrt(4.001)];
  Array.from(yt.dataSync()).forEach((v, i) => assert.ok(Math.abs(v - exp[i]) < 1e-5));
  const [mm, mv] = bn
    .getWeights()
    .slice(-2)
    .map((w) => Array.from(w.dataSync()));
  assert.ok(Math.abs(mm[0] - 0.02) < 1e-6 && Math.abs(mm[1] - 0.04) < 1e-6);
  assert.ok(Math.abs(mv[0] - (0.99 + 0.01 * 1)) < 1e-6 && Math.abs(mv[1] - (0.99 + 0.01 * 4)) < 1e-6);
  const yi = bn.apply(x, { training: false }) as tf.Tensor;
  assert.ok(Math.abs(yi.dataSync()[0] - (1 - 0.02) / Math.sqrt(mv[0] + 1e-3)) < 1e-5);
  assert.equal(bn.trainableWeights.length, 1); // beta only when scale=false
});

test('SeededDropout: identity at inference, seeded masks that change per step, state round trip', () => {
  const d = new SeededDropout({ rate: 0.5, seed: 7 });
  const x = tf.ones([1000]);
  assert.deepEqual(Array.from((d.apply(x) as tf.Tensor).dataSync()).slice(0, 3), [1, 1, 1]);
  const state = d.rng.getState();
  const a = Array.from((d.apply(x, { training: true }) as tf.Tensor).dataSync());
  const b = Array.from((d.apply(x, { training: true }) as tf.Tensor).dataSync());
  assert.notDeepEqual(a, b);
  assert.ok(a.every((v) => v === 0 || v === 2));
  const kept = a.filter((v) => v > 0).length;
  assert.ok(kept > 400 && kept < 600, `kept ${kept}`);
  d.rng.setState(state);
  assert.deepEqual(Array.from((d.apply(x, { training: true }) as tf.Tensor).dataSync()), a);
});

test('BinaryNet at full width: layer list and parameter counts of the original', () => {
  const m = binaryNet({ kernels: 'bop' });
  const names = m.layers.map((l) => l.getClassName());
  assert.deepEqual(names, [
    'QuantConv2D',
    'BnnBatchNorm',
    'QuantConv2D',
    'MaxPooling2D',
    'BnnBatchNorm',
    'QuantConv2D',
    'BnnBatchNorm',
    'QuantConv2D',
    'MaxPooling2D',
    'BnnBatchNorm',
    'QuantConv2D',
    'BnnBatchNorm',
    'QuantConv2D',
    'MaxPooling2D',
    'BnnBatchNorm',
    'Flatten',
    'QuantDense',
    'BnnBatchNorm',
    'QuantDense',
    'BnnBatchNorm',
    'QuantDense',
    'BnnBatchNorm',
    'Activation',
  ]);
  const first = m.layers[0] as QuantConv2D;
  assert.equal(first.padding, 'valid');
  assert.equal(first.inputQuantizer, null);
  assert.deepEqual(m.getLayer('flatten').outputShape, [null, 4608]);
  const vars = modelVariables(m);
  const kernels = vars.filter((v) => v.binary);
  assert.equal(kernels.length, 9); // first and last layers are binary too
  assert.equal(
    kernels.reduce((a, v) => a + v.variable.size, 0),
    10_352_000,
  );
  assert.equal(
    vars.filter((v) => !v.binary).reduce((a, v) => a + v.variable.size, 0),
    3_850,
  );
  assert.ok(vars.filter((v) => !v.binary).every((v) => v.name === 'beta'));
  assert.equal(m.countParams(), 10_363_550);
  for (const l of m.layers)
    if (l instanceof BatchNorm) assert.deepEqual([l.momentum, l.epsilon, l.scale, l.center], [0.99, 1e-3, false, true]);
  const latent = binaryNet({ kernels: 'latent', width: 0.125 });
  assert.ok(
    modelVariables(latent)
      .filter((v) => v.binary)
      .every((v) => v.clip),
  );
  m.dispose();
  latent.dispose();
});

test('BinaryNet width and dropout options', () => {
  const m = binaryNet({ width: 0.25, dropout: 0.25, seed: 3 });
  assert.equal(m.layers.filter((l) => l instanceof SeededDropout).length, 8); // after 6 convs and 2 hidden dense
  assert.deepEqual(m.getLayer('flatten').outputShape, [null, 3 * 3 * 128]);
  assert.throws(() => binaryNet({ width: 0 }), /width must be > 0/);
  assert.throws(() => binaryNet({ dropout: 1 }), /dropout must be in \[0, 1\)/);
  m.dispose();
});

test('a saved model loads back with identical outputs (tf.io round trip, custom layers registered)', async () => {
  const m = binaryNet({ width: 0.0625, dropout: 0.25, seed: 5, kernels: 'latent' });
  const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 9);
  m.apply(x, { training: true }); // move BN statistics away from their initial values
  const y0 = (m.predict(x) as tf.Tensor).dataSync();
  const artifacts = await saveModelToMemory(m);
  const loaded = await loadModelFromMemory(artifacts);
  const y1 = (loaded.predict(x) as tf.Tensor).dataSync();
  assert.deepEqual(Array.from(y1), Array.from(y0));
  assert.deepEqual(
    loaded.layers.map((l) => l.getClassName()),
    m.layers.map((l) => l.getClassName()),
  );
  assert.equal((loaded.getLayer('quant_conv2d_2') as QuantConv2D).kernelQuantizer, 'ste_sign');
});

test('QuantConv2D / QuantDense config: the keys and values saved models carry (Keras layer keys, own keys, quantizer keys)', () => {
  const conv = new QuantConv2D({
    filters: 4,
    kernelSize: 3,
    strides: 2,
    padding: 'same',
    kernelQuantizer: 'ste_sign',
    kernelConstraint: 'weight_clip',
    seed: 11,
    name: 'c',
  });
  const { name: _n, trainable: _t, dtype: _d, ...convOwn } = conv.getConfig();
  assert.deepEqual(Object.entries(convOwn), [
    ['filters', 4],
    ['kernelSize', 3],
    ['strides', 2],
    ['padding', 'same'],
    ['inputQuantizer', null],
    ['kernelQuantizer', 'ste_sign'],
    ['binaryKernel', true],
    ['kernelConstraint', 'weight_clip'],
    ['useBias', false],
    ['seed', 11],
  ]);
  const dense = new QuantDense({ units: 5, inputQuantizer: 'ste_sign', binaryKernel: true, useBias: true, name: 'd' });
  const { name: _n2, trainable: _t2, dtype: _d2, ...denseOwn } = dense.getConfig();
  assert.deepEqual(Object.entries(denseOwn), [
    ['units', 5],
    ['inputQuantizer', 'ste_sign'],
    ['kernelQuantizer', null],
    ['binaryKernel', true],
    ['kernelConstraint', null],
    ['useBias', true],
    ['seed', null],
  ]);
  // tfjs' deserialization hands string values back camelCased: the layers accept both spellings.
  const back = QuantConv2D.fromConfig(QuantConv2D, {
    ...conv.getConfig(),
    kernelQuantizer: 'steSign',
    kernelConstraint: 'weightClip',
  } as tf.serialization.ConfigDict) as QuantConv2D;
  assert.deepEqual([back.kernelQuantizer, back.kernelConstraint, back.binaryKernel], ['ste_sign', 'weight_clip', true]);
});

test('QuantizerBase: a subclass gives only its kernel shape and op; quantizers, bias, kernel and binary-ness come from the base', () => {
  /** y = q(x) · q(K)ᵀ with K of shape [units, D_in]: a dense layer with a transposed kernel. */
  class TransposedDense extends QuantizerBase {
    static className = 'TestTransposedDense';
    constructor(
      readonly units: number,
      args: QuantArgsBase,
    ) {
      super(args);
    }
    protected kernelShape(inputDim: number) {
      return [this.units, inputDim];
    }
    protected get outputDim() {
      return this.units;
    }
    protected op(x: tf.Tensor, k: tf.Tensor) {
      return tf.matMul(x as tf.Tensor2D, k as tf.Tensor2D, false, true);
    }
    computeOutputShape(s: (number | null)[] | (number | null)[][]) {
      return [(s as (number | null)[])[0], this.units];
    }
    protected ownConfig() {
      return { units: this.units };
    }
  }
  const layer = new TransposedDense(2, {
    inputQuantizer: 'ste_sign',
    kernelQuantizer: 'ste_sign',
    useBias: true,
    seed: 4,
  });
  assert.throws(() => layer.kernelVariable(), /TestTransposedDense .*: kernel used before the layer was built/);
  const x = tf.tensor2d([[0.5, -2, 0]]);
  const y = layer.apply(x) as tf.Tensor;
  assert.deepEqual(layer.kernelVariable().shape, [2, 3]);
  assert.equal(layer.trainableWeights.length, 2); // kernel and bias
  assert.equal(layer.binaryKernel, true);
  assert.ok(isQuantLayer(layer));
  const k = tf.where(tf.greaterEqual(layer.kernelVariable(), 0), 1, -1);
  const ref = tf.matMul(tf.tensor2d([[1, -1, 1]]), k as tf.Tensor2D, false, true);
  assert.deepEqual(Array.from(y.dataSync()), Array.from(ref.dataSync())); // zero bias at init
  assert.equal(
    modelVariables(
      tf.sequential({ layers: [new TransposedDense(1, { binaryKernel: true, inputShape: [3] } as QuantArgsBase)] }),
    ).filter((v) => v.binary).length,
    1,
  );
  assert.equal(layer.getConfig().units, 2);
});
