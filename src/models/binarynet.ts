/**
 * BinaryNet for CIFAR-10 (Courbariaux, Hubara et al. 2016), layer for layer as the Bop authors' code
 * (plumerai/rethinking-bnn-optimization `bnn_optimization/models/binarynet.py`, filters 128, dense 1024):
 *
 *   QuantConv2D(128,3,'valid', real input) → BN
 *   QuantConv2D(128,3,same) → MaxPool(2) → BN        (pool before BN)
 *   QuantConv2D(256,3,same) → BN
 *   QuantConv2D(256,3,same) → MaxPool(2) → BN
 *   QuantConv2D(512,3,same) → BN
 *   QuantConv2D(512,3,same) → MaxPool(2) → BN
 *   Flatten (4608 = 3·3·512)
 *   QuantDense(1024) → BN → QuantDense(1024) → BN → QuantDense(10) → BN → softmax
 *
 * BN: Keras defaults momentum 0.99, ε 1e-3, scale=False (β is the only trainable BN parameter); no biases;
 * every layer after the first binarizes its input with ste_sign (the only non-linearity); every kernel,
 * the first and the last included, is binary. Kernel init: glorot_uniform (Larq default).
 *
 * `kernels: 'bop'` gives the Bop hparams (`kernel_quantizer=None`, kernel marked binary: Bop writes ±1
 * into it); `kernels: 'latent'` gives the baseline (`kernel_quantizer="ste_sign"`, `kernel_constraint="weight_clip"`).
 *
 * `kernels: 'real-hidden'` is the reproducibility report's baseline as its code builds it (`cifar.ipynb`: every
 * layer after the first with `kernel_quantizer=Activation("linear")` and no constraint): the first conv's kernel is
 * ste_sign on a clipped latent kernel, every later kernel (the last dense included) is real-valued; the inputs of
 * those layers are still binarized by ste_sign. `bnMomentum` sets every BN's momentum (the report's code: 0.999).
 *
 * Differences, for small profiles only: `width` scales every layer's units (conv filters and the two
 * hidden dense layers; not the 10 outputs). `dropout` (the report's §4.2, p = 0.25) adds dropout to every conv and
 * dense layer but the last; the report says "applied to every convolution and dense layer" and its code has none.
 * `dropoutPlacement: 'afterLayer'` puts it directly after the quantized layer's output (before pooling and BN), as
 * the report's text reads; 'afterBn' (default) after the block's BN, before the next binarization.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNorm, QuantConv2D, QuantDense, SeededDropout } from '../layers';

export interface BinaryNetConfig {
  /** Multiplies every layer's units (1 = the original). */
  width?: number;
  /** Dropout rate after every conv and dense block (0 = none, as the original). */
  dropout?: number;
  /**
   * 'bop': binary kernels trained directly by Bop; 'latent': ste_sign on clipped latent kernels (Adam baseline);
   * 'real-hidden': the report's code baseline (first kernel latent as 'latent', every later kernel real-valued).
   */
  kernels?: 'bop' | 'latent' | 'real-hidden';
  /** Momentum of every BN layer (default 0.99, the paper's code). */
  bnMomentum?: number;
  /** Where dropout sits: after each block's BN (default) or directly after each quantized layer. */
  dropoutPlacement?: 'afterBn' | 'afterLayer';
  inputShape?: [number, number, number];
  numClasses?: number;
  /** Seeds the kernel initializers and dropout masks. */
  seed?: number;
}

