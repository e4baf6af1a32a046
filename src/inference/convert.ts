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
  if (!mean || !variance)
    throw new Error(`packModel: BatchNorm ${layer.name} has no moving statistics (was the model built?)`);
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

/** A binary layer converted but not yet closed: it still waits for its pools and its BN. */
type PendingStage = Omit<PackedStage, 'post'> & { bn: BnParams | null };

/** packModel's walk over the layers: the stages closed so far, the open one, the activations' shape after the last closed one. */
interface SequentialWalk {
  stages: PackedStage[];
  pending: PendingStage | null;
  cur: { h: number; w: number; c: number };
  flattened: boolean;
  softmax: boolean;
}

/** Closes the open stage (if any): its BN + sign (or, `final`, the BN alone) becomes the stage's post (spec.ts' stagePost). */
function closeStage(s: SequentialWalk, final: boolean): void {
  if (!s.pending) return;
  const { bn, ...rest } = s.pending;
  s.stages.push({ ...rest, post: stagePost(bn, rest.outC, final) });
  s.cur = { h: rest.outH, w: rest.outW, c: rest.outC };
  s.pending = null;
}

/** Checks a binary layer's kernel and input quantizer against its place in the model; true when it takes the real input. */
function takesRealInput(s: SequentialWalk, layer: QuantConv2D | QuantDense, where: string): boolean {
  if (!layer.binaryKernel)
    throw new Error(`packModel: ${where} has a real-valued kernel; only binary kernels can be packed`);
  const realInput = layer.inputQuantizer === null;
  if (layer.inputQuantizer !== null && layer.inputQuantizer !== 'ste_sign')
    throw new Error(`packModel: ${where}: unsupported input quantizer '${layer.inputQuantizer}'`);
  if (realInput && (s.stages.length > 0 || s.pending))
    throw new Error(`packModel: ${where} takes real (non-binarized) hidden activations; only the first layer may`);
  if (!realInput && !s.pending && s.stages.length === 0)
    throw new Error(
      `packModel: ${where} binarizes the raw image input; not supported (the first layer must take the real input)`,
    );
  return realInput;
}

/** The layer's kernel values; a Bop model's (no kernel quantizer) must already be ±1. */
function signedKernel(layer: QuantConv2D | QuantDense, where: string): Float32Array {
  const values = layer.kernelVariable().dataSync() as Float32Array;
  if (layer.kernelQuantizer === null) {
    // Bop model: the kernel itself is the weight, so it must already be ±1 (true after one Bop step)
    const bad = values.findIndex((v) => v !== 1 && v !== -1);
    if (bad >= 0)
      throw new Error(
        `packModel: ${where}: kernel value ${values[bad]} at index ${bad} is not ±1; a 'bop' model's kernels are ±1 only after Bop has trained it ` +
          `(call signKernels(model) to binarize a random model first)`,
      );
  }
  return values;
}

/** The layer's GEMM geometry on the current activations: a conv's own, or a dense layer's one window over the whole input. */
function layerGeometry(
  s: SequentialWalk,
  layer: QuantConv2D | QuantDense,
  where: string,
): { g: ConvGeom; outC: number } {
  const cur = s.cur;
  if (layer instanceof QuantConv2D) {
    if (s.flattened) throw new Error(`packModel: ${where} follows a Flatten`);
    const k = layer.kernelSize,
      st = layer.strides;
    return { g: convGeom(cur.h, cur.w, cur.c, k, k, st, st, layer.padding), outC: layer.filters };
  }
  if (!s.flattened && !(cur.h === 1 && cur.w === 1))
    throw new Error(`packModel: ${where} takes a [${cur.h}, ${cur.w}, ${cur.c}] input without Flatten`);
  const g = convGeom(cur.h, cur.w, cur.c, cur.h, cur.w, 1, 1, 'valid'); // a dense layer: one window over the whole input
  s.flattened = false;
  return { g, outC: layer.units };
}

