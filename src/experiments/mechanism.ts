/**
 * The mechanism the reproducibility report proposes for §4.2 (dropout lowers Bop's accuracy), measured on the trained
 * models instead of asserted: during training every batch-normalization layer normalizes with the statistics of the
 * batch, computed with dropout on; at test time it normalizes with its moving statistics, and dropout is off. If
 * dropout changes the statistics a BN layer sees, the network is tested in a regime it was never trained in.
 *
 * Two measurements, per run:
 *
 * 1. **The statistics gap** (`bnStatisticsGap`), on the final model (results/<exp>/<profile>/seed-N/final). For every
 *    BN layer ℓ and channel c, with the weights fixed and batches k = 1..K of the training subset in stored order
 *    (no augmentation, the run's batch size), in training mode:
 *
 *        μ̄_c = (1/K) Σ_k μ_B,k,c        σ̄²_c = (1/K) Σ_k σ²_B,k,c        (unbiased for 4-D inputs, as BN's update)
 *
 *    once with dropout on (what training normalized with) and once with dropout off (the control). Against the
 *    moving statistics the model tests with (μ_c, σ²_c, BN's ε):
 *
 *        mean shift      δ_ℓ = √( (1/C) Σ_c ((μ̄_c − μ_c) / √(σ²_c + ε))² )      (in test-time standard deviations)
 *        variance ratio  ρ_ℓ = exp( (1/C) Σ_c ln((σ̄²_c + ε) / (σ²_c + ε)) )       (geometric mean over channels)
 *
 *    The final models' moving statistics are the settled ones (src/train/settle: the same average over the same
 *    batches, dropout off), so the control is δ ≈ 0, ρ ≈ 1 up to rounding; the dropout-on values are the gap that
 *    training with dropout leaves between the two regimes. Without dropout layers both passes are the control.
 *
 * 2. **The accuracy it costs** (`mechanismRows`): every run scores the test split twice after its last epoch, with
 *    the moving statistics training left (`extra.testAccuracyRaw`) and after settling (`extra.testAccuracy`).
 *    Settling removes exactly the mismatch above (and the lag of the moving averages behind the last weights, which
 *    runs without dropout have too), so  gain = settled − raw  per run, and  gain(dropout) − gain(no dropout), paired
 *    by seed (same initialisation and data order), is the measured size of the mechanism in accuracy.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { batchNormLayers, dropoutLayers, type BatchNorm } from '../layers';
import { loadModel } from '../models/io';
import { finalMetric } from '../results/metrics';
import { mean } from '../results/stats';
import type { History } from '../train/history';
import { averageBatchStatistics } from '../train/settle';
import type { SplitSource } from '../train/split';
import { axisStyle, baseLayout, PALETTE, PANEL_WIDTH, PLOT_CONFIG } from '../figures/style';
import type { Figure, Trace } from '../figures/types';
import type { ExperimentConfig } from './config';
import { datasetLoader } from './datasets';
import { getExperiment } from './registry';
import { meanInterval } from './verdict';

/** The gap of one BN layer (module comment, measurement 1). */
export interface BnLayerGap {
  layer: string;
  channels: number;
  /** δ with dropout on: rms over channels of the mean shift, in test-time standard deviations. */
  meanShift: number;
  /** ρ with dropout on: geometric mean over channels of the variance ratio (1 = no gap). */
  varianceRatio: number;
  /** δ with dropout off (the control: ≈ 0 on a settled model). */
  meanShiftControl: number;
  /** ρ with dropout off (the control: ≈ 1 on a settled model). */
  varianceRatioControl: number;
}

interface Moments {
  mean: Float32Array;
  variance: Float32Array;
}

function movingMoments(bn: BatchNorm): Moments {
  const find = (suffix: string) => {
    // tfjs uniquifies variable names across models (bn_1/moving_mean_1); the name the layer gave is the original one
    const w = bn.weights.find((v) => v.originalName.endsWith(`/${suffix}`));
    if (!w) throw new Error(`BN layer ${bn.name} has no ${suffix} (is it built?)`);
    return w.read().dataSync() as Float32Array;
  };
  return { mean: Float32Array.from(find('moving_mean')), variance: Float32Array.from(find('moving_variance')) };
}

/**
 * The average batch statistics of every BN layer over `batches` batches in training mode, dropout on or off, read
 * through BN's own moving-statistics update with momentum k/(k+1) (as src/train/settle). Leaves the model's weights
 * and every dropout generator as it found them.
 */
