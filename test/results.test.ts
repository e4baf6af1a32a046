/**
 * src/results: the one verified reader of results/<experiment>/<profile>/seed-<n>/ folders (used by `npm start`,
 * the figures, the notebooks and the verdicts), on folders written here in the runner's format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  historyFrame,
  historyRows,
  inspectRun,
  listRuns,
  loadRunDir,
  loadRuns,
  parseHistory,
  resultsRoot,
  summarizeRuns,
} from '../src/results';
import { loadRun } from '../src/figures/load';
import { flipMetric, stats as figureStats } from '../src/figures/aggregate';
import { checkModelDir, writeModelFiles } from '../src/models/manifest';
import { logFlipRatio } from '../src/optimizers/flips';
import { readCheckpoint, readRunCheckpoint, writeRunCheckpoint } from '../src/results/checkpoint';
import { readRunMeta, writeRunMeta } from '../src/results/config';
import { historyCsv, historyStaleness, readRunHistory, writeHistoryFiles } from '../src/results/history';
import { finalMetric } from '../src/results/metrics';
import {
  calibrationGridFile,
  fixCommand,
  listExperimentNames,
  profileFolder,
  runDirOf,
  runOfDir,
  runPaths,
  seedOfFolder,
  stagingDir,
  stagingPid,
} from '../src/results/paths';
import { mean, sd, stats, variance } from '../src/results/stats';
import * as tf from '@tensorflow/tfjs';
import type { EpochRecord } from '../src/train/history';

function record(epoch: number, acc: number, val: number): EpochRecord {
  return {
    epoch,
    step: epoch * 10,
    loss: 2 - acc,
    accuracy: acc,
    valLoss: 2 - val,
    valAccuracy: val,
    flipRatio: { conv1: 0.01 / epoch },
    gamma: 1e-4,
    threshold: 1e-8,
    lr: 0.01,
    seconds: 3,
  } as EpochRecord;
}

/**
 * A run folder as src/experiments/run.ts writes it (config.json, checkpoint with its history and a copy of
 * config.json, history files, and final/ when all `epochs` are done), with a one-weight model.
 */
function writeRun(dir: string, o: { seed: number; epochs: number; vals: number[] }): void {
  const history = o.vals.map((v, i) => record(i + 1, v - 0.05, v));
  const meta = {
    config: { experiment: 'cifar10-bop', profile: 'quick', seed: o.seed, epochs: o.epochs, optimizer: 'bop' },
    configHash: `hash-${o.seed}`,
    backend: 'wasm (test)',
    set: [],
  };
  writeRunMeta(dir, meta);
  const w = tf.tensor1d([o.seed, 1]);
  try {
    writeRunCheckpoint(dir, {
      configHash: meta.configHash,
      epoch: history.length,
      weights: [{ name: 'w', tensor: w }],
      optimizer: { meta: {}, tensors: {} },
      rng: [1, 2, 3, 4],
      dropout: {},
      history,
      runId: `run-${o.seed}`,
      runMeta: meta,
    });
  } finally {
    w.dispose();
  }
  writeHistoryFiles(dir, history);
  if (history.length === o.epochs)
    writeModelFiles(
      runPaths(dir).final,
      { 'model.json': Buffer.from('{}'), 'weights.bin': Buffer.from([o.seed]) },
      { runId: `run-${o.seed}`, configHash: meta.configHash, epoch: o.epochs },
    );
}

/** A results tree: cifar10-bop/quick/seed-{0,2} finished, seed-1 interrupted; a hand-made history without a runner config. */
function makeTree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-results-'));
  const seedDir = (seed: number) => path.join(root, 'cifar10-bop', 'quick', `seed-${seed}`);
  writeRun(seedDir(0), { seed: 0, epochs: 2, vals: [0.3, 0.4] });
  writeRun(seedDir(2), { seed: 2, epochs: 2, vals: [0.35, 0.5] });
  writeRun(seedDir(1), { seed: 1, epochs: 2, vals: [0.25] });
  fs.writeFileSync(path.join(root, 'cifar10-bop', 'quick', 'notes.txt'), 'not a seed folder');
  fs.mkdirSync(path.join(root, 'hand-made', 'quick', 'seed-3'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'hand-made', 'quick', 'seed-3', 'history.json'),
    JSON.stringify([record(1, 0.5, 0.5)]),
  );
  return root;
}

