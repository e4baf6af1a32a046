/**
 * What the report's §4.5 (segmentation of Oxford-IIIT Pet trimaps with UNets; the runs are in ./catalog) shows
 * beyond its curves: the prediction samples of a finished run (for the figures' grid) and the model sizes.
 */
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../models/io';
import { modelSizeBits, parameterCounts, unet } from '../models/unet';
import { PET_CLASS_NAMES, predictMasks } from '../train/segmentation';
import { readRunMeta, runPaths } from '../results';
import { atomicWriteJson } from '../util/fs';
import { ExperimentConfig } from './config';
import { DATASETS } from './datasets';
import { profileConfig } from './registry';

/** One sample of the prediction grid (src/figures SegmentationSample): image in [0, 1], class ids per pixel. */
export interface UnetPredictionSample {
  image: number[][][];
  truth: number[][];
  prediction: number[][];
  title: string;
}

/**
 * Predicts the first `count` validation (test-split) images with the finished model of a run (`<dir>/final`) and
 * writes `<dir>/predictions.json` = {classNames, samples: [{image, truth, prediction, title}]} for the figure grid.
 * `config` is the run's resolved config (config.json's `config`; read from `<dir>/config.json` when omitted).
 */
export async function writeUnetPredictions(dir: string, config?: ExperimentConfig, count = 4): Promise<string> {
  const meta = config ? null : readRunMeta(dir);
  if (!config && !meta)
    throw new Error(`${runPaths(dir).config} not found: writeUnetPredictions needs a finished UNet run folder`);
  const c: ExperimentConfig = config ?? meta!.config;
  if (c.model !== 'unet')
    throw new Error(`${dir}: writeUnetPredictions needs a UNet run, this one is model '${c.model}'`);
  const data = await DATASETS.pets.load(c);
  const model = await loadModel(runPaths(dir).final);
  const n = Math.min(count, data.val.n);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const { x, y } = data.val.batch(idx, null);
  const size = x.shape[1] as number;
  try {
    const pred = predictMasks(model, x as tf.Tensor4D, 8);
    const truth = tf.tidy(() => tf.argMax(y, -1).dataSync());
    const img = x.dataSync();
    const names = (data.selection?.testNames as string[] | undefined) ?? [];
    const samples: UnetPredictionSample[] = [];
    for (let k = 0; k < n; k++) {
      const image: number[][][] = [];
      const t: number[][] = [];
      const p: number[][] = [];
      for (let r = 0; r < size; r++) {
        const ir: number[][] = [];
        const tr: number[] = [];
        const pr: number[] = [];
        for (let q = 0; q < size; q++) {
          const o = (k * size + r) * size + q;
          ir.push([0, 1, 2].map((ch) => Math.round(((img[o * 3 + ch] + 1) / 2) * 1000) / 1000));
          tr.push(truth[o]);
          pr.push(pred[o]);
        }
        image.push(ir);
        t.push(tr);
        p.push(pr);
      }
      samples.push({ image, truth: t, prediction: p, title: names[k] ?? `test image ${k}` });
    }
    const file = runPaths(dir).predictions;
    atomicWriteJson(file, { classNames: PET_CLASS_NAMES, experiment: c.experiment, profile: c.profile, samples });
    return file;
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
}

/** One row of `unetSizeTable`: a trained model of a profile and the same architecture at the paper's size. */
export interface UnetSizeRow {
  experiment: string;
  parameters: number;
  binary: number;
  /** modelSizeBits: binary kernels × 1 + every other value × 32. */
  bits: number;
  paperParameters: number;
  paperBits: number;
}

/**
 * Model sizes of finished UNet runs (their `<dir>/final` models) next to the same architecture at the paper's
 * profile (built, not trained). bits = binary kernels × 1 + biases, BN β/γ and moving statistics × 32.
 */
export async function unetSizeTable(runs: { experiment: string; dir: string }[]): Promise<UnetSizeRow[]> {
  const rows: UnetSizeRow[] = [];
  for (const r of runs) {
    const model = await loadModel(runPaths(r.dir).final);
    const c = parameterCounts(model);
    const bits = modelSizeBits(model);
    model.dispose();
    const p = profileConfig(r.experiment, 'paper', 0);
    const full = unet({
      binary: p.binary,
      width: p.width,
      imageSize: p.imageSize,
      numClasses: 3,
      seed: 0,
      kernels: p.optimizer === 'bop' ? 'bop' : 'latent',
    });
    rows.push({
      experiment: r.experiment,
      parameters: c.total,
      binary: c.binary,
      bits,
      paperParameters: parameterCounts(full).total,
      paperBits: modelSizeBits(full),
    });
    full.dispose();
  }
  return rows;
}

/** `unetSizeTable` as a Markdown table, with the profile in the column headers. */
export function unetSizeMarkdown(rows: UnetSizeRow[], profile: string): string {
  const n = (v: number) => v.toLocaleString('en');
  return (
    `| model | parameters (${profile}) | binary | bits (${profile}) | size | parameters (paper) | bits (paper) | size (paper) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n` +
    rows
      .map(
        (r) =>
          `| \`${r.experiment}\` | ${n(r.parameters)} | ${n(r.binary)} | ${n(r.bits)} | ${(r.bits / 8 / 1024).toFixed(1)} KiB | ${n(r.paperParameters)} | ${n(r.paperBits)} | ${(r.paperBits / 8 / 2 ** 20).toFixed(2)} MiB |`,
      )
      .join('\n') +
    '\n\nbits = binary kernels × 1 + every other value (biases, BN β/γ, moving statistics) × 32 (src/models/unet.ts `modelSizeBits`).'
  );
}
