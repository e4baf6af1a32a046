import * as tf from '@tensorflow/tfjs';
import type { ModelVariable } from '../layers';

/** Serializable optimizer state: JSON metadata plus named tensors (slots), keyed `<layer>/<variable>/<slot>`. */
export interface OptimizerState {
  meta: Record<string, unknown>;
  tensors: Record<string, tf.Tensor>;
}

/** An optimizer that updates a fixed set of model variables from their gradients. */
export interface Optimizer {
  /** 'bop', 'adam', 'case'. */
  readonly kind: string;
  /** Steps applied so far (Keras `iterations`); schedules are evaluated at this count. */
  iterations: number;
  /** Applies one step; `grads[i]` is the gradient of `vars[i]`. Disposes nothing it was given. */
  apply(vars: ModelVariable[], grads: tf.Tensor[]): void;
  /** Current hyperparameters (γ, τ, lr, …) at the next step. */
  hyper(): Record<string, number>;
  /** Slots and counters, copied (the caller disposes the tensors). */
  getState(): OptimizerState;
  /** Restores what getState returned; slot tensors are copied. */
  setState(state: OptimizerState): void;
  dispose(): void;
}

export const varKey = (v: ModelVariable) => `${v.layer}/${v.name}`;
