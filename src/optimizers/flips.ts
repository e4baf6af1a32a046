/**
 * Flip counting for binary weights. A flip is a change of a weight's binarized value, sign(w) with
 * Larq's sign, between two steps; for Bop's ±1 weights it is a change of the weight itself, for the
 * latent-weight baseline a change of sign of the latent weight.
 *
 * The paper plots πₜ = log(#flips/#weights + e⁻⁹) (Helwegen et al. 2019, Eq. 7).
 */
import * as tf from '@tensorflow/tfjs';

/** Number of positions where sign(a) ≠ sign(b) (Larq sign: sign(0) = +1), as a scalar tensor. */
export function countFlips(before: tf.Tensor, after: tf.Tensor): tf.Scalar {
  return tf.tidy(
    () => tf.sum(tf.cast(tf.notEqual(tf.greaterEqual(before, 0), tf.greaterEqual(after, 0)), 'int32')) as tf.Scalar,
  );
}

/** The paper's πₜ = ln(flipRatio + e⁻⁹) (pure, in ./flipMetric so that figures can import it without tfjs). */
export { logFlipRatio } from './flipMetric';
