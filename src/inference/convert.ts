/**
 * Conversion of a trained (or random) BinaryNet-style tf.Sequential (src/models/binarynet.ts) into a PackedSpec
 * (spec.ts): kernels to sign bits (src/xnor/bits.ts), BatchNorm + sign folded into exact thresholds (spec.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNorm, QuantConv2D, QuantDense } from '../layers';
import { convGeom, packKernel } from '../xnor';
import type { ConvGeom } from '../xnor';
import { BnParams, PackedSpec, PackedStage, pooledSize, stagePost } from './spec';

/** The float32 values tfjs' BatchNorm uses at inference (inv computed by tfjs' own rsqrt and mul). */
export function bnParams(layer: BatchNorm): BnParams {
  const w = layer.getWeights();
  let i = 0;
  const gamma = layer.scale ? w[i++] : null;
  const beta = layer.center ? w[i++] : null;
  const mean = w[i++];
  const variance = w[i++];
  if (!mean || !variance) throw new Error(`packModel: BatchNorm ${layer.name} has no moving statistics (was the model built?)`);
  const inv = tf.tidy(() => {
    let r = tf.rsqrt(tf.add(variance, layer.epsilon));
    if (gamma) r = tf.mul(r, gamma);
    return r;
  });
  const out = {
    mean: mean.dataSync().slice() as Float32Array,
    inv: inv.dataSync().slice() as Float32Array,
    beta: beta ? (beta.dataSync().slice() as Float32Array) : new Float32Array(mean.size),
  };
  inv.dispose();
  return out;
}

/**
 * Converts a trained (or random) BinaryNet-style tf.Sequential into its packed form. Supported layers:
 * QuantConv2D / QuantDense with binary kernels (Bop's ±1 kernels or latent kernels with ste_sign),
 * MaxPooling2D ('valid') between a binary layer and its BN, BnnBatchNorm, Flatten, Dropout/SeededDropout
 * (identity at inference), Activation 'linear' or a final 'softmax'. Anything else throws, naming the layer.
 */