function averagedBatchMoments(
  model: tf.LayersModel,
  split: SplitSource,
  batchSize: number,
  batches: number,
  dropoutOn: boolean,
): Moments[] {
  const bns = batchNormLayers(model);
  const drops = dropoutLayers(model);
  const saved = model.getWeights().map((w) => w.clone());
  const rngStates = drops.map((d) => d.rng.getState());
  try {
    averageBatchStatistics(model, split, batchSize, batches, dropoutOn);
    return bns.map(movingMoments);
  } finally {
    drops.forEach((d, i) => d.rng.setState(rngStates[i]));
    model.setWeights(saved);
    tf.dispose(saved);
  }
}

/** δ and ρ of one layer (module comment) between averaged batch moments `b` and the test-time moments `t`. */
export function momentGap(b: Moments, t: Moments, epsilon: number): { meanShift: number; varianceRatio: number } {
  const C = t.mean.length;
  if (b.mean.length !== C || b.variance.length !== C || t.variance.length !== C)
    throw new Error(`momentGap: channel counts differ (${b.mean.length} vs ${C})`);
  let shift2 = 0;
  let logRatio = 0;
  for (let c = 0; c < C; c++) {
    const sd = Math.sqrt(t.variance[c] + epsilon);
    shift2 += ((b.mean[c] - t.mean[c]) / sd) ** 2;
    logRatio += Math.log((b.variance[c] + epsilon) / (t.variance[c] + epsilon));
  }
  return { meanShift: Math.sqrt(shift2 / C), varianceRatio: Math.exp(logRatio / C) };
}

/**
 * Measurement 1 of the module comment on one model: per BN layer, the gap between the batch statistics of training
 * (dropout on) and the moving statistics the model tests with, and the same with dropout off (the control), over
 * the first `batches` full batches of `split` (default: all of them, as settling uses). The model is left unchanged.
 */
export function bnStatisticsGap(
  model: tf.LayersModel,
  split: SplitSource,
  batchSize: number,
  opts: { batches?: number } = {},
): BnLayerGap[] {
  const bns = batchNormLayers(model);
  if (!bns.length) return [];
  const all = Math.floor(split.n / batchSize);
  const batches = Math.min(all, opts.batches ?? all);
  if (!(batches >= 1))
    throw new Error(`bnStatisticsGap: batch size ${batchSize} is larger than the split (${split.n} examples)`);
  const test = bns.map(movingMoments);
  const off = averagedBatchMoments(model, split, batchSize, batches, false);
  // without dropout layers the two passes are the same computation: run it once
  const on = dropoutLayers(model).length ? averagedBatchMoments(model, split, batchSize, batches, true) : off;
  return bns.map((bn, i) => {
    const g = momentGap(on[i], test[i], bn.epsilon);
    const c = momentGap(off[i], test[i], bn.epsilon);
    return {
      layer: bn.name,
      channels: test[i].mean.length,
      meanShift: g.meanShift,
      varianceRatio: g.varianceRatio,
      meanShiftControl: c.meanShift,
      varianceRatioControl: c.varianceRatio,
    };
  });
}

/** One finished run to measure: its experiment, seed, folder (with final/), resolved config and history. */
export interface MechanismRun {
  experiment: string;
  seed: number;
  dir: string;
  config: ExperimentConfig;
  history: History;
}

/** The test accuracy scored with the moving statistics training left (`extra.testAccuracyRaw` of the last record; NaN without). */
export function rawTestAccuracy(h: History): number {
  const v = h.length ? h[h.length - 1].extra?.testAccuracyRaw : undefined;
  return typeof v === 'number' ? v : NaN;
}

/** Both measurements of one run. */
export interface MechanismRow {
  experiment: string;
  seed: number;
  dropout: number;
  placement: string;
  layers: BnLayerGap[];
  /** Test accuracy after settling (the final score) and with the moving statistics training left. */
  settled: number;
  raw: number;
}

/**
 * Both measurements on each run (module comment): loads its final model and its training subset (the data loader of
 * its config, loaded once per distinct dataset and subset), measures the BN gaps, reads the raw and settled test
 * accuracy off its last history record.
 */
