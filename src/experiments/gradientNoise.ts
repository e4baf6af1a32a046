/**
 * The gradient noise of a model's binary kernels, measured: what Bop's threshold τ is compared against.
 *
 * Bop flips a weight when w·m > τ, where m = (1 − γ)·m + γ·g averages the gradient g. At stationarity the noise of
 * m is σ_m ≈ σ_g·√(γ/2) (./derive `noiseOfM`), so τ only acts when it is a sizeable fraction of σ_m, and
 * σ_g, the per-weight spread of the mini-batch gradient, depends on the model and the loss (a pixel-wise
 * segmentation loss and a 10-class loss give very different σ_g). Carrying a τ between two models therefore needs
 * their σ_g, not only their widths and batch sizes (rule 3 of ./derive covers those within one model).
 *
 * Measurement, for a run's config (its model, data, width and batch size) at initialisation, weights fixed:
 * batches k = 1..K of a permutation of the training split seeded by the config's seed (shuffled, as training draws
 * them: the stored order can group similar images, as the Pets lists do by breed; no augmentation), training mode,
 * the gradient g_k of the loss with respect to every binary kernel. Per weight i:
 *
 *     σ_g,i² = (1/(K − 1)) Σ_k (g_k,i − ḡ_i)²            ḡ_i = (1/K) Σ_k g_k,i
 *
 * and the summary is the root mean square over all binary weights, σ_g = √(mean_i σ_g,i²). The measured values of the
 * profiles that use them are recorded in the catalog (`gradientNoise` of a sizing), with the command that measures them
 * again: `npm run gradient-noise -- <experiment> --profile quick --seeds 0,1,2`.
 */
import * as tf from '@tensorflow/tfjs';
import { modelVariables } from '../layers';
import { Rng } from '../random';
import type { ExperimentConfig } from './config';
import { modelComponent } from './components';
import { datasetLoader } from './datasets';

/** One measurement (module comment). */
export interface GradientNoise {
  experiment: string;
  profile: string;
  seed: number;
  /** Batches the spread is taken over (K). */
  batches: number;
  batchSize: number;
  /** Binary weights pooled. */
  weights: number;
  /** σ_g: root mean square over the binary weights of the per-weight standard deviation of the gradient. */
  sigmaG: number;
  /** Root mean square of the mean gradient ḡ (the signal part, for comparison). */
  meanG: number;
}

/**
 * Per-weight spread of gradients given as rows g_k (k = 1..K, each of n weights): σ_g (rms over weights of the
 * unbiased per-weight standard deviation) and the rms of the per-weight mean. Needs K ≥ 2.
 */
export function gradientSpread(rows: ArrayLike<number>[]): { sigmaG: number; meanG: number } {
  const k = rows.length;
  if (k < 2) throw new Error(`gradientSpread: needs at least 2 batches, got ${k}`);
  const n = rows[0].length;
  let varSum = 0;
  let meanSq = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const r of rows) s += r[i];
    const m = s / k;
    let ss = 0;
    for (const r of rows) ss += (r[i] - m) ** 2;
    varSum += ss / (k - 1);
    meanSq += m * m;
  }
  return { sigmaG: Math.sqrt(varSum / n), meanG: Math.sqrt(meanSq / n) };
}

/** Measures σ_g of a run's binary kernels at initialisation (module comment); the backend must be initialised. */
export async function measureGradientNoise(config: ExperimentConfig, batches = 16): Promise<GradientNoise> {
  if (!Number.isInteger(batches) || batches < 2)
    throw new Error(`gradient noise: batches must be an integer ≥ 2, got ${batches}`);
  const data = await datasetLoader(config.dataset)(config);
  const component = modelComponent(config.model);
  const model = component.build(config, data);
  try {
    const binary = modelVariables(model).filter((v) => v.binary);
    if (!binary.length) throw new Error(`gradient noise: ${config.experiment} has no binary kernels`);
    const available = Math.floor(data.train.n / config.batchSize);
    if (available < batches)
      throw new Error(
        `gradient noise: ${config.experiment} has ${available} batches of ${config.batchSize} in its training split, ${batches} asked`,
      );
    const order = new Rng(config.seed).permutation(data.train.n);
    const rows: Float32Array[] = [];
    for (let k = 0; k < batches; k++) {
      const idx = order.slice(k * config.batchSize, (k + 1) * config.batchSize);
      const flat = tf.tidy(() => {
        const { x, y } = data.train.batch(idx, null);
        const { grads } = tf.variableGrads(
          () => component.task.loss(y, model.apply(x, { training: true }) as tf.Tensor),
          binary.map((v) => v.variable),
        );
        return tf.concat(binary.map((v) => tf.reshape(grads[v.variable.name], [-1])));
      });
      rows.push(flat.dataSync() as Float32Array);
      flat.dispose();
    }
    const { sigmaG, meanG } = gradientSpread(rows);
    return {
      experiment: config.experiment,
      profile: config.profile,
      seed: config.seed,
      batches,
      batchSize: config.batchSize,
      weights: rows[0].length,
      sigmaG,
      meanG,
    };
  } finally {
    model.dispose();
  }
}
