/** What the training loop and the settling pass draw batches from. */
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '../random';

/** A split of a dataset that the loop can draw batches from. */
export interface SplitSource {
  /** Number of examples. */
  readonly n: number;
  /** Inputs and targets of these examples as tensors; augmented with `rng` when given (training only). */
  batch(indices: Int32Array, rng: Rng | null): { x: tf.Tensor; y: tf.Tensor };
}
