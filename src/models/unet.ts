/**
 * The UNets of the report's §4.5 (3-class Oxford-IIIT Pet trimaps), layer for layer as the reproduction's public
 * notebooks (ksb1712/Nips_reproducibility `segmentation_binarized_unet.ipynb` and `segmentation_unet_conv.ipynb`):
 *
 *   binarized (Larq)                                   full precision (Keras)
 *   ───────────────────────────────────────────────    ─────────────────────────────────────────────────
 *   entry:  QuantConv2D(32,3,same, real input,         entry:  block(32) without pool
 *           binary kernel) → BN                               (= 2× [Conv2D(32,3,same,relu) → BN])
 *   down_i (64, 128, 256, 512):                        down_i: 2× [Conv2D(n,3,same,relu) → BN] → MaxPool(2)
 *     2× [QuantConv2D(n,3,same, ste_sign input,
 *         binary kernel) → BN] → MaxPool(2)
 *   up_j (256, 128, 64, 32):                           up_j:   concat([UpSampling2D(2)(x), skip_j])
 *     concat([UpSampling2D(2)(x), skip_j])                     → 2× [Conv2D(n,3,same,relu) → BN]
 *     → 2× [QuantConv2D(n,3,same, ste_sign) → BN]
 *   out: QuantConv2D(3,1,same, ste_sign input,         out:    Conv2D(3,1) (bias) → softmax
 *        binary kernel) → softmax (no BN)
 *
 * Skips (both variants): skip_1 = down_3 output (H/8), skip_2 = down_2 (H/4), skip_3 = down_1 (H/2), skip_4 = entry (H),
 * i.e. the outputs *after* each pool, concatenated on the channel axis (upsampled first, then the skip).
 *
 * Binarized variant: no biases, BN(scale=False) (β only; momentum 0.99, ε 1e-3, Keras defaults), no activation
 * function: the only non-linearity is the next layer's ste_sign input quantizer (so the concatenation of a BN output
 * and an upsampled BN output is binarized by the next conv). Every conv kernel is binary, the first (real-valued
 * *input*, binary kernel: `kernel_quantizer="ste_sign"` in the notebook) and the last (1×1 to 3 classes) included.
 * `kernels: 'bop'` marks every kernel binary with no kernel quantizer (Bop writes ±1 into it; as the notebook's larq
 * 0.8-era Bop, which claimed every `quant_conv2d` kernel); `kernels: 'latent'` binarizes clipped latent kernels with
 * ste_sign + weight_clip (Adam baseline). Deviation: the notebook's Adam "baseline" kept `kernel_quantizer=linear` on
 * the hidden layers, i.e. real-valued weights (bop-reference-spec §7 caveat); we binarize them, so that the baseline is a
 * binarized UNet as the report describes.
 * Full-precision variant: Keras Conv2D (bias, ReLU, he_normal init), BatchNormalization with scale and center.
 *
 * `width` scales every layer's filters (max(1, round(n·width))), not the 3 outputs; `imageSize` must be divisible by 16.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNorm, QuantConv2D, QuantLayer, isQuantLayer } from '../layers';

export interface UNetConfig {
  /** Binarized UNet (true) or full-precision UNet (false). */
  binary: boolean;
  /** Multiplies every layer's filters (1 = the original 32/64/128/256/512). */
  width?: number;
  /** Side of the square input (original 128); divisible by 16 (four 2× pools). */
  imageSize?: number;
  numClasses?: number;
  /** Seeds the kernel initializers. */
  seed?: number;
  /** Binarized only: 'bop' (binary kernels written by Bop) or 'latent' (ste_sign on clipped latent kernels, Adam). */
  kernels?: 'bop' | 'latent';
}

export const UNET_DOWN_FILTERS = [64, 128, 256, 512];
export const UNET_UP_FILTERS = [256, 128, 64, 32];
export const UNET_ENTRY_FILTERS = 32;

type Resolved = Required<UNetConfig>;

/** The config with its defaults, checked (errors name the value and what is allowed). */
function resolveUNetConfig(config: UNetConfig): Resolved {
  const c: Resolved = {
    binary: config.binary,
    width: config.width ?? 1,
    imageSize: config.imageSize ?? 128,
    numClasses: config.numClasses ?? 3,
    seed: config.seed ?? 0,
    kernels: config.kernels ?? 'bop',
  };
  if (typeof c.binary !== 'boolean')
    throw new Error(`unet: binary must be true or false, got ${JSON.stringify(c.binary)}`);
  if (!(c.width > 0)) throw new Error(`unet: width must be > 0, got ${c.width}`);
  if (!Number.isInteger(c.imageSize) || c.imageSize < 16 || c.imageSize % 16 !== 0)
    throw new Error(`unet: imageSize must be a multiple of 16 (four 2× pools), got ${c.imageSize}`);
  if (!Number.isInteger(c.numClasses) || c.numClasses < 2)
    throw new Error(`unet: numClasses must be an integer ≥ 2, got ${c.numClasses}`);
  if (c.kernels !== 'bop' && c.kernels !== 'latent')
    throw new Error(`unet: kernels must be 'bop' or 'latent', got '${c.kernels}'`);
  return c;
}

/**
 * The UNet's layer makers for one variant, numbering convolutions (names and kernel seeds: seed·1000 + n) and BN
 * layers in the order they are made: `conv` (3×3 'same' conv → BN; binarized: ste_sign input unless `realInput`),
 * `block` (two convs, then a 2× max-pool when `pool`) and `head` (the 1×1 conv to the classes, no BN).
 */
