/**
 * Float-vs-packed comparison for notebooks and the benchmark: accuracy, agreement, size and speed (`packedSummary`:
 * float tfjs against one packed engine; `engineComparison`: every engine this machine has, on the same images).
 */
import * as tf from '@tensorflow/tfjs';
import { saveModelToMemory } from '../models/io';
import { encodePacked } from './format';
import { PackedModel } from './packed';
import { packModel } from './convert';
import type { PackedKernel } from './spec';

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
    const isSoftmax =
      last.getClassName() === 'Activation' && (last.getConfig() as { activation: string }).activation === 'softmax';
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
  /** Throughput over the whole pass at `batchSize` (the float model batched, the packed one image after image). */
  floatImagesPerSec: number;
  packedImagesPerSec: number;
  speedup: number;
  /** Throughput at batch 1 (one image per call, both models) over the first `batch1Images` images. */
  floatImagesPerSecBatch1: number;
  packedImagesPerSecBatch1: number;
  speedupBatch1: number;
  batch1Images: number;
  /** Binary kernel the packed model ran on, and the tfjs backend the float model ran on. */
  kernel: PackedKernel;
  /** Threads the packed model ran on (opts.threads: 2 where shared memory and worker_threads exist). */
  threads: number;
  backend: string;
  batchSize: number;
}

export function labelArray(labels: ArrayLike<number> | tf.Tensor, n: number): Int32Array {
  let out: Int32Array;
  if (labels instanceof tf.Tensor) {
    out = tf.tidy(() => (labels.rank === 2 ? tf.argMax(labels, 1) : labels.toInt())).dataSync() as Int32Array;
  } else out = Int32Array.from(labels);
  if (out.length !== n) throw new Error(`packedSummary: ${out.length} labels for ${n} images`);
  return out;
}

/** Correct float and packed predictions, their agreement and the largest logit difference, over n images of k classes. */
function compareLogits(
  floatLog: Float32Array,
  pk: { logits: ArrayLike<number>; classes: ArrayLike<number> },
  labels: ArrayLike<number>,
  k: number,
) {
  let fOk = 0;
  let pOk = 0;
  let agree = 0;
  let maxDiff = 0;
  for (let i = 0; i < labels.length; i++) {
    let fb = 0;
    for (let j = 1; j < k; j++) if (floatLog[i * k + j] > floatLog[i * k + fb]) fb = j;
    for (let j = 0; j < k; j++) maxDiff = Math.max(maxDiff, Math.abs(floatLog[i * k + j] - pk.logits[i * k + j]));
    if (fb === labels[i]) fOk++;
    if (pk.classes[i] === labels[i]) pOk++;
    if (fb === pk.classes[i]) agree++;
  }
  return { fOk, pOk, agree, maxDiff };
}

/**
 * Packs `model`, runs both the float model (tfjs, current backend, batches of `batchSize`) and the packed model
 * over `test`, and reports accuracies, agreement, the largest logit difference, sizes and throughputs
 * (images/s measured over that same pass; the float pass includes tfjs' tensor upload/download).
 */