/** Closes the open stage and opens one for a binary QuantConv2D / QuantDense: geometry checked, kernel packed to sign bits. */
function openBinaryStage(s: SequentialWalk, layer: QuantConv2D | QuantDense, where: string): void {
  const realInput = takesRealInput(s, layer, where);
  closeStage(s, false);
  const values = signedKernel(layer, where);
  const { g, outC } = layerGeometry(s, layer, where);
  const cur = s.cur;
  const { kh, kw, convH, convW } = g;
  if (!(convH >= 1 && convW >= 1))
    throw new Error(
      `packModel: ${where}: a ${kh}×${kw} kernel does not fit its [${cur.h}, ${cur.w}] input (output ${convH}×${convW})`,
    );
  const expected = kh * kw * cur.c * outC;
  if (values.length !== expected)
    throw new Error(`packModel: ${where}: kernel has ${values.length} values, expected ${kh}·${kw}·${cur.c}·${outC}`);
  s.pending = {
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
}

/** Adds a 'valid' MaxPooling2D to the open stage (between its binary layer and its BN). */
function addPool(s: SequentialWalk, layer: tf.layers.Layer, where: string): void {
  const cfg = layer.getConfig() as { poolSize: number[]; strides: number[] | null; padding: string };
  const pending = s.pending;
  if (!pending || pending.bn)
    throw new Error(`packModel: ${where}: max-pool is supported only between a binary layer and its BatchNorm`);
  if (cfg.padding !== 'valid') throw new Error(`packModel: ${where}: only 'valid' max-pooling is supported`);
  const size = cfg.poolSize as [number, number];
  const stride = (cfg.strides ?? cfg.poolSize) as [number, number];
  if (pooledSize(pending.outH, size[0], stride[0]) < 1 || pooledSize(pending.outW, size[1], stride[1]) < 1)
    throw new Error(
      `packModel: ${where}: pool ${size.join('×')} does not fit its [${pending.outH}, ${pending.outW}] input`,
    );
  pending.pools.push({ size, stride });
  pending.outH = pooledSize(pending.outH, size[0], stride[0]);
  pending.outW = pooledSize(pending.outW, size[1], stride[1]);
}

/** Converts layer `li` into the walk, or throws naming it (see packModel for the supported layers). */
function addLayer(s: SequentialWalk, layer: tf.layers.Layer, li: number): void {
  const cls = layer.getClassName();
  const where = `layer ${li} '${layer.name}' (${cls})`;
  if (s.softmax) throw new Error(`packModel: ${where} follows the softmax; only a final softmax is supported`);
  if (layer instanceof QuantConv2D || layer instanceof QuantDense) {
    openBinaryStage(s, layer, where);
  } else if (cls === 'MaxPooling2D') {
    addPool(s, layer, where);
  } else if (layer instanceof BatchNorm) {
    if (!s.pending || s.pending.bn)
      throw new Error(`packModel: ${where}: BatchNorm must directly follow a binary layer (or its pools)`);
    s.pending.bn = bnParams(layer);
  } else if (cls === 'Flatten') {
    if (s.pending) closeStage(s, false); // the next layer binarizes (checked when it comes)
    s.flattened = true;
  } else if (cls === 'Dropout' || cls === 'SeededDropout' || cls === 'InputLayer') {
    // identity at inference
  } else if (cls === 'Activation') {
    const act = (layer.getConfig() as { activation: string }).activation;
    if (act === 'softmax') s.softmax = true;
    else if (act !== 'linear')
      throw new Error(`packModel: ${where}: activation '${act}' not supported (only a final softmax)`);
  } else {
    throw new Error(`packModel: ${where} is not supported by packed inference`);
  }
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
  const s: SequentialWalk = {
    stages: [],
    pending: null,
    cur: { h: inputShape[0], w: inputShape[1], c: inputShape[2] },
    flattened: false,
    softmax: false,
  };
  model.layers.forEach((layer, li) => addLayer(s, layer, li));
  if (s.flattened) throw new Error('packModel: the model ends with a Flatten; a binary layer must follow it');
  closeStage(s, true);
  const stages = s.stages;
  if (stages.length === 0) throw new Error('packModel: the model has no binary layers');
  const last = stages[stages.length - 1];
  return { inputShape, numClasses: last.outH * last.outW * last.outC, softmax: s.softmax, stages };
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
