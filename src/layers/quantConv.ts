/** Larq `QuantConv2D`: 2-D convolution (NHWC) of the quantized input with the quantized kernel. */
import * as tf from '@tensorflow/tfjs';
import { QuantizerBase, type QuantArgsBase, type Shape } from './base';

export interface QuantConv2DArgs extends QuantArgsBase {
  filters: number;
  kernelSize: number;
  strides?: number;
  /** Keras default is 'valid'. 'same' pads with zeros, so padded inputs are 0, not ±1 (Larq pad_values=0). */
  padding?: 'same' | 'valid';
  name?: string;
  inputShape?: number[];
}

/**
 * y = conv2d(q_in(x), q_k(K), strides, padding), K of shape [k, k, C_in, filters]. Output side per spatial axis:
 * ⌈n / s⌉ with 'same' padding, ⌊(n − k) / s⌋ + 1 with 'valid'.
 *
 * Which kernel computes the conv2d (oneDNN int8 or XNOR-popcount for ±1 inputs with ±1 kernels, else a float
 * convolution) is decided per call by `convKernelOrder` in src/backend/convKernel.ts; each run logs the choice in
 * its `path=` line. Every choice gives the same values.
 */
export class QuantConv2D extends QuantizerBase {
  static className = 'QuantConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: 'same' | 'valid';

  constructor(args: QuantConv2DArgs) {
    super(args);
    if (!(args.filters > 0)) throw new Error(`QuantConv2D: filters must be > 0, got ${args.filters}`);
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.strides = args.strides ?? 1;
    this.padding = args.padding ?? 'valid';
  }

  protected kernelShape(inputDim: number): number[] {
    return [this.kernelSize, this.kernelSize, inputDim, this.filters];
  }

  protected get outputDim(): number {
    return this.filters;
  }

  protected op(x: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
    return tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, this.strides, this.padding);
  }

  computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = inputShape as Shape;
    const out = (n: number | null) => {
      if (n === null) return null;
      return this.padding === 'same'
        ? Math.ceil(n / this.strides)
        : Math.floor((n - this.kernelSize) / this.strides) + 1;
    };
    return [s[0], out(s[1]), out(s[2]), this.filters];
  }

  protected ownConfig(): tf.serialization.ConfigDict {
    return { filters: this.filters, kernelSize: this.kernelSize, strides: this.strides, padding: this.padding };
  }
}

tf.serialization.registerClass(QuantConv2D);
