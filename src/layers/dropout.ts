/** Dropout with its own seeded, checkpointed generator. */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../random';
import { baseArgs, type Kwargs, type Shape } from './base';

export interface SeededDropoutArgs {
  rate: number;
  seed: number;
  name?: string;
}

/**
 * Inverted dropout (Srivastava et al. 2014) with its own seeded generator, whose state is saved in
 * checkpoints, so that a resumed run draws the same masks. (tfjs' Dropout with a fixed seed draws the
 * same mask at every step; without one it uses Math.random and is not reproducible.)
 */
export class SeededDropout extends tf.layers.Layer {
  static className = 'SeededDropout';
  readonly rate: number;
  readonly seed: number;
  readonly rng: Rng;
  /** While true the layer passes its input through even in training mode (src/train/settle); draws nothing. */
  suspended = false;

  constructor(args: SeededDropoutArgs) {
    super(baseArgs(args));
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`SeededDropout: rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed;
    this.rng = new Rng(args.seed);
  }

  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor;
    if (kwargs.training !== true || this.rate === 0 || this.suspended) return x;
    return tf.tidy(() => {
      const keep = tf.cast(
        tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', this.rng.seed()), this.rate),
        'float32',
      );
      return tf.mul(x, tf.div(keep, 1 - this.rate));
    });
  }

  computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return inputShape as Shape;
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

tf.serialization.registerClass(SeededDropout);
