/** Keras `BatchNormalization` (TF 2.0 semantics) as a tfjs-layers custom layer. */
import * as tf from '@tensorflow/tfjs';
import { batchNormTrainFused } from '../backend/fused';
import { baseArgs, type Kwargs, type Shape } from './base';

export interface BatchNormArgs {
  /** Keras default 0.99. */
  momentum?: number;
  /** Keras default 1e-3. */
  epsilon?: number;
  /** Learn β (Keras default true). */
  center?: boolean;
  /** Learn γ (BinaryNet: false). */
  scale?: boolean;
  name?: string;
}

/**
 * Batch normalization over the last axis, as Keras `BatchNormalization` (TF 2.0):
 *   training:  y = γ·(x − μ_B)/√(σ²_B + ε) + β, and moving stats ← m·moving + (1 − m)·batch stats
 *   inference: y = γ·(x − μ_mov)/√(σ²_mov + ε) + β
 * Keras runs the fused kernel on 4-D inputs, whose moving variance uses the unbiased (Bessel-corrected)
 * batch variance; on 2-D inputs it uses the biased one. We do the same.
 * Written with broadcasting ops rather than `tf.batchNorm`, whose gradient goes through `Tile`,
 * a slow kernel on the wasm backend.
 */
export class BatchNorm extends tf.layers.Layer {
  static className = 'BnnBatchNorm';
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  private gamma: tf.LayerVariable | null = null;
  private beta: tf.LayerVariable | null = null;
  private movingMean: tf.LayerVariable | null = null;
  private movingVariance: tf.LayerVariable | null = null;
  /** Replaces `momentum` in the moving-statistics update while set (src/train/settle: the cumulative average). */
  momentumOverride: number | null = null;

  constructor(args: BatchNormArgs = {}) {
    super(baseArgs(args));
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 1e-3;
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
  }

  build(inputShape: Shape | Shape[]): void {
    const s = inputShape as Shape;
    const c = s[s.length - 1] as number;
    if (this.scale) this.gamma = this.addWeight('gamma', [c], 'float32', tf.initializers.ones());
    if (this.center) this.beta = this.addWeight('beta', [c], 'float32', tf.initializers.zeros());
    this.movingMean = this.addWeight('moving_mean', [c], 'float32', tf.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [c], 'float32', tf.initializers.ones(), undefined, false);
    this.built = true;
  }

  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor;
    const training = kwargs.training === true;
    const axes = x.shape.map((_, i) => i).slice(0, -1);
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    // fused single-pass kernels with their own gradient on the wasm backend (src/backend/fused.ts)
    const fused = training
      ? batchNormTrainFused(x, this.beta ? this.beta.read() : null, this.gamma ? this.gamma.read() : null, this.epsilon)
      : null;
    if (training) {
      const m = fused ?? tf.moments(x, axes);
      mean = m.mean;
      variance = m.variance;
      // Moving statistics: not part of the gradient.
      const n = axes.reduce((p, a) => p * (x.shape[a] as number), 1);
      tf.tidy(() => {
        // Only assigned to non-trainable variables, so no gradient flows through these.
        const mu = mean;
        let v: tf.Tensor = variance;
        if (x.rank === 4 && n > 1) v = tf.mul(v, n / (n - 1));
        const mom = this.momentumOverride ?? this.momentum;
        this.movingMean!.write(tf.add(tf.mul(this.movingMean!.read(), mom), tf.mul(mu, 1 - mom)));
        this.movingVariance!.write(tf.add(tf.mul(this.movingVariance!.read(), mom), tf.mul(v, 1 - mom)));
      });
    } else {
      mean = this.movingMean!.read();
      variance = this.movingVariance!.read();
    }
    if (fused) return fused.y;
    let inv = tf.rsqrt(tf.add(variance, this.epsilon));
    if (this.gamma) inv = tf.mul(inv, this.gamma.read());
    let y = tf.mul(tf.sub(x, mean), inv);
    if (this.beta) y = tf.add(y, this.beta.read());
    return y;
  }

  computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return inputShape as Shape;
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
    };
  }
}

tf.serialization.registerClass(BatchNorm);
