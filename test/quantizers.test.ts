import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { larqSign, steSign, applyQuantizer } from '../src/quantizers';

before(async () => {
  await tf.setBackend('cpu');
});

test('larqSign is +1 at 0 and for positives, -1 for negatives', () => {
  const y = larqSign(tf.tensor1d([-2, -1e-9, 0, 1e-9, 3]));
  assert.deepEqual(Array.from(y.dataSync()), [-1, -1, 1, 1, 1]);
});

test('steSign forward is Larq sign, backward dy·1{|x|≤1} (inclusive)', () => {
  const x = tf.tensor1d([-1.5, -1, -0.3, 0, 0.7, 1, 1.0001]);
  assert.deepEqual(Array.from(steSign(x).dataSync()), [-1, -1, -1, 1, 1, 1, 1]);
  const dy = tf.tensor1d([1, 2, 3, 4, 5, 6, 7]);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(steSign(t), dy)))(x);
  assert.deepEqual(Array.from(g.dataSync()), [0, 2, 3, 4, 5, 6, 0]);
});

test('applyQuantizer: null is identity, unknown names are an error', () => {
  const x = tf.tensor1d([0.5, -0.5]);
  assert.equal(applyQuantizer(null, x), x);
  assert.throws(() => applyQuantizer('nope' as never, x), /Unknown quantizer 'nope'/);
});
