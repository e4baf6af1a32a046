/**
 * The report's §4.5: semantic segmentation of Oxford-IIIT Pet trimaps (3 classes: pet, background, border) with
 * three UNets (src/models/unet.ts), 300 epochs at 128×128, batch 64, official trainval (3,680) / test (3,669) split,
 * random horizontal flips, test split as validation (as the reproduction's notebooks, ksb1712/Nips_reproducibility):
 *
 *   pets-unet-fp-adam       full-precision UNet, Adam lr 0.1 (the report's initial lr) ×0.1 every 100 epochs
 *                           (the conv notebook itself ran Adam 1e-3 with its scheduler commented out)
 *   pets-unet-binary-adam   binarized UNet, Adam on clipped latent weights, lr 1e-2 ×0.1 every 100 epochs
 *                           (the notebook's `lr_schedule`)
 *   pets-unet-binary-bop    binarized UNet, Bop τ 1e-8, γ 1e-4 ×0.1 every 100 epochs (the notebook's
 *                           ExponentialDecay with decay_steps = 3680/64·100), Adam 1e-2 constant on the BN betas
 *
 * Importing this module registers the three entries and fills run.ts' `dataLoaders.pets`, `modelBuilders.unet` and
 * `tasks.unet`.
 *
 * Profiles: `quick` trains on whatever Pets copy is found (the shared real 600-image sample: trainval 300 / test 298;
 * or the full dataset) at 64×64, width 0.25, batch 8, 10 epochs (~5 min per run on an idle 2-core machine, wasm); `smoke` on
 * 16 train / 8 test images at 32×32, width 1/16, 2 epochs.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadPets, segmentationSource } from '../data';
import { SegmentationSplit } from '../data/types';
import { loadModel } from '../models/io';
import { modelSizeBits, parameterCounts, unet } from '../models/unet';
import { PET_CLASS_NAMES, predictMasks, segmentation } from '../train/segmentation';
import { atomicWriteJson } from '../util/fs';
import { DecaySchedule, ExperimentConfig } from './config';
import { ExperimentEntry, getExperiment, profileConfig, registerExperiment, Sizing } from './registry';
import { afterRun, dataLoaders, modelBuilders, tasks } from './run';

const every100 = (v: number): DecaySchedule => ({ initial: v, decay: 0.1, everyEpochs: 100 });
const constant = (v: number): DecaySchedule => ({ initial: v, decay: 1, everyEpochs: null });

/** tfds oxford_iiit_pet:3.0.0 train = 3,680 images at batch 64: 57 steps per epoch (the notebooks' steps_per_epoch). */
const PETS_STEPS_PER_EPOCH = Math.floor(3680 / 64);

const petsBase = {
  dataset: 'pets' as const,
  model: 'unet' as const,
  width: 1,
  dropout: 0,
  xavierLrScaling: false,
  epochs: 300,
  batchSize: 64,
  trainPerClass: null,
  testPerClass: null,
  trainLimit: null,
  testLimit: null,
  imageSize: 128,
  augment: true,
};

// 10 epochs of batch 8 (370 steps): enough steps for BN's moving statistics (momentum 0.99) to settle.
export const UNET_QUICK: Sizing = { epochs: 10, width: 0.25, batchSize: 8, imageSize: 64, trainLimit: null, testLimit: null };
export const UNET_SMOKE: Sizing = { epochs: 2, width: 1 / 16, batchSize: 8, imageSize: 32, trainLimit: 16, testLimit: 8 };

export const UNET_EXPERIMENTS: ExperimentEntry[] = [
  {
    name: 'pets-unet-fp-adam',
    section: '§4.5',
    title: 'Full-precision UNet on Oxford-IIIT Pet with Adam',
    claim: 'A real-valued UNet (ReLU, BN) sets the segmentation accuracy that the binarized UNets are compared with.',
    paper: { ...petsBase, binary: false, optimizer: 'adam', gamma: null, threshold: null, lr: every100(0.1) },
    quick: UNET_QUICK,
    smoke: UNET_SMOKE,
    seeds: { paper: [0], quick: [0], smoke: [0] },
    references: [],
    paperStepsPerEpoch: PETS_STEPS_PER_EPOCH,
  },
  {
    name: 'pets-unet-binary-adam',
    section: '§4.5',
    title: 'Binarized UNet on Oxford-IIIT Pet, latent weights with Adam',
    claim: 'The latent-weight baseline on a dense-prediction task: ste_sign kernels from clipped latent weights, Adam 1e-2 ×0.1 every 100 epochs.',
    paper: { ...petsBase, binary: true, optimizer: 'adam', gamma: null, threshold: null, lr: every100(1e-2) },
    quick: UNET_QUICK,
    smoke: UNET_SMOKE,
    seeds: { paper: [0], quick: [0], smoke: [0] },
    references: [],
    paperStepsPerEpoch: PETS_STEPS_PER_EPOCH,
  },
  {
    name: 'pets-unet-binary-bop',
    section: '§4.5',
    title: 'Binarized UNet on Oxford-IIIT Pet with Bop',
    claim: 'Bop (τ 1e-8, γ 1e-4 ×0.1 every 100 epochs) trains a binarized UNet for segmentation, compared with the latent-weight baseline.',
    paper: { ...petsBase, binary: true, optimizer: 'bop', gamma: every100(1e-4), threshold: 1e-8, lr: constant(1e-2) },
    quick: UNET_QUICK,
    smoke: UNET_SMOKE,
    seeds: { paper: [0], quick: [0], smoke: [0] },
    references: [],
    paperStepsPerEpoch: PETS_STEPS_PER_EPOCH,
  },
];