export async function mechanismRows(runs: MechanismRun[], opts: { batches?: number } = {}): Promise<MechanismRow[]> {
  const data = new Map<string, Promise<{ train: SplitSource }>>();
  const out: MechanismRow[] = [];
  for (const r of runs) {
    const c = r.config;
    const key = JSON.stringify([c.dataset, c.trainPerClass, c.trainLimit, c.imageSize, c.holdoutPerClass ?? null]);
    if (!data.has(key)) data.set(key, datasetLoader(c.dataset)(c));
    const { train } = await data.get(key)!;
    const model = await loadModel(path.join(r.dir, 'final'));
    try {
      out.push({
        experiment: r.experiment,
        seed: r.seed,
        dropout: c.dropout,
        placement: c.dropout > 0 ? (c.dropoutPlacement ?? 'afterBn') : 'none',
        layers: bnStatisticsGap(model, train, c.batchSize, opts),
        settled: finalMetric(r.history, 'testAccuracy'),
        raw: rawTestAccuracy(r.history),
      });
    } finally {
      model.dispose();
    }
  }
  return out;
}

/** Per experiment: the mean over seeds of each layer's gap, and of the accuracies. */
export interface MechanismSummary {
  experiment: string;
  label: string;
  placement: string;
  seeds: number[];
  layers: {
    layer: string;
    meanShift: number[];
    varianceRatio: number[];
    meanShiftControl: number[];
    varianceRatioControl: number[];
  }[];
  settled: number;
  raw: number;
  /** settled − raw, mean over seeds. */
  gain: number;
}

/** Groups rows by experiment (in first-seen order), keeping per-seed values per layer. */
export function summarizeMechanism(rows: MechanismRow[]): MechanismSummary[] {
  const names = [...new Set(rows.map((r) => r.experiment))];
  return names.map((name) => {
    const rs = rows.filter((r) => r.experiment === name);
    const layers = rs[0].layers.map((l, i) => ({
      layer: l.layer,
      meanShift: rs.map((r) => r.layers[i].meanShift),
      varianceRatio: rs.map((r) => r.layers[i].varianceRatio),
      meanShiftControl: rs.map((r) => r.layers[i].meanShiftControl),
      varianceRatioControl: rs.map((r) => r.layers[i].varianceRatioControl),
    }));
    return {
      experiment: name,
      label: getExperiment(name).label,
      placement: rs[0].placement,
      seeds: rs.map((r) => r.seed),
      layers,
      settled: mean(rs.map((r) => r.settled)),
      raw: mean(rs.map((r) => r.raw)),
      gain: mean(rs.map((r) => r.settled - r.raw)),
    };
  });
}

/**
 * gain(arm) − gain(reference) paired by seed (the seeds both have), with its 95 % t interval over the seeds (null
 * with fewer than two): the accuracy that the BN mismatch of the arm costs beyond the reference's.
 */
export function pairedGainDifference(
  rows: MechanismRow[],
  arm: string,
  reference: string,
): { seeds: number[]; difference: number; interval: [number, number] | null } {
  const gain = (name: string) =>
    new Map(rows.filter((r) => r.experiment === name).map((r) => [r.seed, r.settled - r.raw]));
  const a = gain(arm);
  const b = gain(reference);
  const seeds = [...a.keys()].filter((s) => b.has(s)).sort((x, y) => x - y);
  const d = seeds.map((s) => a.get(s)! - b.get(s)!);
  return { seeds, difference: d.length ? mean(d) : NaN, interval: meanInterval(d) };
}

const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(2)} %` : '—');
const pp = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(2)} pp` : '—');
const g = (xs: number[], digits = 3) => (xs.length ? mean(xs).toFixed(digits) : '—');
/** Mean over layers of the per-layer means over seeds. */
const overLayers = (
  s: MechanismSummary,
  key: 'meanShift' | 'varianceRatio' | 'meanShiftControl' | 'varianceRatioControl',
) => mean(s.layers.map((l) => mean(l[key])));

/**
 * The measurements as Markdown: one table per arm and layer gap (δ, ρ, and the control), one of the accuracies
 * (raw, settled, gain), and the paired gain differences of every dropout arm against `reference`.
 */
