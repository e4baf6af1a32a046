/**
 * The training loop: one plain function, nanoGPT-style. Per step: a batch, forward pass, loss, gradients,
 * the optimizer's step, clipping of latent kernels (the baseline's weight_clip, applied here because tfjs
 * does not apply constraints reliably, tfjs#3345/#3979), flip counting. Per epoch: evaluation on the
 * validation split, one history record, one progress line with ETA, the `onEpoch` hook. After the last epoch, the
 * test split when one is given, scored twice: with the moving BN statistics training left (`extra.testLossRaw`,
 * `testAccuracyRaw`), then settled — BN statistics recomputed on the training set (./settle) — which is the run's
 * final score (`extra.testLoss`, `testAccuracy`; `settleBatches` says how many batches set the statistics).
 * A record's γ, τ and lr are the values its epoch trained with (read before its first step).
 */
import * as tf from '@tensorflow/tfjs';
import { modelVariables, ModelVariable } from '../layers';
import { countFlips, Optimizer } from '../optimizers';
import { Rng } from '../random';
import { EpochRecord, History } from './history';
import { settleBatchNorm } from './settle';
import type { SplitSource } from './split';
import { classification, Task } from './tasks';

export type { SplitSource } from './split';

export interface TrainOptions {
  model: tf.LayersModel;
  optimizer: Optimizer;
  train: SplitSource;
  val: SplitSource;
  /** Scored once, after the last epoch (e.g. the whole test split), raw and settled (./settle); null/absent: not scored. */
  test?: SplitSource | null;
  /** Settle the BN statistics before the final score (default true; false scores with the moving statistics only). */
  settle?: boolean;
  epochs: number;
  batchSize: number;
  /** Draws the shuffles and the augmentation; its state is part of a checkpoint. */
  rng: Rng;
  task?: Task;
  evalBatchSize?: number;
  /** Epochs already done (resume): training starts at epoch `history.length + 1`. */
  history?: History;
  /** Called after each epoch with the new record; awaited (checkpoints are written here). */
  onEpoch?: (record: EpochRecord, history: History) => void | Promise<void>;
  /** Called after each step (live progress); cheap work only. */
  onStep?: (info: { epoch: number; step: number; stepsPerEpoch: number; loss: number }) => void;
  /** Progress output; default console.log. Pass null for silence. */
  log?: ((line: string) => void) | null;
  /** Label for progress lines. */
  label?: string;
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Evaluates the model (inference mode) on a split: mean loss, accuracy and extra metrics. */
export function evaluate(model: tf.LayersModel, split: SplitSource, task: Task = classification, batchSize = 500) {
  let lossSum = 0;
  let stats: Float64Array | null = null;
  for (let start = 0; start < split.n; start += batchSize) {
    const idx = new Int32Array(Math.min(batchSize, split.n - start)).map((_, i) => start + i);
    const [l, s] = tf.tidy(() => {
      const { x, y } = split.batch(idx, null);
      const p = model.apply(x, { training: false }) as tf.Tensor;
      return [tf.mul(task.loss(y, p), idx.length), task.batchStats(y, p)];
    });
    lossSum += l.dataSync()[0];
    const sv = s.dataSync();
    if (!stats) stats = new Float64Array(sv.length);
    for (let i = 0; i < sv.length; i++) stats[i] += sv[i];
    l.dispose();
    s.dispose();
  }
  const summary = task.summarize(stats ?? new Float64Array(1), split.n);
  return { loss: lossSum / split.n, ...summary };
}

/** Trains `model` for `epochs` epochs (continuing after `history`), returning the full history. */
export async function train(opts: TrainOptions): Promise<History> {
  const task = opts.task ?? classification;
  const log = opts.log === undefined ? (l: string) => console.log(l) : opts.log;
  const history: History = opts.history ? [...opts.history] : [];
  const vars = modelVariables(opts.model);
  const tfVars = vars.map((v) => v.variable);
  const binary = vars.filter((v) => v.binary);
  const clipped = vars.filter((v) => v.clip);
  const stepsPerEpoch = Math.floor(opts.train.n / opts.batchSize);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)
    throw new Error(`batchSize must be an integer ≥ 1, got ${opts.batchSize}`);
  if (stepsPerEpoch < 1)
    throw new Error(`batchSize ${opts.batchSize} is larger than the training split (${opts.train.n} examples)`);
  const label = opts.label ? `${opts.label} ` : '';
  const firstEpoch = history.length + 1;
  const runStart = Date.now();

