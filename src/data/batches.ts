/**
 * tfjs batches from plain splits. Tensors are made per batch and owned by the caller (dispose them, or make them
 * inside tf.tidy); nothing long-lived holds tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../random';
import { AugmentOptions, classificationBatch, segmentationBatch } from './augment';
import { ClassificationSplit, SegmentationSplit } from './types';

/** What the training loop (src/train/loop.ts `SplitSource`) draws batches from. */
export interface BatchSource {
  readonly n: number;
  /** Tensors for examples `indices`; augmented with `rng` when given (training), plain when null (evaluation). */
  batch(indices: Int32Array, rng: Rng | null): { x: tf.Tensor; y: tf.Tensor };
}

/**
 * A classification split as a BatchSource: x float32 [b, H, W, C] in [−1, 1], y one-hot float32 [b, numClasses].
 * `augment` applies only when the loop passes an rng (training).
 */
export function classificationSource(
  split: ClassificationSplit,
  opts: { numClasses?: number; shape?: [number, number, number]; augment?: AugmentOptions | null } = {},
): BatchSource {
  const numClasses = opts.numClasses ?? 10;
  const shape = opts.shape ?? [32, 32, 3];
  return {
    n: split.n,
    batch(indices, rng) {
      const a = classificationBatch(split, indices, { shape, numClasses, augment: opts.augment ?? null, rng });
      return { x: tf.tensor4d(a.x, a.shape), y: tf.tensor2d(a.y, [indices.length, numClasses]) };
    },
  };
}

/** A segmentation split as a BatchSource: x [b, S, S, 3] in [−1, 1], y one-hot [b, S, S, 3]; optional joint flip. */
export function segmentationSource(split: SegmentationSplit, size: number, opts: { flip?: boolean } = {}): BatchSource {
  return {
    n: split.n,
    batch(indices, rng) {
      const a = segmentationBatch(split, indices, size, { flip: opts.flip, rng });
      return { x: tf.tensor4d(a.x, a.shape), y: tf.tensor4d(a.y, [indices.length, size, size, 3]) };
    },
  };
}

export interface MakeBatchesOptions {
  batchSize: number;
  /** Draws the shuffle and the augmentation (required when shuffle or augment is on). */
  rng?: Rng | null;
  augment?: AugmentOptions | null;
  /** Shuffle with rng.permutation(n) (default true when an rng is given). */
  shuffle?: boolean;
  /** Drop the last incomplete batch (default false). */
  dropRemainder?: boolean;
  numClasses?: number;
  shape?: [number, number, number];
}

/**
 * One epoch of batches: yields {x: Tensor4D float32 normalized, y: Tensor2D one-hot, indices}. The caller disposes
 * x and y. Draws: first the permutation (if shuffling), then each batch's augmentation as it is made.
 */
export function* makeBatches(split: ClassificationSplit, opts: MakeBatchesOptions): Generator<{ x: tf.Tensor4D; y: tf.Tensor2D; indices: Int32Array }> {
  const { batchSize } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`makeBatches: batchSize must be a positive integer, got ${batchSize}`);
  const rng = opts.rng ?? null;
  const shuffle = opts.shuffle ?? rng != null;
  if ((shuffle || opts.augment) && !rng) throw new Error('makeBatches: shuffle/augment need an rng');
  const numClasses = opts.numClasses ?? 10;
  const order = shuffle ? rng!.permutation(split.n) : Int32Array.from({ length: split.n }, (_, i) => i);
  const end = opts.dropRemainder ? split.n - (split.n % batchSize) : split.n;
  for (let s = 0; s < end; s += batchSize) {
    const indices = order.slice(s, Math.min(s + batchSize, end));
    const a = classificationBatch(split, indices, { shape: opts.shape, numClasses, augment: opts.augment ?? null, rng });
    yield { x: tf.tensor4d(a.x, a.shape), y: tf.tensor2d(a.y, [indices.length, numClasses]), indices };
  }
}
