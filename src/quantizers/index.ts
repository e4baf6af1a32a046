/**
 * Quantizers with Larq semantics (larq/larq `quantizers.py`, `math.py`).
 *
 * Larq's sign is `sign(sign(x) + 0.1)`: +1 for x ≥ 0, −1 for x < 0. It never returns 0, unlike `tf.sign(0) = 0`.
 */
import * as tf from '@tensorflow/tfjs';
import { larqSignFused, steGradFused } from '../backend/fused';

/** Larq's `lq.math.sign`: +1 where x ≥ 0, −1 where x < 0 (so sign(0) = +1). No gradient defined. */
export function larqSign<T extends tf.Tensor>(x: T): T {
  // one fused pass on the wasm backend (src/backend/fused.ts), same values
  const fused = larqSignFused(x);
  if (fused) return fused;
  // Larq's own formulation: 3 elementwise kernels, no temporaries of ones.
  return tf.tidy(() => tf.sign(tf.add(tf.sign(x), 0.1)) as T);
}

/**
 * Straight-through sign estimator (Larq `ste_sign`, Courbariaux et al. 2016 / Hubara et al. 2016).
 *
 *   forward:  q(x) = +1 if x ≥ 0 else −1
 *   backward: ∂L/∂x = ∂L/∂q · 1{|x| ≤ clipValue}   (inclusive mask, clipValue = 1)
 */
export function steSign<T extends tf.Tensor>(x: T, clipValue = 1): T {
  const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input]);
    return {
      value: larqSign(input),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        steGradFused(dy, saved[0], clipValue) ??
        tf.mul(dy, tf.cast(tf.lessEqual(tf.abs(saved[0]), clipValue), dy.dtype)),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as T;
}

/** Names by which layers refer to quantizers in their (serializable) configs. */
export type QuantizerName = 'ste_sign' | null;

/** Precision in bits that a quantizer gives a tensor (Larq ≥ 0.9's `precision`). */
export function quantizerPrecision(name: QuantizerName): 1 | 32 {
  return name === 'ste_sign' ? 1 : 32;
}

/** Applies a named quantizer; null is the identity. */
export function applyQuantizer<T extends tf.Tensor>(name: QuantizerName, x: T): T {
  if (name === null || name === undefined) return x;
  if (name === 'ste_sign') return steSign(x);
  throw new Error(`Unknown quantizer '${name as string}'. Allowed: 'ste_sign' or null.`);
}