export function packModel(model: tf.LayersModel): PackedSpec {
  const inShape = model.inputs[0].shape.slice(1) as number[];
  if (inShape.length !== 3 || inShape.some((d) => d === null))
    throw new Error(`packModel: expected an NHWC image input with fixed size, got [${inShape.join(', ')}]`);
  const inputShape = inShape as [number, number, number];
  const stages: PackedStage[] = [];
  let pending: (Omit<PackedStage, 'post'> & { bn: BnParams | null }) | null = null;
  let cur = { h: inputShape[0], w: inputShape[1], c: inputShape[2] };
  let flattened = false;
  let softmax = false;
  const layers = model.layers;

  const finish = (final: boolean) => {
    if (!pending) return;
    const { bn, ...rest } = pending;
    stages.push({ ...rest, post: stagePost(bn, rest.outC, final) });
    cur = { h: rest.outH, w: rest.outW, c: rest.outC };
    pending = null;
  };

  layers.forEach((layer, li) => {
    const cls = layer.getClassName();
    const where = `layer ${li} '${layer.name}' (${cls})`;
    if (softmax) throw new Error(`packModel: ${where} follows the softmax; only a final softmax is supported`);
    if (layer instanceof QuantConv2D || layer instanceof QuantDense) {
      if (!layer.binaryKernel) throw new Error(`packModel: ${where} has a real-valued kernel; only binary kernels can be packed`);
      const realInput = layer.inputQuantizer === null;
      if (layer.inputQuantizer !== null && layer.inputQuantizer !== 'ste_sign')
        throw new Error(`packModel: ${where}: unsupported input quantizer '${layer.inputQuantizer}'`);
      if (realInput && (stages.length > 0 || pending)) throw new Error(`packModel: ${where} takes real (non-binarized) hidden activations; only the first layer may`);
      if (!realInput && !pending && stages.length === 0) throw new Error(`packModel: ${where} binarizes the raw image input; not supported (the first layer must take the real input)`);
      finish(false);
      const kernel = layer.kernelVariable();
      const values = kernel.dataSync() as Float32Array;
      if (layer.kernelQuantizer === null) {
        // Bop model: the kernel itself is the weight, so it must already be ±1 (true after one Bop step)
        const bad = values.findIndex((v) => v !== 1 && v !== -1);
        if (bad >= 0)
          throw new Error(
            `packModel: ${where}: kernel value ${values[bad]} at index ${bad} is not ±1; a 'bop' model's kernels are ±1 only after Bop has trained it ` +
              `(call signKernels(model) to binarize a random model first)`,
          );
      }
      let g: ConvGeom;
      let outC: number;
      if (layer instanceof QuantConv2D) {
        if (flattened) throw new Error(`packModel: ${where} follows a Flatten`);
        const k = layer.kernelSize, st = layer.strides;
        g = convGeom(cur.h, cur.w, cur.c, k, k, st, st, layer.padding);
        outC = layer.filters;
      } else {
        if (!flattened && !(cur.h === 1 && cur.w === 1)) throw new Error(`packModel: ${where} takes a [${cur.h}, ${cur.w}, ${cur.c}] input without Flatten`);
        g = convGeom(cur.h, cur.w, cur.c, cur.h, cur.w, 1, 1, 'valid'); // a dense layer: one window over the whole input
        outC = layer.units;
        flattened = false;
      }
      const { kh, kw, convH, convW } = g;
      if (!(convH >= 1 && convW >= 1)) throw new Error(`packModel: ${where}: a ${kh}×${kw} kernel does not fit its [${cur.h}, ${cur.w}] input (output ${convH}×${convW})`);
      const expected = kh * kw * cur.c * outC;
      if (values.length !== expected) throw new Error(`packModel: ${where}: kernel has ${values.length} values, expected ${kh}·${kw}·${cur.c}·${outC}`);
      pending = {
        name: layer.name,
        input: realInput ? 'real' : 'binary',
        ...g,
        outC,
        pools: [],
        outH: convH,
        outW: convW,
        weights: packKernel(values, { kh, kw, cin: cur.c, cout: outC }),
        bn: null,
      };
      if (layer.useBias) throw new Error(`packModel: ${where} has a bias; not supported`);
    } else if (cls === 'MaxPooling2D') {
      const cfg = layer.getConfig() as { poolSize: number[]; strides: number[] | null; padding: string };
      if (!pending || pending.bn) throw new Error(`packModel: ${where}: max-pool is supported only between a binary layer and its BatchNorm`);
      if (cfg.padding !== 'valid') throw new Error(`packModel: ${where}: only 'valid' max-pooling is supported`);
      const size = cfg.poolSize as [number, number];
      const stride = (cfg.strides ?? cfg.poolSize) as [number, number];
      if (pooledSize(pending.outH, size[0], stride[0]) < 1 || pooledSize(pending.outW, size[1], stride[1]) < 1)
        throw new Error(`packModel: ${where}: pool ${size.join('×')} does not fit its [${pending.outH}, ${pending.outW}] input`);
      pending.pools.push({ size, stride });
      pending.outH = pooledSize(pending.outH, size[0], stride[0]);
      pending.outW = pooledSize(pending.outW, size[1], stride[1]);
    } else if (layer instanceof BatchNorm) {
      if (!pending || pending.bn) throw new Error(`packModel: ${where}: BatchNorm must directly follow a binary layer (or its pools)`);
      pending.bn = bnParams(layer);
    } else if (cls === 'Flatten') {
      if (pending) finish(false); // the next layer binarizes (checked when it comes)
      flattened = true;
    } else if (cls === 'Dropout' || cls === 'SeededDropout' || cls === 'InputLayer') {
      // identity at inference
    } else if (cls === 'Activation') {
      const act = (layer.getConfig() as { activation: string }).activation;
      if (act === 'softmax') softmax = true;
      else if (act !== 'linear') throw new Error(`packModel: ${where}: activation '${act}' not supported (only a final softmax)`);
    } else {
      throw new Error(`packModel: ${where} is not supported by packed inference`);
    }
  });
  if (flattened) throw new Error('packModel: the model ends with a Flatten; a binary layer must follow it');
  finish(true);
  if (stages.length === 0) throw new Error('packModel: the model has no binary layers');
  const last = stages[stages.length - 1];
  return { inputShape, numClasses: last.outH * last.outW * last.outC, softmax, stages };
}
/**
 * Writes sign(kernel) (Larq sign, 0 → +1) into every binary kernel of `model` in place: a random 'bop' model
 * then computes as a BNN (its float forward uses the kernel as is). No effect on 'latent' models' outputs.
 */
export function signKernels(model: tf.LayersModel): void {
  for (const layer of model.layers)
    if ((layer instanceof QuantConv2D || layer instanceof QuantDense) && layer.binaryKernel) {
      const v = layer.kernelVariable();
      const s = tf.tidy(() => tf.where(tf.greaterEqual(v, 0), tf.onesLike(v), tf.onesLike(v).neg()));
      v.assign(s);
      s.dispose();
    }
}

