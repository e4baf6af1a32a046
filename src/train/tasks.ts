/**
 * What a training run optimizes and measures: a loss on the model's output and per-batch statistics
 * (plain sums) that add up over an epoch into accuracy and other metrics.
 */
import * as tf from '@tensorflow/tfjs';

export interface Task {
  readonly name: string;
  /** Mean loss of the batch; `yPred` is the model output (softmax probabilities). */
  loss(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar;
  /** Sums for this batch (e.g. [correct] or a flattened confusion matrix), added up over an epoch. */
  batchStats(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D;
  /** Accuracy and extra metrics from the summed stats of `examples` examples. */
  summarize(stats: Float64Array, examples: number): { accuracy: number; extra?: Record<string, number> };
}

/**
 * Keras `categorical_crossentropy` on softmax outputs as in TF 2.0: −Σ y·log(clip(p, ε, 1 − ε)), ε = 1e-7,
 * averaged over the batch (the original's loss).
 */
export function categoricalCrossentropy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const eps = 1e-7;
    const p = tf.clipByValue(yPred, eps, 1 - eps);
    return tf.mean(tf.neg(tf.sum(tf.mul(yTrue, tf.log(p)), -1))) as tf.Scalar;
  });
}

/** Image classification with one-hot labels: loss categorical cross-entropy, metric categorical accuracy. */
export const classification: Task = {
  name: 'classification',
  loss: categoricalCrossentropy,
  batchStats(yTrue, yPred) {
    return tf.tidy(
      () =>
        tf.reshape(
          tf.sum(tf.cast(tf.equal(tf.argMax(yTrue, -1), tf.argMax(yPred, -1)), 'float32')),
          [1],
        ) as tf.Tensor1D,
    );
  },
  summarize(stats, examples) {
    return { accuracy: stats[0] / examples };
  },
};
