/**
 * Binary layers with Larq semantics (larq/larq `layers.py`, `layers_base.py`), as tfjs-layers custom layers
 * registered for serialization, so a model saved through `tf.io` loads back with identical outputs.
 *
 *   out = op(inputQuantizer(x), kernelQuantizer(kernel))      (no bias by default, as in BinaryNet)
 *
 * ./base: QuantizerBase, what QuantConv2D (./quantConv) and QuantDense (./quantDense) share: quantizers, kernel
 * constraint, kernel and bias, config. ./batchnorm: BatchNorm; ./dropout: SeededDropout; ./variables:
 * modelVariables(), how optimizers find binary variables (through the owning layer, never through name patterns).
 */
export { QuantizerBase, isQuantLayer, type KernelConstraintName, type QuantArgsBase, type QuantLayer } from './base';
export { QuantConv2D, type QuantConv2DArgs } from './quantConv';
export { QuantDense, type QuantDenseArgs } from './quantDense';
export { BatchNorm, type BatchNormArgs } from './batchnorm';
export { SeededDropout, type SeededDropoutArgs } from './dropout';
export { modelVariables, dropoutLayers, batchNormLayers, type ModelVariable } from './variables';
