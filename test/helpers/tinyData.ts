import * as tf from '@tensorflow/tfjs';
import type { SplitSource } from '../../src/train/loop';
import { Rng } from '../../src/random';

/** A small learnable 10-class problem on 32×32×3 inputs: class-dependent patterns plus noise. */
export function tinySplit(n: number, seed: number, opts: { nan?: boolean } = {}): SplitSource {
  const r = new Rng(seed);
  const X = new Float32Array(n * 3072);
  const Y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    Y[i] = i % 10;
    for (let j = 0; j < 3072; j++) X[i * 3072 + j] = (r.next() * 2 - 1) * 0.5 + ((j >> 5) % 10 === Y[i] ? 0.8 : -0.2);
  }
  return {
    n,
    batch(idx: Int32Array) {
      return tf.tidy(() => {
        const buf = new Float32Array(idx.length * 3072);
        idx.forEach((k, i) => buf.set(X.subarray(k * 3072, (k + 1) * 3072), i * 3072));
        const y = tf.oneHot(
          tf.tensor1d(
            Array.from(idx, (k) => Y[k]),
            'int32',
          ),
          10,
        );
        // a corrupt target (NaN) makes the loss NaN
        return { x: tf.tensor4d(buf, [idx.length, 32, 32, 3]), y: opts.nan ? tf.mul(y, NaN) : y };
      });
    },
  };
}
