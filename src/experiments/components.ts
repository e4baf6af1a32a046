/**
 * The models a run can train, by name, with the task (loss and metrics) each is trained on and the work done
 * after a run completes: one static table, looked up by the runner (nothing registers itself by being imported).
 * Datasets are in ./datasets.
 */
import * as tf from '@tensorflow/tfjs';
import { binaryNet } from '../models/binarynet';
import { unet } from '../models/unet';
import { segmentation } from '../train/segmentation';
import { classification, Task } from '../train/tasks';
import type { ExperimentConfig } from './config';
import type { RunData } from './datasets';
import { writeUnetPredictions } from './unet';

export interface ModelComponent {
  build(config: ExperimentConfig, data: RunData): tf.LayersModel;
  task: Task;
  /** Run after a run completes (UNet: the prediction samples of the figures' grid). */
  afterRun?: (dir: string, config: ExperimentConfig) => Promise<unknown>;
}

export const MODELS: Record<string, ModelComponent> = {
  binarynet: {
    build: (c, d) =>
      binaryNet({
        width: c.width,
        dropout: c.dropout,
        dropoutPlacement: c.dropoutPlacement,
        kernels: c.optimizer === 'bop' ? 'bop' : c.kernels === 'real-hidden' ? 'real-hidden' : 'latent',
        bnMomentum: c.bnMomentum,
        inputShape: d.inputShape,
        numClasses: d.numClasses,
        seed: c.seed,
      }),
    task: classification,
  },
  unet: {
    build: (c, d) =>
      unet({
        binary: c.binary,
        width: c.width,
        imageSize: d.inputShape[0],
        numClasses: d.numClasses,
        seed: c.seed,
        kernels: c.optimizer === 'bop' ? 'bop' : 'latent',
      }),
    task: segmentation,
    afterRun: (dir, config) => writeUnetPredictions(dir, config),
  },
};

export function modelComponent(name: string): ModelComponent {
  const m = MODELS[name];
  if (!m) throw new Error(`No model '${name}'. Known: ${Object.keys(MODELS).join(', ')}`);
  return m;
}