/** The config with its defaults, checked (errors name the value and what is allowed). */
function resolveBinaryNetConfig(config: BinaryNetConfig): Required<BinaryNetConfig> {
  const c: Required<BinaryNetConfig> = {
    width: config.width ?? 1,
    dropout: config.dropout ?? 0,
    kernels: config.kernels ?? 'bop',
    inputShape: config.inputShape ?? [32, 32, 3],
    numClasses: config.numClasses ?? 10,
    seed: config.seed ?? 0,
    bnMomentum: config.bnMomentum ?? 0.99,
    dropoutPlacement: config.dropoutPlacement ?? 'afterBn',
  };
  if (!(c.bnMomentum >= 0 && c.bnMomentum < 1))
    throw new Error(`binaryNet: bnMomentum must be in [0, 1), got ${c.bnMomentum}`);
  if (c.dropoutPlacement !== 'afterBn' && c.dropoutPlacement !== 'afterLayer')
    throw new Error(`binaryNet: dropoutPlacement must be 'afterBn' or 'afterLayer', got '${c.dropoutPlacement}'`);
  if (!(c.width > 0)) throw new Error(`binaryNet: width must be > 0, got ${c.width}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`binaryNet: dropout must be in [0, 1), got ${c.dropout}`);
  if (c.kernels !== 'bop' && c.kernels !== 'latent' && c.kernels !== 'real-hidden')
    throw new Error(`binaryNet: kernels must be 'bop', 'latent' or 'real-hidden', got '${c.kernels}'`);
  return c;
}

export function binaryNet(config: BinaryNetConfig = {}): tf.Sequential {
  const {
    width,
    dropout,
    kernels,
    inputShape,
    numClasses,
    seed,
    bnMomentum,
    dropoutPlacement: placement,
  } = resolveBinaryNetConfig(config);
  const units = (n: number) => Math.max(1, Math.round(n * width));
  const latent = { kernelQuantizer: 'ste_sign' as const, binaryKernel: true, kernelConstraint: 'weight_clip' as const };
  const real = { kernelQuantizer: null, binaryKernel: false, kernelConstraint: null };
  /** Kernel arguments of layer `li` (1 = the first conv). */
  const kernelArgs = (li: number) =>
    kernels === 'bop'
      ? { kernelQuantizer: null, binaryKernel: true, kernelConstraint: null }
      : kernels === 'latent' || li === 1
        ? latent
        : real;

  const model = tf.sequential({ name: 'binarynet' });
  let li = 0;
  const bn = () => new BatchNorm({ momentum: bnMomentum, epsilon: 1e-3, scale: false, center: true, name: `bn_${li}` });
  const drop = (where: 'afterBn' | 'afterLayer') => {
    if (dropout > 0 && where === placement)
      model.add(new SeededDropout({ rate: dropout, seed: seed * 1000 + 500 + li, name: `dropout_${li}` }));
  };
  const convs: [number, boolean][] = [
    [128, false],
    [128, true],
    [256, false],
    [256, true],
    [512, false],
    [512, true],
  ];
  convs.forEach(([filters, pool], i) => {
    li++;
    model.add(
      new QuantConv2D({
        name: `quant_conv2d_${li}`,
        filters: units(filters),
        kernelSize: 3,
        padding: i === 0 ? 'valid' : 'same',
        inputQuantizer: i === 0 ? null : 'ste_sign',
        ...kernelArgs(li),
        useBias: false,
        seed: seed * 1000 + li,
        ...(i === 0 ? { inputShape } : {}),
      }),
    );
    drop('afterLayer');
    if (pool) model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `max_pool_${li}` }));
    model.add(bn());
    drop('afterBn');
  });
  model.add(tf.layers.flatten({ name: 'flatten' }));
  const dense = [units(1024), units(1024), numClasses];
  dense.forEach((n) => {
    li++;
    model.add(
      new QuantDense({
        name: `quant_dense_${li}`,
        units: n,
        inputQuantizer: 'ste_sign',
        ...kernelArgs(li),
        useBias: false,
        seed: seed * 1000 + li,
      }),
    );
    if (n !== numClasses) drop('afterLayer');
    model.add(bn());
    if (n !== numClasses) drop('afterBn');
  });
  model.add(tf.layers.activation({ activation: 'softmax', name: 'softmax' }));
  return model;
}