export function mechanismMarkdown(rows: MechanismRow[], profile: string, reference = 'cifar10-bop'): string {
  if (!rows.length) return 'No finished runs to measure.';
  const sums = summarizeMechanism(rows);
  const head = `| BN layer | ${sums.map((s) => `\`${s.experiment}\` δ · ρ`).join(' | ')} |\n|---|${sums.map(() => '---:').join('|')}|`;
  const layerRows = sums[0].layers.map(
    (l, i) =>
      `| ${l.layer} | ${sums.map((s) => (s.layers[i] ? `${g(s.layers[i].meanShift)} · ${g(s.layers[i].varianceRatio)}` : '—')).join(' | ')} |`,
  );
  const control = `| control (dropout off), mean over layers | ${sums.map((s) => `${overLayers(s, 'meanShiftControl').toFixed(4)} · ${overLayers(s, 'varianceRatioControl').toFixed(4)}`).join(' | ')} |`;
  const acc = [
    '| run | dropout | seeds | test accuracy, raw (moving statistics of training) | settled (the final score) | settled − raw |',
    '|---|---|---|---:|---:|---:|',
    ...sums.map(
      (s) =>
        `| \`${s.experiment}\` | ${s.placement === 'none' ? 'none' : s.placement === 'afterLayer' ? 'after each quantized layer' : 'after each BN'} | ${s.seeds.join(', ')} | ${pct(s.raw)} | ${pct(s.settled)} | ${pp(s.gain)} |`,
    ),
  ];
  const diffs = sums
    .filter((s) => s.experiment !== reference && s.placement !== 'none' && sums.some((x) => x.experiment === reference))
    .map((s) => {
      const d = pairedGainDifference(rows, s.experiment, reference);
      const ci = d.interval
        ? `, 95 % interval [${pp(d.interval[0])}, ${pp(d.interval[1])}]`
        : ' (one seed: no interval)';
      return `* \`${s.experiment}\`: (settled − raw) − that of \`${reference}\` = **${pp(d.difference)}** over seeds ${d.seeds.join(', ')}, paired${ci}.`;
    });
  return [
    `**BN statistics in training (dropout on) against those the model tests with**, per layer, mean over seeds (${profile} profile). δ: mean shift in test-time standard deviations (0 = none); ρ: variance ratio (1 = none).`,
    '',
    head,
    ...layerRows,
    control,
    '',
    '**What the mismatch costs**: the test split scored with the moving statistics training left, and after settling them on the training set with dropout off.',
    '',
    ...acc,
    ...(diffs.length
      ? ['', 'The size of the mechanism, the extra accuracy settling recovers with dropout:', '', ...diffs]
      : []),
  ].join('\n');
}

/** Per-layer δ and ρ (mean over seeds, min–max bars) of every arm, side by side: the figure of measurement 1. */
export function mechanismFigure(rows: MechanismRow[], opts: { title?: string } = {}): Figure {
  const sums = summarizeMechanism(rows);
  const data: Trace[] = [];
  sums.forEach((s, j) => {
    const color = PALETTE[j % PALETTE.length];
    const x = s.layers.map((l) => l.layer);
    const bar = (key: 'meanShift' | 'varianceRatio', axis: '' | '2'): Trace => {
      const m = s.layers.map((l) => mean(l[key]));
      return {
        type: 'bar',
        name: s.label,
        legendgroup: s.experiment,
        showlegend: axis === '',
        x,
        y: m,
        marker: { color },
        error_y: {
          type: 'data',
          symmetric: false,
          array: s.layers.map((l, i) => Math.max(...l[key]) - m[i]),
          arrayminus: s.layers.map((l, i) => m[i] - Math.min(...l[key])),
          thickness: 1,
          width: 3,
          color: '#333',
        },
        xaxis: `x${axis}`,
        yaxis: `y${axis}`,
        hovertemplate: `${s.experiment} %{x}: %{y:.3f}<extra></extra>`,
      };
    };
    data.push(bar('meanShift', ''), bar('varianceRatio', '2'));
  });
  const layout = baseLayout(opts.title, {
    width: PANEL_WIDTH,
    height: 440,
    barmode: 'group',
    legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: -0.3, yanchor: 'top' },
  });
  layout.margin = { ...layout.margin, b: 110 };
  layout.xaxis = axisStyle('BN layer', { domain: [0, 0.45], type: 'category' });
  layout.yaxis = axisStyle('δ: mean shift (test-time σ)', { rangemode: 'tozero' });
  layout.xaxis2 = axisStyle('BN layer', { domain: [0.55, 1], type: 'category', anchor: 'y2' });
  layout.yaxis2 = axisStyle('ρ: variance ratio (1 = none)', { anchor: 'x2' });
  return { data, layout, config: { ...PLOT_CONFIG } };
}
