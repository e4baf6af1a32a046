/**
 * Adam (Kingma & Ba, 2015) exactly as Keras' TF 2.0 `tf.keras.optimizers.Adam`, whose update the original
 * code runs (for the BN betas in Bop runs, and on the latent weights in the baseline):
 *
 *   t = iterations + 1
 *   m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
 *   w ← w − lr_t · m / (√v + ε),   lr_t = lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ)
 *
 * with Keras defaults β₁ = 0.9, β₂ = 0.999, ε = 1e-7. (tfjs' own Adam puts ε inside the bias correction,
 * a small difference; we follow Keras.) The learning rate may be a schedule evaluated at `iterations`.
 * Optional per-variable learning-rate multipliers give the paper's baseline "Xavier learning-rate scaling".
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelVariable } from '../layers';
import { ScheduleLike, scheduleValue, validateSchedule } from './schedules';
import { Optimizer, OptimizerState, varKey } from './types';
import { adamUpdateFused } from '../backend/fused';

export interface AdamConfig {
  lr: ScheduleLike;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Multiplies the lr of the variables it names (key `<layer>/<variable>`). */
  lrMultipliers?: Record<string, number>;
}

export class AdamOptimizer implements Optimizer {
  readonly kind = 'adam';
  iterations = 0;
  readonly lr: ScheduleLike;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly lrMultipliers: Record<string, number>;
  private slots = new Map<string, { m: tf.Variable; v: tf.Variable }>();

  constructor(config: AdamConfig) {
    validateSchedule(config.lr, 'Adam lr');
    this.lr = config.lr;
    this.beta1 = config.beta1 ?? 0.9;
    this.beta2 = config.beta2 ?? 0.999;
    this.epsilon = config.epsilon ?? 1e-7;
    this.lrMultipliers = config.lrMultipliers ?? {};
  }

  hyper(): Record<string, number> {
    return { lr: scheduleValue(this.lr, this.iterations) };
  }

  apply(vars: ModelVariable[], grads: tf.Tensor[]): void {
    const lr = scheduleValue(this.lr, this.iterations);
    const t = this.iterations + 1;
    const lrT = (lr * Math.sqrt(1 - Math.pow(this.beta2, t))) / (1 - Math.pow(this.beta1, t));
    vars.forEach((variable, i) => {
      const key = varKey(variable);
      let s = this.slots.get(key);
      if (!s) {
        const tag = Math.random().toString(36).slice(2);
        s = {
          m: tf.variable(tf.zerosLike(variable.variable), false, `adam_m_${key}_${tag}`),
          v: tf.variable(tf.zerosLike(variable.variable), false, `adam_v_${key}_${tag}`),
        };
        this.slots.set(key, s);
      }
      const slot = s;
      const mult = this.lrMultipliers[key] ?? 1;
      tf.tidy(() => {
        const g = grads[i];
        // one fused pass on the wasm backend (src/backend/fused.ts), same float32 arithmetic
        const fused = adamUpdateFused(
          variable.variable,
          slot.m,
          slot.v,
          g,
          lrT * mult,
          this.beta1,
          this.beta2,
          this.epsilon,
        );
        if (fused) {
          slot.m.assign(fused[1]);
          slot.v.assign(fused[2]);
          variable.variable.assign(fused[0]);
          return;
        }
        const m = tf.add(tf.mul(slot.m, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(slot.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        slot.m.assign(m);
        slot.v.assign(v);
        variable.variable.assign(
          tf.sub(variable.variable, tf.mul(tf.div(m, tf.add(tf.sqrt(v), this.epsilon)), lrT * mult)),
        );
      });
    });
    this.iterations++;
  }

  getState(): OptimizerState {
    const tensors: Record<string, tf.Tensor> = {};
    for (const [k, s] of this.slots) {
      tensors[`${k}/m`] = tf.clone(s.m);
      tensors[`${k}/v`] = tf.clone(s.v);
    }
    return { meta: { kind: this.kind, iterations: this.iterations }, tensors };
  }

  setState(state: OptimizerState): void {
    if (state.meta.kind !== this.kind)
      throw new Error(`Adam.setState: state is for '${String(state.meta.kind)}', not adam`);
    this.dispose();
    this.iterations = Number(state.meta.iterations);
    const keys = new Set(Object.keys(state.tensors).map((k) => k.replace(/\/(m|v)$/, '')));
    for (const key of keys) {
      const m = state.tensors[`${key}/m`];
      const v = state.tensors[`${key}/v`];
      if (!m || !v) throw new Error(`Adam.setState: slot pair for '${key}' incomplete`);
      const tag = Math.random().toString(36).slice(2);
      this.slots.set(key, {
        m: tf.variable(tf.clone(m), false, `adam_m_${key}_${tag}`),
        v: tf.variable(tf.clone(v), false, `adam_v_${key}_${tag}`),
      });
    }
  }

  dispose(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.clear();
  }
}

/**
 * Xavier learning-rate scaling (Courbariaux et al. 2015, as recommended by Alizadeh et al. 2019 and in
 * Larq's `XavierLearningRateScaling`): the lr of each binary kernel is multiplied by 1/√(1.5/(fan_in + fan_out)),
 * the inverse of the Glorot-uniform limit of that kernel.
 */
export function xavierLrMultipliers(vars: ModelVariable[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of vars) {
    if (!v.binary) continue;
    const s = v.variable.shape;
    const receptive = s.slice(0, -2).reduce((a, b) => a * b, 1);
    const fanIn = receptive * s[s.length - 2];
    const fanOut = receptive * s[s.length - 1];
    out[varKey(v)] = 1 / Math.sqrt(1.5 / (fanIn + fanOut));
  }
  return out;
}
