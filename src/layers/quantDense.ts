/** Larq `QuantDense`: matrix product of the quantized input with the quantized kernel. */
import * as tf from '@tensorflow/tfjs';
import { QuantizerBase, type QuantArgsBase, type Shape } from './base';

export interface QuantDenseArgs extends QuantArgsBase {
  units: number;
  name?: string;
  inputShape?: number[];
}

/** y = q_in(x) · q_k(K), K of shape [D_in, units]. */
export class QuantDense extends QuantizerBase {
  static className = 'QuantDense';
  readonly units: number;

  constructor(args: QuantDenseArgs) {
    super(args);
    if (!(args.units > 0)) throw new Error(`QuantDense: units must be > 0, got ${args.units}`);
    this.units = args.units;
  }

  protected kernelShape(inputDim: number): number[] {
    return [inputDim, this.units];
  }

  protected get outputDim(): number {
    return this.units;
  }

  protected op(x: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
    return tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D);
  }

  computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = inputShape as Shape;
    return [...s.slice(0, -1), this.units];
  }

  protected ownConfig(): tf.serialization.ConfigDict {
    return { units: this.units };
  }
}

tf.serialization.registerClass(QuantDense);