test('loadRuns: every seed sorted, complete only when finished and verified against the checkpoint; listRuns over the tree', () => {
  const root = makeTree();
  try {
    const runs = loadRuns('cifar10-bop', 'quick', root);
    assert.deepEqual(
      runs.map((r) => r.seed),
      [0, 1, 2],
    );
    assert.deepEqual(
      runs.map((r) => r.complete),
      [true, false, true],
    );
    assert.deepEqual(
      runs.map((r) => r.status.kind),
      ['finished', 'interrupted', 'finished'],
    );
    assert.equal(runs[1].status.why, 'interrupted after epoch 1 of 2');
    assert.match(
      runs[1].status.fix!,
      /^BNN_RESULTS_DIR=\S+ npm run experiment -- cifar10-bop --profile quick --seed 1 --resume$/,
    );
    assert.equal(runs[0].profile, 'quick');
    assert.equal(runs[0].meta.backend, 'wasm (test)');
    assert.equal(loadRunDir(path.join(root, 'cifar10-bop', 'quick', 'seed-2'))!.history[1].valAccuracy, 0.5);
    assert.equal(loadRunDir(path.join(root, 'cifar10-bop', 'quick', 'seed-9')), null);
    assert.deepEqual(loadRuns('nothing-here', 'quick', root), []);
    // the hand-made history has no runner config: the figures draw it as unverified, the run reader skips it
    assert.deepEqual(
      listRuns(root).map((r) => `${r.experiment}/${r.seed}`),
      ['cifar10-bop/0', 'cifar10-bop/1', 'cifar10-bop/2'],
    );
    assert.equal(inspectRun(path.join(root, 'hand-made', 'quick', 'seed-3')).kind, 'unverified');
    const hand = loadRun('hand-made', 'quick', root)!;
    assert.equal(hand.seeds[0].history[0].accuracy, 0.5);
    assert.equal(hand.seeds[0].verified, false);
    // the figures draw the finished seeds only and say which they left out
    const fig = loadRun('cifar10-bop', 'quick', root)!;
    assert.deepEqual(
      fig.seeds.map((s) => [s.seed, s.verified]),
      [
        [0, true],
        [2, true],
      ],
    );
    assert.deepEqual(
      fig.left!.map((l) => [l.seed, l.kind, l.why]),
      [[1, 'interrupted', 'interrupted after epoch 1 of 2']],
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('summarizeRuns: final-epoch mean / sample std / min / max over the complete seeds only', () => {
  const root = makeTree();
  try {
    const runs = loadRuns('cifar10-bop', 'quick', root);
    const s = summarizeRuns(runs)!;
    assert.deepEqual(s.seeds, [0, 2]);
    assert.ok(Math.abs(s.valAccuracy.mean - 0.45) < 1e-12);
    assert.ok(Math.abs(s.valAccuracy.std - Math.sqrt(((0.4 - 0.45) ** 2 + (0.5 - 0.45) ** 2) / 1)) < 1e-12);
    assert.equal(s.valAccuracy.min, 0.4);
    assert.equal(s.valAccuracy.max, 0.5);
    assert.equal(s.seconds, 6);
    assert.equal(s.backend, 'wasm (test)');
    assert.equal(summarizeRuns([]), null);
    assert.equal(summarizeRuns(runs.filter((r) => !r.complete)), null);
    const done = runs.filter((r) => r.complete);
    const rows = historyRows(done);
    assert.equal(rows.length, 4);
    assert.equal(rows[0].flip_conv1, 0.01);
    const df = historyFrame(done) as { shape: number[] };
    assert.deepEqual(df.shape.slice(0, 1), [4]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('damaged files are reported (file and why, and the command that fixes it), never thrown by the run reader; the results root honours explicit > BNN_RESULTS_DIR > project', () => {
  const root = makeTree();
  try {
    const dir0 = path.join(root, 'cifar10-bop', 'quick', 'seed-0');
    const bad = runPaths(dir0).historyJson;
    fs.writeFileSync(bad, '{"epoch": 1');
    const r0 = loadRuns('cifar10-bop', 'quick', root)[0];
    assert.equal(r0.complete, false);
    assert.equal(r0.status.kind, 'damaged');
    assert.deepEqual(
      r0.status.problems.map((p) => p.file),
      [bad],
    );
    assert.match(r0.status.why!, /history\.json is not valid JSON/);
    assert.match(r0.status.fix!, /npm run experiment -- cifar10-bop --profile quick --seed 0 --repair$/);
    assert.equal(r0.history[1].valAccuracy, 0.4, "the checkpoint's history, not the damaged file");
    // a value nobody wrote: 1e999 parses to Infinity, which is damage, named by record and field
    const cfg = runPaths(path.join(root, 'cifar10-bop', 'quick', 'seed-2')).config;
    assert.throws(
      () => parseHistory('[{"epoch":1,"accuracy":0.5,"valAccuracy":1e999}]', 'h.json', 'Run X to fix it.'),
      /h\.json: record 0 \(epoch 1\) holds Infinity in "valAccuracy".*Run X to fix it\./,
    );
    assert.throws(() => parseHistory('{}', 'h.json'), /h\.json: expected a JSON array/);
    fs.writeFileSync(cfg, 'nope');
    assert.throws(
      () => readRunMeta(path.dirname(cfg)),
      (e: Error) => e.message.includes(cfg) && /--seed 2 --repair/.test(e.message),
    );
    const r2 = loadRunDir(path.dirname(cfg))!;
    assert.equal(r2.complete, false);
    assert.match(r2.status.why!, /config\.json is not valid JSON/);
    assert.equal(r2.config.epochs, 2, "the config from the checkpoint's copy of config.json");
    // finalMetric reads the last epoch only; a non-finite value there is NaN, never an earlier epoch's value
    assert.equal(finalMetric([record(1, 0.2, 0.3), record(2, 0.4, 0.5)], 'valAccuracy'), 0.5);
    assert.ok(Number.isNaN(finalMetric([record(1, 0.2, 0.3), record(2, 0.4, Infinity)], 'valAccuracy')));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  assert.equal(resultsRoot('/x/y'), '/x/y');
  assert.equal(resultsRoot(undefined, { BNN_RESULTS_DIR: '/r' }), '/r');
  assert.equal(resultsRoot(undefined, {}), path.resolve(__dirname, '..', 'results'));
  // the fix command names the profile, the --set overrides and the results root it needs
  const d = runDirOf({ experiment: 'cifar10-bop', profile: 'smoke', seed: 0 }, ['epochs=4'], '/r');
  assert.equal(
    fixCommand(d, 'repair', { config: { experiment: 'cifar10-bop', profile: 'smoke' }, set: ['epochs=4'] }),
    'BNN_RESULTS_DIR=/r npm run experiment -- cifar10-bop --profile smoke --seed 0 --set epochs=4 --repair',
  );
  assert.equal(
    fixCommand(d, 'resume'),
    'BNN_RESULTS_DIR=/r npm run experiment -- cifar10-bop --profile smoke --seed 0 --set … --resume',
  );
});

test('results/paths: every file of a run folder, and override folders named as the previous versions named them', () => {
  const root = '/r';
  // Folder names written by the previous runner for `--set epochs=1` / `--set epochs=4` (read back unchanged).
  assert.equal(
    runDirOf({ experiment: 'cifar10-bop', profile: 'smoke', seed: 0 }, ['epochs=1'], root),
    '/r/cifar10-bop/smoke-41e5b1e5/seed-0',
  );
  assert.equal(
    runDirOf({ experiment: 'cifar10-bop', profile: 'smoke', seed: 0 }, ['epochs=4'], root),
    '/r/cifar10-bop/smoke-cc4ab76f/seed-0',
  );
  assert.equal(profileFolder('quick', ['b=1', 'a=2']), profileFolder('quick', ['a=2', 'b=1']));
  assert.equal(profileFolder('quick'), 'quick');
  const dir = runDirOf({ experiment: 'svhn-bop', profile: 'quick', seed: 12 }, [], root);
  assert.equal(dir, '/r/svhn-bop/quick/seed-12');
  assert.deepEqual(runOfDir(dir), { experiment: 'svhn-bop', profile: 'quick', seed: 12 });
  assert.equal(runOfDir('/r/svhn-bop/quick/notes'), null);
  const p = runPaths(dir);
  assert.deepEqual(
    [p.config, p.historyJson, p.historyCsv, p.checkpoint, p.final, p.predictions, p.lock].map((f) =>
      path.relative(dir, f),
    ),
    ['config.json', 'history.json', 'history.csv', 'checkpoint.bin', 'final', 'predictions.json', '.lock'],
  );
  assert.equal(seedOfFolder('seed-7'), 7);
  assert.equal(seedOfFolder('seed-x'), null);
  assert.equal(stagingPid(path.basename(stagingDir(dir, 4242))), 4242);
  assert.equal(stagingPid('.force-'), null);
});

test('results/stats: mean, sample variance (n − 1), sd, min/max/n; NaN where undefined; the figures use the same', () => {
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  // Σ(x − 2.5)² = 2.25 + 0.25 + 0.25 + 2.25 = 5, / (4 − 1)
  assert.ok(Math.abs(variance([1, 2, 3, 4]) - 5 / 3) < 1e-15);
  assert.ok(Math.abs(sd([1, 2, 3, 4]) - Math.sqrt(5 / 3)) < 1e-15);
  assert.deepEqual(stats([3, -1, 2]), {
    n: 3,
    mean: 4 / 3,
    sd: Math.sqrt(((3 - 4 / 3) ** 2 + (-1 - 4 / 3) ** 2 + (2 - 4 / 3) ** 2) / 2),
    min: -1,
    max: 3,
  });
  assert.ok(Number.isNaN(mean([])));
  assert.ok(Number.isNaN(variance([5])));
  const empty = stats([]);
  assert.equal(empty.n, 0);
  assert.ok([empty.mean, empty.sd, empty.min, empty.max].every(Number.isNaN));
  assert.equal(figureStats, stats);
});

test("one flip metric: the figures' flipMetric is logFlipRatio, πₜ = ln(ratio + e⁻⁹)", () => {
  for (const r of [0, 1e-5, 0.01, 0.5, 1]) assert.equal(flipMetric(r), logFlipRatio(r));
  assert.equal(logFlipRatio(0), -9);
});

test("history files: written atomically, read back checked, compared with the checkpoint's history", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-history-'));
  try {
    const h = [record(1, 0.3, 0.35), { ...record(2, 0.4, 0.45), extra: { testAccuracy: 0.42 } }];
    assert.equal(readRunHistory(dir), null);
    writeHistoryFiles(dir, h);
    assert.deepEqual(readRunHistory(dir), h);
    assert.equal(historyStaleness(dir, h), null);
    const csv = historyCsv(h).trim().split('\n');
    assert.equal(
      csv[0],
      'epoch,step,loss,accuracy,valLoss,valAccuracy,gamma,threshold,lr,seconds,flip_conv1,testAccuracy',
    );
    assert.equal(csv.length, 3);
    assert.equal(csv[1].split(',').pop(), '');
    assert.match(historyStaleness(dir, [...h, record(3, 0.5, 0.5)])!, /has 2 epochs, the checkpoint 3/);
    fs.writeFileSync(runPaths(dir).historyCsv, csv.slice(0, 2).join('\n') + '\n');
    assert.match(historyStaleness(dir, h)!, /history\.csv has 1 rows, the checkpoint 2 epochs/);
    // one changed digit in a row of history.csv, or in a record of history.json, is found and placed
    fs.writeFileSync(runPaths(dir).historyCsv, [csv[0], csv[1], csv[2].replace('0.45', '0.95')].join('\n') + '\n');
    assert.match(historyStaleness(dir, h)!, /history\.csv row 2 \(epoch 2\) differs from the checkpoint's history/);
    writeHistoryFiles(dir, h);
    fs.writeFileSync(runPaths(dir).historyJson, JSON.stringify([h[0], { ...h[1], valAccuracy: 0.99 }]));
    assert.match(
      historyStaleness(dir, h)!,
      /history\.json differs from the history in the checkpoint at epoch 2 \("valAccuracy"\)/,
    );
    fs.writeFileSync(
      runPaths(dir).historyJson,
      JSON.stringify([h[0], h[1]]).replace('"valAccuracy":0.45', '"valAccuracy":1e999'),
    );
    assert.match(historyStaleness(dir, h)!, /history\.json holds Infinity at \[1\]\.valAccuracy/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('config.json: written and read back; a damaged one is an error naming it, or absent when lenient', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-config-'));
  try {
    assert.equal(readRunMeta(dir), null);
    const meta = {
      config: { experiment: 'e', profile: 'quick', seed: 1, epochs: 3 },
      configHash: 'abc',
      backend: 'cpu',
    };
    writeRunMeta(dir, meta);
    assert.deepEqual(readRunMeta(dir), meta);
    fs.writeFileSync(runPaths(dir).config, '{"config":');
    assert.throws(
      () => readRunMeta(dir),
      (e: Error) => e.message.includes(runPaths(dir).config) && /not valid JSON/.test(e.message),
    );
    assert.equal(readRunMeta(dir, { lenient: true }), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('run checkpoint: what the training loop hands over comes back whole, under the on-disk keys of earlier versions', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-ckpt-'));
  const made: tf.Tensor[] = [];
  const t = (v: number[], shape: number[]) => {
    const x = tf.tensor(v, shape);
    made.push(x);
    return x;
  };
  try {
    const history = [record(1, 0.3, 0.35)];
    writeRunCheckpoint(dir, {
      configHash: 'h1',
      epoch: 1,
      weights: [
        { name: 'conv1/kernel', tensor: t([1, -1, 1, -1], [2, 2]) },
        { name: 'bn/gamma', tensor: t([0.5, 2], [2]) },
      ],
      optimizer: { meta: { step: 4 }, tensors: { 'bop/m/conv1': t([0.1, 0.2, 0.3, 0.4], [2, 2]) } },
      rng: [1, 2, 3, 4],
      dropout: { drop1: [5, 6, 7, 8] },
      history,
      runId: 'run-a',
    });
    const raw = readCheckpoint(runPaths(dir).checkpoint);
    assert.deepEqual(Object.keys(raw.tensors).sort(), ['model:0:conv1/kernel', 'model:1:bn/gamma', 'opt:bop/m/conv1']);
    tf.dispose(Object.values(raw.tensors));
    const ck = readRunCheckpoint(runPaths(dir).checkpoint, ['conv1/kernel', 'bn/gamma']);
    try {
      assert.equal(ck.configHash, 'h1');
      assert.equal(ck.epoch, 1);
      assert.deepEqual(Array.from(ck.weights[0].dataSync()), [1, -1, 1, -1]);
      assert.deepEqual(ck.weights[1].shape, [2]);
      assert.deepEqual(ck.optimizer.meta, { step: 4 });
      assert.ok(Math.abs(ck.optimizer.tensors['bop/m/conv1'].dataSync()[3] - 0.4) < 1e-7);
      assert.deepEqual(ck.rng, [1, 2, 3, 4]);
      assert.deepEqual(ck.dropout, { drop1: [5, 6, 7, 8] });
      assert.deepEqual(ck.history, history);
      assert.equal(ck.runId, 'run-a');
    } finally {
      ck.dispose();
    }
    assert.throws(
      () => readRunCheckpoint(runPaths(dir).checkpoint, ['conv1/kernel', 'dense/kernel']),
      /lacks weight dense\/kernel/,
    );
  } finally {
    tf.dispose(made);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('final/ manifest: written last, checked by size and SHA-256 without TensorFlow.js', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-final-'));
  try {
    writeModelFiles(dir, { 'weights.bin': Buffer.from([1, 2, 3, 4]), 'model.json': Buffer.from('{}') }, { epoch: 2 });
    const ok = checkModelDir(dir);
    assert.ok(ok.ok, ok.why);
    assert.deepEqual(ok.manifest!.meta, { epoch: 2 });
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from([1, 2, 3, 5]));
    assert.match(checkModelDir(dir).why, /weights\.bin does not match the SHA-256/);
    writeModelFiles(dir, { 'model.json': Buffer.from('{}') });
    assert.match(checkModelDir(dir).why, /does not list model\.json and weights\.bin/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the calibration folder of the results root holds grids, not an experiment', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-calib-'));
  try {
    const grid = calibrationGridFile('quick', root);
    assert.equal(path.relative(root, grid), path.join('calibration', 'quick', 'cifar10-bop-grid.json'));
    fs.mkdirSync(path.dirname(grid), { recursive: true });
    fs.mkdirSync(path.join(root, 'cifar10-bop', 'quick', 'seed-0'), { recursive: true });
    assert.deepEqual(listExperimentNames(root), ['cifar10-bop']);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