function unetLayers(c: Resolved) {
  const kernelArgs =
    c.kernels === 'bop'
      ? { kernelQuantizer: null, binaryKernel: true, kernelConstraint: null }
      : { kernelQuantizer: 'ste_sign' as const, binaryKernel: true, kernelConstraint: 'weight_clip' as const };
  let li = 0; // conv counter (names and seeds)
  let bi = 0; // BN counter
  const bn = (x: tf.SymbolicTensor) =>
    new BatchNorm({ momentum: 0.99, epsilon: 1e-3, center: true, scale: !c.binary, name: `bn_${++bi}` }).apply(
      x,
    ) as tf.SymbolicTensor;
  const quant = (x: tf.SymbolicTensor, filters: number, kernelSize: number, realInput: boolean) =>
    new QuantConv2D({
      name: `quant_conv2d_${li}`,
      filters,
      kernelSize,
      padding: 'same',
      inputQuantizer: realInput ? null : 'ste_sign',
      ...kernelArgs,
      useBias: false,
      seed: c.seed * 1000 + li,
    }).apply(x) as tf.SymbolicTensor;
  const conv = (x: tf.SymbolicTensor, filters: number, opts: { realInput?: boolean } = {}) => {
    li++;
    const y = c.binary
      ? quant(x, filters, 3, opts.realInput ?? false)
      : (tf.layers
          .conv2d({
            name: `conv2d_${li}`,
            filters,
            kernelSize: 3,
            padding: 'same',
            activation: 'relu',
            useBias: true,
            kernelInitializer: tf.initializers.heNormal({ seed: c.seed * 1000 + li }),
          })
          .apply(x) as tf.SymbolicTensor);
    return bn(y);
  };
  const block = (x: tf.SymbolicTensor, filters: number, pool: boolean, name: string) => {
    let y = conv(conv(x, filters), filters);
    if (pool)
      y = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `${name}_pool` }).apply(y) as tf.SymbolicTensor;
    return y;
  };
  const head = (x: tf.SymbolicTensor) => {
    li++;
    return c.binary
      ? quant(x, c.numClasses, 1, false)
      : (tf.layers
          .conv2d({
            name: `conv2d_${li}`,
            filters: c.numClasses,
            kernelSize: 1,
            padding: 'same',
            useBias: true,
            kernelInitializer: tf.initializers.glorotUniform({ seed: c.seed * 1000 + li }),
          })
          .apply(x) as tf.SymbolicTensor);
  };
  return { conv, block, head };
}

/** Builds the conv or binarized UNet (functional tf.LayersModel; input [S,S,3], output softmax [S,S,numClasses]). */
export function unet(config: UNetConfig): tf.LayersModel {
  const c = resolveUNetConfig(config);
  const units = (n: number) => Math.max(1, Math.round(n * c.width));
  const { conv, block, head } = unetLayers(c);
  const input = tf.input({ shape: [c.imageSize, c.imageSize, 3], name: 'image' });
  // Entry: binarized = one conv with real input; full precision = a block of two convs (as the conv notebook).
  const entry = c.binary
    ? conv(input, units(UNET_ENTRY_FILTERS), { realInput: true })
    : block(input, units(UNET_ENTRY_FILTERS), false, 'entry');
  const skips: tf.SymbolicTensor[] = [entry];
  let x = entry;
  UNET_DOWN_FILTERS.forEach((f, i) => {
    x = block(x, units(f), true, `down${i + 1}`);
    skips.push(x);
  });
  // skips = [entry, down1, down2, down3, down4]; the bottom (down4) is x.
  UNET_UP_FILTERS.forEach((f, j) => {
    const up = tf.layers.upSampling2d({ size: [2, 2], name: `up${j + 1}_upsample` }).apply(x) as tf.SymbolicTensor;
    const cat = tf.layers
      .concatenate({ axis: 3, name: `up${j + 1}_concat` })
      .apply([up, skips[3 - j]]) as tf.SymbolicTensor;
    x = block(cat, units(f), false, `up${j + 1}`);
  });
  const output = tf.layers.activation({ activation: 'softmax', name: 'softmax' }).apply(head(x)) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: c.binary ? `unet_binary_${c.kernels}` : 'unet_fp' });
}

/** Parameter counts of a model: binary kernels (1 bit each), other trainable and non-trainable (BN moving stats) values. */
export interface ParameterCounts {
  binary: number;
  realTrainable: number;
  nonTrainable: number;
  total: number;
}

const count = (shape: readonly (number | null)[]) => shape.reduce((a: number, b) => a * (b ?? 1), 1);

/** Counts a model's weights by kind (binary = kernels of quantized layers marked binary). */
export function parameterCounts(model: tf.LayersModel): ParameterCounts {
  let binary = 0;
  let realTrainable = 0;
  let nonTrainable = 0;
  for (const layer of model.layers) {
    const binKernel = isQuantLayer(layer) && (layer as unknown as QuantLayer).binaryKernel;
    for (const w of layer.trainableWeights) {
      const n = count(w.shape);
      const short = w.originalName.split('/').pop();
      if (binKernel && short === 'kernel') binary += n;
      else realTrainable += n;
    }
    for (const w of layer.nonTrainableWeights) nonTrainable += count(w.shape);
  }
  return { binary, realTrainable, nonTrainable, total: binary + realTrainable + nonTrainable };
}

/**
 * Size of the model's weights in bits: binary kernels 1 bit each, every other stored value (biases, BN β/γ and moving
 * statistics) 32 bits: bits = binary + 32·(realTrainable + nonTrainable).
 */
export function modelSizeBits(model: tf.LayersModel): number {
  const c = parameterCounts(model);
  return c.binary + 32 * (c.realTrainable + c.nonTrainable);
}
