/**
 * Float-vs-packed comparison for notebooks and the benchmark: accuracy, agreement, size and speed.
 */
import * as tf from '@tensorflow/tfjs';
import { saveModelToMemory } from '../models/io';
import { encodePacked } from './format';
import { KernelName } from './kernels';
import { PackedModel, packModel } from './packed';

/** Bytes of the float model's weights as tf.io saves them (weights.bin; float32, 4 bytes per parameter). */
export async function floatModelBytes(model: tf.LayersModel): Promise<number> {
  const a = await saveModelToMemory(model);
  const w = a.weightData;
  if (!w) return 0;
  return Array.isArray(w) ? w.reduce((s, b) => s + b.byteLength, 0) : (w as ArrayBuffer).byteLength;
}

/**
 * The float model's final outputs before the softmax (the last BN's outputs, "logits"), [n, classes], in
 * inference mode. Without a final softmax layer this is the model's output.
 */
export function floatLogits(model: tf.LayersModel, x: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const layers = model.layers;
    const last = layers[layers.length - 1];
    const isSoftmax = last.getClassName() === 'Activation' && (last.getConfig() as { activation: string }).activation === 'softmax';
    if (!isSoftmax) return model.predict(x) as tf.Tensor2D;
    const sub = tf.model({ inputs: model.inputs, outputs: layers[layers.length - 2].output as tf.SymbolicTensor });
    return sub.predict(x) as tf.Tensor2D;
  });
}

export interface TestImages {
  /** NHWC float images as the model takes them (already normalized), tensor or flat array. */
  images: tf.Tensor4D | Float32Array;
  /** Class labels: integers, or a [n, classes] one-hot tensor. */
  labels: ArrayLike<number> | tf.Tensor;
}

export interface PackedSummary {
  n: number;
  floatAccuracy: number;
  packedAccuracy: number;
  /** Fraction of images on which both predict the same class. */
  agreement: number;
  /** Largest |float logit − packed logit| (the last BN's outputs). */
  maxLogitDiff: number;
  /** tf.io weights bytes of the float model. */
  floatBytes: number;
  /** Size of the one-file packed model (savePacked). */
  packedBytes: number;
  sizeRatio: number;
  floatImagesPerSec: number;
  packedImagesPerSec: number;
  speedup: number;
  /** Binary kernel the packed model ran on, and the tfjs backend the float model ran on. */
  kernel: KernelName;
  backend: string;
  batchSize: number;
}

function labelArray(labels: ArrayLike<number> | tf.Tensor, n: number): Int32Array {
  let out: Int32Array;
  if (labels instanceof tf.Tensor) {
    out = tf.tidy(() => (labels.rank === 2 ? tf.argMax(labels, 1) : labels.toInt())).dataSync() as Int32Array;
  } else out = Int32Array.from(labels);
  if (out.length !== n) throw new Error(`packedSummary: ${out.length} labels for ${n} images`);
  return out;
}

/**
 * Packs `model`, runs both the float model (tfjs, current backend, batches of `batchSize`) and the packed model
 * over `test`, and reports accuracies, agreement, the largest logit difference, sizes and throughputs
 * (images/s measured over that same pass; the float pass includes tfjs' tensor upload/download).
 */
export async function packedSummary(
  model: tf.LayersModel,
  test: TestImages,
  opts: { batchSize?: number; kernel?: KernelName } = {},
): Promise<PackedSummary> {
  const batchSize = opts.batchSize ?? 50;
  const spec = packModel(model);
  const packed = new PackedModel(spec, opts.kernel);
  const [H, W, C] = spec.inputShape;
  const per = H * W * C;
  const x = test.images instanceof Float32Array ? test.images : (test.images.dataSync() as Float32Array);
  const n = x.length / per;
  if (!Number.isInteger(n)) throw new Error(`packedSummary: ${x.length} values is not a whole number of ${H}×${W}×${C} images`);
  const labels = labelArray(test.labels, n);
  const k = spec.numClasses;

  const floatLog = new Float32Array(n * k);
  // warm-up (kernel compilation) outside the timing
  tf.tidy(() => floatLogits(model, tf.tensor4d(x.subarray(0, per), [1, H, W, C])).dataSync());
  let t0 = performance.now();
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    const out = tf.tidy(() => floatLogits(model, tf.tensor4d(x.subarray(s * per, (s + m) * per), [m, H, W, C])).dataSync());
    floatLog.set(out, s * k);
  }
  const floatSec = (performance.now() - t0) / 1000;

  packed.predict(x.subarray(0, per));
  t0 = performance.now();
  const pk = packed.predict(x);
  const packedSec = (performance.now() - t0) / 1000;

  let fOk = 0;
  let pOk = 0;
  let agree = 0;
  let maxDiff = 0;
  for (let i = 0; i < n; i++) {
    let fb = 0;
    for (let j = 1; j < k; j++) if (floatLog[i * k + j] > floatLog[i * k + fb]) fb = j;
    for (let j = 0; j < k; j++) maxDiff = Math.max(maxDiff, Math.abs(floatLog[i * k + j] - pk.logits[i * k + j]));
    if (fb === labels[i]) fOk++;
    if (pk.classes[i] === labels[i]) pOk++;
    if (fb === pk.classes[i]) agree++;
  }
  const floatBytes = await floatModelBytes(model);
  const packedBytes = encodePacked(spec).length;
  return {
    n,
    floatAccuracy: fOk / n,
    packedAccuracy: pOk / n,
    agreement: agree / n,
    maxLogitDiff: maxDiff,
    floatBytes,
    packedBytes,
    sizeRatio: floatBytes / packedBytes,
    floatImagesPerSec: n / floatSec,
    packedImagesPerSec: n / packedSec,
    speedup: floatSec / packedSec,
    kernel: packed.kernelName,
    backend: tf.getBackend(),
    batchSize,
  };
}