  for (let epoch = firstEpoch; epoch <= opts.epochs; epoch++) {
    const t0 = Date.now();
    const perm = opts.rng.permutation(opts.train.n);
    let lossSum = 0;
    let stats: Float64Array | null = null;
    const flips = new Map<string, number>();
    // the hyperparameters this epoch trains with (schedules are read at the optimizer's step count)
    const h = opts.optimizer.hyper();
    for (let s = 0; s < stepsPerEpoch; s++) {
      const idx = perm.subarray(s * opts.batchSize, (s + 1) * opts.batchSize);
      const { lossValue, batchStats, flipCounts } = trainStep(opts, task, vars, tfVars, binary, clipped, idx);
      if (!Number.isFinite(lossValue)) {
        throw new Error(
          `Loss became ${lossValue} at epoch ${epoch}, step ${s + 1} (global step ${opts.optimizer.iterations}); stopping. Lower the learning rate / γ or check the data.`,
        );
      }
      lossSum += lossValue;
      if (!stats) stats = new Float64Array(batchStats.length);
      for (let i = 0; i < batchStats.length; i++) stats[i] += batchStats[i];
      binary.forEach((v, i) => {
        const key = v.layer;
        flips.set(key, (flips.get(key) ?? 0) + flipCounts[i] / v.variable.size);
      });
      opts.onStep?.({ epoch, step: s + 1, stepsPerEpoch, loss: lossValue });
    }
    const trainSummary = task.summarize(stats!, stepsPerEpoch * opts.batchSize);
    const val = evaluate(opts.model, opts.val, task, opts.evalBatchSize ?? 500);
    const extra = epochExtras(opts, task, trainSummary.extra, val.extra, epoch === opts.epochs);
    const record: EpochRecord = {
      epoch,
      step: opts.optimizer.iterations,
      loss: lossSum / stepsPerEpoch,
      accuracy: trainSummary.accuracy,
      valLoss: val.loss,
      valAccuracy: val.accuracy,
      gamma: h.gamma ?? null,
      threshold: h.threshold ?? null,
      lr: h.lr ?? NaN,
      flipRatio: Object.fromEntries([...flips].map(([k, v]) => [k, v / stepsPerEpoch])),
      seconds: (Date.now() - t0) / 1000,
      ...(Object.keys(extra).length ? { extra } : {}),
    };
    history.push(record);
    if (log) {
      const eta = ((Date.now() - runStart) / 1000 / (epoch - firstEpoch + 1)) * (opts.epochs - epoch);
      log(`${label}${epochLine(record, opts.epochs, extra)} ETA ${formatDuration(eta)}`);
    }
    await opts.onEpoch?.(record, history);
  }
  return history;
}

/**
 * An epoch's extra metrics: the task's own (train, and validation prefixed `val`), and after the last epoch the test
 * split's loss and accuracy, raw and after the BN statistics are settled (settle.ts; `settle: false` skips it).
 */
function epochExtras(
  opts: TrainOptions,
  task: Task,
  trainExtra: Record<string, number> | undefined,
  valExtra: Record<string, number> | undefined,
  last: boolean,
): Record<string, number> {
  const extra: Record<string, number> = {};
  for (const [k, v] of Object.entries(trainExtra ?? {})) extra[k] = v;
  for (const [k, v] of Object.entries(valExtra ?? {})) extra[`val${k[0].toUpperCase()}${k.slice(1)}`] = v;
  if (!last || !opts.test) return extra;
  const raw = evaluate(opts.model, opts.test, task, opts.evalBatchSize ?? 500);
  extra.testLossRaw = raw.loss;
  extra.testAccuracyRaw = raw.accuracy;
  let final = raw;
  if (opts.settle !== false) {
    extra.settleBatches = settleBatchNorm(opts.model, opts.train, opts.batchSize);
    if (extra.settleBatches > 0) final = evaluate(opts.model, opts.test, task, opts.evalBatchSize ?? 500);
  }
  extra.testLoss = final.loss;
  extra.testAccuracy = final.accuracy;
  extra.testN = opts.test.n;
  return extra;
}

/** The progress line of an epoch (without the ETA). */
function epochLine(record: EpochRecord, epochs: number, extra: Record<string, number>): string {
  const fr = Object.values(record.flipRatio);
  const meanFlip = fr.length ? fr.reduce((a, b) => a + b, 0) / fr.length : 0;
  const hyper = record.gamma !== null ? `γ ${record.gamma.toExponential(1)} ` : '';
  const test =
    extra.testAccuracy !== undefined
      ? ` test_acc ${(extra.testAccuracy * 100).toFixed(2)}% (settled; raw ${(extra.testAccuracyRaw * 100).toFixed(2)}%, ${extra.testN})`
      : '';
  return (
    `epoch ${record.epoch}/${epochs} step ${record.step} loss ${record.loss.toFixed(4)} acc ${(record.accuracy * 100).toFixed(2)}% ` +
    `val_loss ${record.valLoss.toFixed(4)} val_acc ${(record.valAccuracy * 100).toFixed(2)}% ${hyper}lr ${record.lr.toExponential(1)} ` +
    `flips ${meanFlip.toExponential(2)}${test} ${record.seconds.toFixed(1)}s`
  );
}

function trainStep(
  opts: TrainOptions,
  task: Task,
  vars: ModelVariable[],
  tfVars: tf.Variable[],
  binary: ModelVariable[],
  clipped: ModelVariable[],
  idx: Int32Array,
) {
  const out = tf.tidy(() => {
    const { x, y } = opts.train.batch(idx, opts.rng);
    const signsBefore = binary.map((v) => tf.greaterEqual(v.variable, 0));
    let batchStats: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const p = opts.model.apply(x, { training: true }) as tf.Tensor;
      batchStats = tf.keep(task.batchStats(y, p));
      return task.loss(y, p);
    }, tfVars);
    opts.optimizer.apply(
      vars,
      vars.map((v) => grads[v.variable.name]),
    );
    for (const v of clipped) v.variable.assign(tf.clipByValue(v.variable, -1, 1));
    const flipCounts = binary.map((v, i) =>
      tf.sum(tf.cast(tf.notEqual(signsBefore[i], tf.greaterEqual(v.variable, 0)), 'int32')),
    );
    const stats = batchStats as unknown as tf.Tensor;
    const packed = tf.concat([
      tf.reshape(tf.cast(value, 'float32'), [1]),
      tf.cast(stats, 'float32'),
      ...flipCounts.map((f) => tf.reshape(tf.cast(f, 'float32'), [1])),
    ]);
    stats.dispose(); // kept out of the gradient scope above
    return packed;
  });
  const data = out.dataSync();
  out.dispose();
  const nStats = data.length - 1 - binary.length;
  return {
    lossValue: data[0],
    batchStats: data.subarray(1, 1 + nStats),
    flipCounts: Array.from(data.subarray(1 + nStats)),
  };
}

export { countFlips };
