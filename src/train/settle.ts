/**
 * The settled final score: batch-normalization statistics recomputed on the training set before the last score, as
 * is standard for binary networks (e.g. PyTorch's `torch.optim.swa_utils.update_bn`).
 *
 * During training each BN layer keeps moving statistics μ ← m·μ + (1 − m)·μ_B (m = 0.99: about the last 100
 * batches). While weights still flip, the pre-BN activations those batches saw come from networks that no longer
 * exist, so the moving statistics lag behind the final weights; in short runs this alone moves the score by several
 * points from one epoch to the next. Settling replaces them by those of the final network:
 *
 *   with the weights fixed, for batches k = 1..K of the training subset in its stored order (no shuffle, no
 *   augmentation, full batches of the run's batch size; the remainder is dropped), in training mode with dropout
 *   off:   μ ← μ_B,k/k + μ·(k − 1)/k    and    σ² ← σ²_B,k/k + σ²·(k − 1)/k
 *
 * i.e. the plain average of the per-batch mean and variance (unbiased for 4-D inputs, biased for 2-D, as Keras'
 * moving-variance update; ../layers/batchnorm). Nothing else changes: no gradient, no optimizer step, no random
 * draw (dropout layers are suspended, so their generators are where training left them).
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormLayers, dropoutLayers } from '../layers';
import type { SplitSource } from './split';

/** Recomputes every BN layer's moving statistics on `split` as the module comment says; returns the batches used (0: no BN layer). */
export function settleBatchNorm(model: tf.LayersModel, split: SplitSource, batchSize: number): number {
  if (!batchNormLayers(model).length) return 0;
  const batches = Math.floor(split.n / batchSize);
  if (batches < 1)
    throw new Error(`settleBatchNorm: batch size ${batchSize} is larger than the split (${split.n} examples)`);
  averageBatchStatistics(model, split, batchSize, batches, false);
  return batches;
}

/**
 * The pass behind settling: the first `batches` full batches of `split` in order, in training mode, each BN layer's
 * moving statistics left at the plain average of its batch statistics (momentum k/(k+1) for the k-th batch). Dropout
 * is suspended unless `dropoutOn` (then it draws from its generators as in training). Every layer's momentum and
 * suspension are restored afterwards.
 */
export function averageBatchStatistics(
  model: tf.LayersModel,
  split: SplitSource,
  batchSize: number,
  batches: number,
  dropoutOn: boolean,
): void {
  const bns = batchNormLayers(model);
  const drops = dropoutLayers(model);
  const suspended = drops.map((d) => d.suspended);
  for (const d of drops) d.suspended = !dropoutOn;
  try {
    for (let k = 0; k < batches; k++) {
      // momentum k/(k+1): the first batch replaces the statistics, the k-th enters with weight 1/(k+1)
      for (const bn of bns) bn.momentumOverride = k / (k + 1);
      const idx = new Int32Array(batchSize).map((_, i) => k * batchSize + i);
      tf.tidy(() => {
        const { x } = split.batch(idx, null);
        model.apply(x, { training: true });
      });
    }
  } finally {
    for (const bn of bns) bn.momentumOverride = null;
    drops.forEach((d, i) => (d.suspended = suspended[i]));
  }
}