/** The first `limit` examples of a split (or the split itself). */
function headOf(split: SegmentationSplit, limit: number | null, size: number): SegmentationSplit {
  if (limit === null || limit >= split.n) return split;
  const px = size * size;
  return { images: split.images.subarray(0, limit * px * 3), masks: split.masks.subarray(0, limit * px), names: split.names.slice(0, limit), n: limit };
}

let installed = false;

/** Registers the §4.5 entries and the pets loader / unet builder / segmentation task (idempotent). */
export function installUnetExperiments(): void {
  if (installed) return;
  installed = true;
  for (const e of UNET_EXPERIMENTS) {
    let known = false;
    try {
      getExperiment(e.name);
      known = true;
    } catch {
      /* not registered yet */
    }
    if (!known) registerExperiment(e);
  }
  dataLoaders.pets = async (c) => {
    const lim = c.trainLimit === null || c.testLimit === null ? undefined : Math.max(c.trainLimit, c.testLimit);
    const ds = await loadPets({ size: c.imageSize, limit: lim });
    const train = headOf(ds.train, c.trainLimit, ds.size);
    const test = headOf(ds.test, c.testLimit, ds.size);
    return {
      train: segmentationSource(train, ds.size, { flip: c.augment }),
      // As the notebooks: the test split is the validation data.
      val: segmentationSource(test, ds.size),
      nTrain: train.n,
      inputShape: [ds.size, ds.size, 3],
      numClasses: ds.numClasses,
      source: ds.source,
      selection: { train: train.n, test: test.n, testNames: test.names.slice(0, 16) },
    };
  };
  modelBuilders.unet = (c, d) =>
    unet({ binary: c.binary, width: c.width, imageSize: d.inputShape[0], numClasses: d.numClasses, seed: c.seed, kernels: c.optimizer === 'bop' ? 'bop' : 'latent' });
  tasks.unet = segmentation;
  afterRun.unet = (dir, config) => writeUnetPredictions(dir, config);
}

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
  installUnetExperiments();
  const c: ExperimentConfig = config ?? JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).config;
  if (c.model !== 'unet') throw new Error(`${dir}: writeUnetPredictions needs a UNet run, this one is model '${c.model}'`);
  const data = await dataLoaders.pets(c);
  const model = await loadModel(path.join(dir, 'final'));
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
    const file = path.join(dir, 'predictions.json');
    atomicWriteJson(file, { classNames: PET_CLASS_NAMES, experiment: c.experiment, profile: c.profile, samples });
    return file;
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
}

installUnetExperiments();

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
  installUnetExperiments();
  const rows: UnetSizeRow[] = [];
  for (const r of runs) {
    const model = await loadModel(path.join(r.dir, 'final'));
    const c = parameterCounts(model);
    const bits = modelSizeBits(model);
    model.dispose();
    const p = profileConfig(r.experiment, 'paper', 0);
    const full = unet({ binary: p.binary, width: p.width, imageSize: p.imageSize, numClasses: 3, seed: 0, kernels: p.optimizer === 'bop' ? 'bop' : 'latent' });
    rows.push({ experiment: r.experiment, parameters: c.total, binary: c.binary, bits, paperParameters: parameterCounts(full).total, paperBits: modelSizeBits(full) });
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
      .map((r) => `| \`${r.experiment}\` | ${n(r.parameters)} | ${n(r.binary)} | ${n(r.bits)} | ${(r.bits / 8 / 1024).toFixed(1)} KiB | ${n(r.paperParameters)} | ${n(r.paperBits)} | ${(r.paperBits / 8 / 2 ** 20).toFixed(2)} MiB |`)
      .join('\n') +
    '\n\nbits = binary kernels × 1 + every other value (biases, BN β/γ, moving statistics) × 32 (src/models/unet.ts `modelSizeBits`).'
  );
}
