// The dropout mechanism measured (src/experiments/mechanism.ts): the gap statistics against hand-worked numbers, the
// averaged batch moments against an independent computation with the same dropout masks, a tiny BinaryNet with each
// dropout placement (the control is zero on a settled model, the model is left as found), the accuracy rows and their
// paired difference on synthetic numbers, and the whole path on two smoke runs' final models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { binaryNet } from '../src/models/binarynet';
import { BatchNorm, SeededDropout } from '../src/layers';
import { settleBatchNorm } from '../src/train/settle';
import type { SplitSource } from '../src/train/split';
import { Rng } from '../src/random';
import {
  bnStatisticsGap,
  mechanismFigure,
  mechanismMarkdown,
  mechanismRows,
  momentGap,
  pairedGainDifference,
  rawTestAccuracy,
  summarizeMechanism,
  type MechanismRow,
  type MechanismRun,
} from '../src/experiments/mechanism';
import { runExperiment } from '../src/experiments/run';
import { resolveCifar10 } from '../src/data';

const close = (a: number, b: number, tol: number, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} ≠ ${b} (±${tol})`);

/** A split of fixed random rows (or images), no augmentation. */
function randomSplit(n: number, shape: number[], seed: number): SplitSource {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n * size }, () => rng.next() * 2 - 0.5);
  return {
    n,
    batch(idx) {
      const out = new Float32Array(idx.length * size);
      idx.forEach((i, k) => out.set(data.subarray(i * size, (i + 1) * size), k * size));
      return { x: tf.tensor(out, [idx.length, ...shape]), y: tf.zeros([idx.length, 1]) };
    },
  };
}

test('momentGap: δ is the rms standardized mean shift, ρ the geometric mean of the variance ratios (hand-worked)', () => {
  const t = { mean: Float32Array.from([0, 1]), variance: Float32Array.from([4, 1]) };
  const b = { mean: Float32Array.from([1, 1]), variance: Float32Array.from([16, 0.25]) };
  const g = momentGap(b, t, 0);
  // shifts: (1 − 0)/2 = 0.5 and 0 → √((0.25 + 0)/2); ratios 4 and 1/4 → geometric mean 1
  close(g.meanShift, Math.sqrt(0.125), 1e-7, 'δ');
  close(g.varianceRatio, 1, 1e-7, 'ρ');
  const same = momentGap(t, t, 1e-3);
  assert.deepEqual([same.meanShift, same.varianceRatio], [0, 1]);
  // ε enters both variances: (3 + 1)/(1 + 1) = 2
  close(
    momentGap(
      { mean: Float32Array.from([0]), variance: Float32Array.from([3]) },
      { mean: Float32Array.from([0]), variance: Float32Array.from([1]) },
      1,
    ).varianceRatio,
    2,
    1e-7,
    'ρ with ε',
  );
  assert.throws(
    () => momentGap(b, { mean: Float32Array.from([0]), variance: Float32Array.from([1]) }, 0),
    /channel counts differ/,
  );
});

test('bnStatisticsGap: the dropout-on moments are the average of the batch moments under the same masks; the control is zero after settling; the model is left as found', () => {
  const build = () => {
    const input = tf.input({ shape: [5] });
    const d = new SeededDropout({ rate: 0.5, seed: 11, name: 'drop' });
    const b = new BatchNorm({ momentum: 0.99, scale: false, name: 'bn' });
    return { model: tf.model({ inputs: input, outputs: b.apply(d.apply(input)) as tf.SymbolicTensor }), d, b };
  };
  const split = randomSplit(13, [5], 3); // 3 batches of 4, the remainder dropped
  const { model, d, b } = build();
  settleBatchNorm(model, split, 4);
  const before = model.getWeights().map((w) => Array.from(w.dataSync()));
  const rngBefore = JSON.stringify(d.rng.getState());
  const [gap] = bnStatisticsGap(model, split, 4);
  // independent: the same masks (a dropout layer with the same seed and state), tf.moments per batch, averaged
  const twin = new SeededDropout({ rate: 0.5, seed: 11 });
  const means: number[][] = [];
  const vars: number[][] = [];
  for (let k = 0; k < 3; k++) {
    const { x } = split.batch(Int32Array.from([0, 1, 2, 3].map((i) => 4 * k + i)), null);
    const m = tf.moments(twin.apply(x, { training: true }) as tf.Tensor, [0]);
    means.push(Array.from(m.mean.dataSync()));
    vars.push(Array.from(m.variance.dataSync())); // 2-D input: the biased batch variance, as BN's update
  }
  const avg = (xs: number[][]) => xs[0].map((_, j) => (xs[0][j] + xs[1][j] + xs[2][j]) / 3);
  const moving = { mean: Float32Array.from(before[1]), variance: Float32Array.from(before[2]) };
  const want = momentGap(
    { mean: Float32Array.from(avg(means)), variance: Float32Array.from(avg(vars)) },
    moving,
    b.epsilon,
  );
  close(gap.meanShift, want.meanShift, 1e-5, 'δ against the independent computation');
  close(gap.varianceRatio, want.varianceRatio, 1e-5, 'ρ against the independent computation');
  assert.ok(
    gap.varianceRatio > 1.2,
    `inverted dropout at rate 0.5 widens the batch variance (ρ = ${gap.varianceRatio})`,
  );
  close(gap.meanShiftControl, 0, 1e-6, 'control δ');
  close(gap.varianceRatioControl, 1, 1e-6, 'control ρ');
  assert.equal(gap.layer, 'bn');
  assert.equal(gap.channels, 5);
  assert.deepEqual(
    model.getWeights().map((w) => Array.from(w.dataSync())),
    before,
    'weights untouched',
  );
  assert.equal(JSON.stringify(d.rng.getState()), rngBefore, 'dropout generator where it was');
  assert.equal(d.suspended, false);
  assert.equal(b.momentumOverride, null);
  assert.throws(() => bnStatisticsGap(model, split, 20), /batch size 20 is larger than the split \(13 examples\)/);
  model.dispose();
});

test('bnStatisticsGap on a tiny BinaryNet: one row per BN layer; no gap without dropout; after each quantized layer the first BN sees ρ ≈ 1/(1 − p)', () => {
  const split = randomSplit(24, [16, 16, 3], 5);
  const measure = (dropout: number, placement: 'afterBn' | 'afterLayer') => {
    const model = binaryNet({ width: 1 / 16, dropout, dropoutPlacement: placement, inputShape: [16, 16, 3], seed: 2 });
    settleBatchNorm(model, split, 8);
    const gaps = bnStatisticsGap(model, split, 8);
    model.dispose();
    return gaps;
  };
  const none = measure(0, 'afterLayer');
  const after = measure(0.25, 'afterLayer');
  const afterBn = measure(0.25, 'afterBn');
  for (const gaps of [none, after, afterBn]) {
    assert.deepEqual(
      gaps.map((x) => x.layer),
      ['bn_1', 'bn_2', 'bn_3', 'bn_4', 'bn_5', 'bn_6', 'bn_7', 'bn_8', 'bn_9'],
    );
    for (const x of gaps) {
      close(x.meanShiftControl, 0, 1e-4, `${x.layer} control δ`);
      close(x.varianceRatioControl, 1, 1e-4, `${x.layer} control ρ`);
    }
  }
  for (const x of none) {
    close(x.meanShift, 0, 1e-4, `${x.layer}: no dropout layer, no gap`);
    close(x.varianceRatio, 1, 1e-4, `${x.layer}: no dropout layer, no gap`);
  }
  // the first conv's output, dropped with p = 1/4 and rescaled, then BN: Var grows to (σ² + μ²)/(1 − p) − μ² ≥ σ²/(1 − p)
  assert.ok(after[0].varianceRatio > 1.2, `bn_1 after dropout: ρ = ${after[0].varianceRatio}`);
  // after BN, bn_1 sees no dropout yet; the layers behind a dropped input do
  close(afterBn[0].varianceRatio, 1, 1e-4, 'bn_1 with dropout after it');
  assert.ok(
    afterBn.slice(1).some((x) => Math.abs(x.varianceRatio - 1) > 0.01 || x.meanShift > 0.01),
    'a gap behind the first dropout',
  );
});

/** A mechanism row with the given accuracies (layers: one, fixed). */
const row = (
  experiment: string,
  seed: number,
  settled: number,
  raw: number,
  placement = 'afterLayer',
): MechanismRow => ({
  experiment,
  seed,
  dropout: placement === 'none' ? 0 : 0.25,
  placement,
  settled,
  raw,
  layers: [
    {
      layer: 'bn_1',
      channels: 4,
      meanShift: 0.1 * (seed + 1),
      varianceRatio: 1 + 0.1 * seed,
      meanShiftControl: 0,
      varianceRatioControl: 1,
    },
  ],
});

test("accuracy rows: settled − raw per arm, the dropout arm's gain beyond the reference's paired by seed, Markdown and figure", () => {
  const rows = [
    row('cifar10-bop', 0, 0.5, 0.48, 'none'),
    row('cifar10-bop', 1, 0.52, 0.51, 'none'),
    row('cifar10-bop', 2, 0.5, 0.5, 'none'),
    row('cifar10-bop-dropout', 0, 0.4, 0.3),
    row('cifar10-bop-dropout', 1, 0.42, 0.33),
  ];
  const sums = summarizeMechanism(rows);
  assert.deepEqual(
    sums.map((s) => s.experiment),
    ['cifar10-bop', 'cifar10-bop-dropout'],
  );
  close(sums[0].gain, 0.01, 1e-12, 'gain without dropout'); // (0.02 + 0.01 + 0) / 3
  close(sums[1].gain, 0.095, 1e-12, 'gain with dropout'); // (0.10 + 0.09) / 2
  assert.deepEqual(sums[1].layers[0].meanShift, [0.1, 0.2]);
  // paired on seeds 0 and 1 only: (0.10 − 0.02, 0.09 − 0.01) = (0.08, 0.08) → 0.08, zero spread
  const d = pairedGainDifference(rows, 'cifar10-bop-dropout', 'cifar10-bop');
  assert.deepEqual(d.seeds, [0, 1]);
  close(d.difference, 0.08, 1e-12, 'paired difference');
  close(d.interval![0], 0.08, 1e-12, 'interval');
  assert.equal(
    pairedGainDifference(rows.slice(0, 4), 'cifar10-bop-dropout', 'cifar10-bop').interval,
    null,
    'one shared seed: no interval',
  );
  const md = mechanismMarkdown(rows, 'smoke');
  assert.match(md, /\| bn_1 \| 0\.200 · 1\.100 \| 0\.150 · 1\.050 \|/);
  assert.match(
    md,
    /\| `cifar10-bop-dropout` \| after each quantized layer \| 0, 1 \| 31\.50 % \| 41\.00 % \| \+9\.50 pp \|/,
  );
  assert.match(
    md,
    /`cifar10-bop-dropout`: \(settled − raw\) − that of `cifar10-bop` = \*\*\+8\.00 pp\*\* over seeds 0, 1, paired, 95 % interval \[\+8\.00 pp, \+8\.00 pp\]/,
  );
  assert.equal(mechanismMarkdown([], 'smoke'), 'No finished runs to measure.');
  const fig = mechanismFigure(rows);
  assert.equal(fig.data.length, 4, 'δ and ρ per arm');
  assert.deepEqual(
    fig.data.map((t) => t.yaxis),
    ['y', 'y2', 'y', 'y2'],
  );
  assert.deepEqual(fig.data[3].y, [1.05]);
  assert.ok(Number.isNaN(rawTestAccuracy([])));
});

const hasCifar = (() => {
  try {
    resolveCifar10();
    return true;
  } catch {
    return false;
  }
})();

test(
  'the whole path on smoke: final models of cifar10-bop and cifar10-bop-dropout, their training subsets, raw and settled scores',
  { skip: !hasCifar && 'CIFAR-10 not fetched (npm run data -- cifar10)', timeout: 180_000 },
  async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-mechanism-'));
    try {
      const runs: MechanismRun[] = [];
      for (const experiment of ['cifar10-bop', 'cifar10-bop-dropout']) {
        const r = await runExperiment({ experiment, profile: 'smoke', seed: 0, resultsRoot: root, log: null });
        runs.push({ experiment, seed: 0, dir: r.dir, config: r.config, history: r.history });
      }
      const rows = await mechanismRows(runs);
      assert.deepEqual(
        rows.map((r) => [r.experiment, r.placement]),
        [
          ['cifar10-bop', 'none'],
          ['cifar10-bop-dropout', 'afterLayer'],
        ],
      );
      for (const r of rows) {
        assert.equal(r.layers.length, 9);
        for (const x of r.layers) {
          close(x.meanShiftControl, 0, 1e-4, `${r.experiment} ${x.layer}: final/ holds the settled statistics`);
          close(x.varianceRatioControl, 1, 1e-4, `${r.experiment} ${x.layer}`);
        }
        const last = runs.find((x) => x.experiment === r.experiment)!.history.at(-1)!;
        assert.equal(r.settled, last.extra!.testAccuracy);
        assert.equal(r.raw, last.extra!.testAccuracyRaw);
      }
      for (const x of rows[0].layers) close(x.varianceRatio, 1, 1e-4, `no dropout, ${x.layer}`);
      assert.ok(rows[1].layers[0].varianceRatio > 1.1, `dropout after conv 1: ρ = ${rows[1].layers[0].varianceRatio}`);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  },
);