export async function packedSummary(
  model: tf.LayersModel,
  test: TestImages,
  opts: { batchSize?: number; kernel?: PackedKernel; threads?: number; batch1Images?: number } = {},
): Promise<PackedSummary> {
  const batchSize = opts.batchSize ?? 50;
  const spec = packModel(model);
  const packed = new PackedModel(spec, opts.kernel, { threads: opts.threads ?? 1 });
  await packed.ready();
  const [H, W, C] = spec.inputShape;
  const per = H * W * C;
  const x = test.images instanceof Float32Array ? test.images : (test.images.dataSync() as Float32Array);
  const n = x.length / per;
  if (!Number.isInteger(n))
    throw new Error(`packedSummary: ${x.length} values is not a whole number of ${H}×${W}×${C} images`);
  const labels = labelArray(test.labels, n);
  const k = spec.numClasses;

  const floatLog = new Float32Array(n * k);
  // warm-up (kernel compilation) outside the timing
  tf.tidy(() => floatLogits(model, tf.tensor4d(x.subarray(0, per), [1, H, W, C])).dataSync());
  let t0 = performance.now();
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    const out = tf.tidy(() =>
      floatLogits(model, tf.tensor4d(x.subarray(s * per, (s + m) * per), [m, H, W, C])).dataSync(),
    );
    floatLog.set(out, s * k);
  }
  const floatSec = (performance.now() - t0) / 1000;

  packed.predict(x.subarray(0, per));
  t0 = performance.now();
  const pk = packed.predict(x);
  const packedSec = (performance.now() - t0) / 1000;

  // batch 1: one image per call, the latency-bound case of an edge device
  const m1 = Math.max(1, Math.min(n, opts.batch1Images ?? 50));
  t0 = performance.now();
  for (let i = 0; i < m1; i++)
    tf.tidy(() => floatLogits(model, tf.tensor4d(x.subarray(i * per, (i + 1) * per), [1, H, W, C])).dataSync());
  const float1Sec = (performance.now() - t0) / 1000;
  t0 = performance.now();
  for (let i = 0; i < m1; i++) packed.predict(x.subarray(i * per, (i + 1) * per));
  const packed1Sec = (performance.now() - t0) / 1000;
  packed.dispose();

  const { fOk, pOk, agree, maxDiff } = compareLogits(floatLog, pk, labels, k);
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
    floatImagesPerSecBatch1: m1 / float1Sec,
    packedImagesPerSecBatch1: m1 / packed1Sec,
    speedupBatch1: float1Sec / packed1Sec,
    batch1Images: m1,
    kernel: packed.kernelName,
    threads: packed.threads,
    backend: tf.getBackend(),
    batchSize,
  };
}

/** The summary as the engines of `inferenceComparison` (src/figures): accuracy, bytes, images/s at batch 1 and batch `batchSize`. */
export function summaryEngines(
  s: PackedSummary,
): { name: string; accuracy: number; bytes: number; imagesPerSec: Record<string, number> }[] {
  const b = `batch ${s.batchSize}`;
  return [
    {
      name: `float (tfjs ${s.backend})`,
      accuracy: s.floatAccuracy,
      bytes: s.floatBytes,
      imagesPerSec: { 'batch 1': s.floatImagesPerSecBatch1, [b]: s.floatImagesPerSec },
    },
    {
      name: `packed (${s.kernel}, ${s.threads} thread${s.threads > 1 ? 's' : ''})`,
      accuracy: s.packedAccuracy,
      bytes: s.packedBytes,
      imagesPerSec: { 'batch 1': s.packedImagesPerSecBatch1, [b]: s.packedImagesPerSec },
    },
  ];
}

/** The summary as a Markdown table (float vs packed: accuracy, size, images/s at batch 1 and batch `batchSize`) plus one line on agreement. */
export function summaryMarkdown(s: PackedSummary, title: string): string {
  const [f, p] = summaryEngines(s);
  const b = `batch ${s.batchSize}`;
  return [
    `| ${title}, ${s.n} test images | ${f.name} | ${p.name} |`,
    '|---|---:|---:|',
    `| accuracy | ${(s.floatAccuracy * 100).toFixed(2)} % | ${(s.packedAccuracy * 100).toFixed(2)} % |`,
    `| size | ${(s.floatBytes / 1024).toFixed(1)} KiB | ${(s.packedBytes / 1024).toFixed(1)} KiB (${s.sizeRatio.toFixed(1)}× smaller) |`,
    `| images / s, batch 1 (${s.batch1Images} images) | ${s.floatImagesPerSecBatch1.toFixed(1)} | ${s.packedImagesPerSecBatch1.toFixed(1)} (${s.speedupBatch1.toFixed(2)}×) |`,
    `| images / s, ${b} | ${s.floatImagesPerSec.toFixed(1)} | ${s.packedImagesPerSec.toFixed(1)} (${s.speedup.toFixed(2)}×) |`,
    '',
    `Same predicted class on ${(s.agreement * 100).toFixed(2)} % of the images; largest |float − packed| logit ${s.maxLogitDiff.toExponential(2)}.`,
  ].join('\n');
}
