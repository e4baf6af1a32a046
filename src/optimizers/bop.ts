/**
 * Bop, the binary optimizer of Helwegen et al., "Latent Weights Do Not Exist: Rethinking Binarized
 * Neural Network Optimization" (NeurIPS 2019), exactly as in the authors' code
 * (plumerai/rethinking-bnn-optimization `optimizers.py` = larq 0.7.4 `optimizers_v2.py`):
 *
 *   m_t = (1 − γ)·m_{t−1} + γ·g_t                      m_0 = 0 (zero-initialised slot)
 *   w_t = sign(−sign(w_{t−1}·m_t − τ) · w_{t−1})       sign(0) = +1 (Larq's sign)
 *
 * so a weight flips iff w·m_t > τ (strict); when w·m_t = τ exactly the weight is set to +1 (as the original). γ (adaptivity
 * rate) and τ (threshold) may be schedules, evaluated at Bop's own step count. Binary weights are ±1
 * after the first step and stay ±1.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelVariable } from '../layers';
import { larqSign } from '../quantizers';
import { bopUpdateFused } from '../backend/fused';
import { ScheduleLike, scheduleValue, validateSchedule } from './schedules';
import { Optimizer, OptimizerState, varKey } from './types';

export interface BopConfig {
  /** Adaptivity rate γ (report: 1e-4, ×0.1 every 100 epochs). */
  gamma: ScheduleLike;
  /** Threshold τ (report: 1e-8). */
  threshold: ScheduleLike;
}

/** One Bop step on tensors, for tests and for the optimizer: returns [w_t, m_t]. */
export function bopUpdate(
  w: tf.Tensor,
  m: tf.Tensor,
  g: tf.Tensor,
  gamma: number,
  threshold: number,
): [tf.Tensor, tf.Tensor] {
  // one fused pass on the wasm backend (src/backend/fused.ts), same float32 arithmetic
  const fused = bopUpdateFused(w, m, g, gamma, threshold);
  if (fused) return fused;
  return tf.tidy(() => {
    const mNew = tf.add(tf.mul(m, 1 - gamma), tf.mul(g, gamma));
    // w_t = lq.math.sign(−tf.sign(w·m − τ)·w): flip iff w·m > τ; at w·m = τ exactly, tf.sign gives 0 and
    // Larq's sign(0) = +1 sets the weight to +1 (the original code's behaviour, kept to the letter).
    const z = tf.mul(tf.neg(tf.sign(tf.sub(tf.mul(w, mNew), threshold))), w);
    const wNew = larqSign(z);
    return [wNew, mNew] as [tf.Tensor, tf.Tensor];
  });
}

export class BopOptimizer implements Optimizer {
  readonly kind = 'bop';
  iterations = 0;
  readonly gamma: ScheduleLike;
  readonly threshold: ScheduleLike;
  private m = new Map<string, tf.Variable>();

  constructor(config: BopConfig) {
    validateSchedule(config.gamma, 'Bop gamma');
    validateSchedule(config.threshold, 'Bop threshold');
    this.gamma = config.gamma;
    this.threshold = config.threshold;
  }

  hyper(): Record<string, number> {
    return {
      gamma: scheduleValue(this.gamma, this.iterations),
      threshold: scheduleValue(this.threshold, this.iterations),
    };
  }

  apply(vars: ModelVariable[], grads: tf.Tensor[]): void {
    const { gamma, threshold } = this.hyper();
    vars.forEach((v, i) => {
      if (!v.binary)
        throw new Error(`Bop was given the non-binary variable ${varKey(v)}; route it to another optimizer`);
      const key = varKey(v);
      let m = this.m.get(key);
      if (!m) {
        m = tf.variable(tf.zerosLike(v.variable), false, `bop_m_${key}_${Math.random().toString(36).slice(2)}`);
        this.m.set(key, m);
      }
      const mSlot = m;
      tf.tidy(() => {
        const [wNew, mNew] = bopUpdate(v.variable, mSlot, grads[i], gamma, threshold);
        mSlot.assign(mNew);
        v.variable.assign(wNew);
      });
    });
    this.iterations++;
  }

  getState(): OptimizerState {
    const tensors: Record<string, tf.Tensor> = {};
    for (const [k, m] of this.m) tensors[`${k}/m`] = tf.clone(m);
    return { meta: { kind: this.kind, iterations: this.iterations }, tensors };
  }

  setState(state: OptimizerState): void {
    if (state.meta.kind !== this.kind)
      throw new Error(`Bop.setState: state is for '${String(state.meta.kind)}', not bop`);
    this.dispose();
    this.iterations = Number(state.meta.iterations);
    for (const [k, t] of Object.entries(state.tensors)) {
      if (!k.endsWith('/m')) throw new Error(`Bop.setState: unexpected slot '${k}'`);
      const key = k.slice(0, -2);
      this.m.set(key, tf.variable(tf.clone(t), false, `bop_m_${key}_${Math.random().toString(36).slice(2)}`));
    }
  }

  dispose(): void {
    for (const m of this.m.values()) m.dispose();
    this.m.clear();
  }
}
