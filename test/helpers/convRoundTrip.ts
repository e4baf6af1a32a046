// A conv → transposed conv → gradients step run twice under tf.tidy on the current backend: for the tests that
// the training kernels neither leak tensors nor free or overwrite their inputs.
import * as tf from '@tensorflow/tfjs';

/**
 * Warms up once, then runs the step twice. `x` is [2, 6, 6, 3], `w` [3, 3, 3, 4]. Returns the tensor count before
 * and after the two steps and each step's scalar result.
 */
export function convRoundTripTwice(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
): { before: number; after: number; r1: number; r2: number } {
  const step = () =>
    tf.tidy(() => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.conv2dTranspose(
              tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'),
              b as tf.Tensor4D,
              [2, 6, 6, 3],
              2,
              'same',
            ),
          ),
        ),
      )([x, w]);
      return tf.add(tf.sum(g[0]), tf.sum(tf.matMul(tf.reshape(g[1], [9, 12]), tf.reshape(g[1], [9, 12]), true, false)));
    });
  step().dispose();
  const before = tf.memory().numTensors;
  const v1 = step();
  const r1 = v1.dataSync()[0];
  v1.dispose();
  const v2 = step();
  const r2 = v2.dataSync()[0];
  v2.dispose();
  return { before, after: tf.memory().numTensors, r1, r2 };
}
