/**
 * Models and inputs shared by the packed-inference tests: random BN statistics (negative scales, BN(y) = 0 hit
 * exactly), small sequential models that exercise every geometry the engines handle, dyadic inputs (the real
 * first layer's float sums are then exact, so every engine must give identical logits).
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNorm, QuantConv2D, QuantDense } from '../../src/layers';
import { Rng } from '../../src/random';

/** Random BN statistics around the pre-activations' range, some with γ < 0 and some hitting BN(y) = 0 exactly. */
export function randomizeBn(model: tf.LayersModel, rng: Rng): void {
  for (const layer of model.layers) {
    if (!(layer instanceof BatchNorm)) continue;
    const c = layer.getWeights()[0].shape[0];
    const w: tf.Tensor[] = [];
    if (layer.scale)
      w.push(tf.tensor1d(Array.from({ length: c }, () => (rng.next() < 0.3 ? -1 : 1) * (0.2 + rng.next()))));
    if (layer.center)
      w.push(tf.tensor1d(Array.from({ length: c }, (_, i) => (i % 4 === 0 ? 0 : (rng.next() - 0.5) * 2))));
    w.push(tf.tensor1d(Array.from({ length: c }, (_, i) => (i % 4 === 0 ? rng.int(7) - 3 : (rng.next() - 0.5) * 8))));
    w.push(tf.tensor1d(Array.from({ length: c }, () => 0.5 + rng.next() * 20)));
    layer.setWeights(w);
  }
}

/** n images of `per` values, each a multiple of 1/64 in [−1, 1]. */
export const dyadic = (n: number, per: number, rng: Rng): Float32Array =>
  Float32Array.from({ length: n * per }, () => (rng.int(129) - 64) / 64);

/** A model with a wide dense input (4096 bits = 32 v128 steps: the SIMD GEMM's 8-bit sums are widened mid-row). */
export function wideDenseModel(): tf.Sequential {
  const m = tf.sequential();
  const k = { kernelQuantizer: 'ste_sign' as const, binaryKernel: true };
  m.add(
    new QuantConv2D({
      filters: 64,
      kernelSize: 3,
      padding: 'same',
      inputQuantizer: null,
      ...k,
      seed: 1,
      inputShape: [8, 8, 3],
    }),
  );
  m.add(new BatchNorm({ scale: true, center: true }));
  m.add(tf.layers.flatten());
  m.add(new QuantDense({ units: 40, inputQuantizer: 'ste_sign', ...k, seed: 2 }));
  m.add(new BatchNorm({ scale: true, center: true }));
  m.add(new QuantDense({ units: 7, inputQuantizer: 'ste_sign', ...k, seed: 3 }));
  m.add(new BatchNorm({ scale: false, center: true }));
  return m;
}

/** Strides, odd sizes, 'same' padding on every side, a pool, partial 32-bit words, channels not multiples of 16. */
export function oddModel(): tf.Sequential {
  const m = tf.sequential();
  const k = { kernelQuantizer: 'ste_sign' as const, binaryKernel: true };
  m.add(
    new QuantConv2D({
      filters: 21,
      kernelSize: 3,
      padding: 'same',
      inputQuantizer: null,
      ...k,
      seed: 1,
      inputShape: [9, 11, 3],
    }),
  );
  m.add(new BatchNorm({ scale: true, center: true }));
  m.add(new QuantConv2D({ filters: 37, kernelSize: 3, padding: 'same', inputQuantizer: 'ste_sign', ...k, seed: 2 }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  m.add(new BatchNorm({ scale: true, center: true }));
  m.add(
    new QuantConv2D({
      filters: 150,
      kernelSize: 2,
      strides: 2,
      padding: 'same',
      inputQuantizer: 'ste_sign',
      ...k,
      seed: 3,
    }),
  );
  m.add(new BatchNorm({ scale: true, center: false }));
  m.add(new QuantConv2D({ filters: 33, kernelSize: 2, padding: 'valid', inputQuantizer: 'ste_sign', ...k, seed: 4 }));
  m.add(new BatchNorm({ scale: true, center: true }));
  m.add(tf.layers.flatten());
  m.add(new QuantDense({ units: 6, inputQuantizer: 'ste_sign', ...k, seed: 5 }));
  m.add(new BatchNorm({ scale: true, center: true }));
  m.add(tf.layers.activation({ activation: 'softmax' }));
  return m;
}
