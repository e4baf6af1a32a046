/**
 * src/results: the one reader of results/<experiment>/<profile>/seed-<n>/ folders (used by `npm start`,
 * the figures and the notebooks), on folders written here in the runner's format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { historyFrame, historyRows, listRuns, loadRunDir, loadRuns, parseHistory, readSeedFolders, resultsRoot, summarizeRuns } from '../src/results';
import { loadRun } from '../src/figures/load';
import type { EpochRecord } from '../src/train/history';

function record(epoch: number, acc: number, val: number): EpochRecord {
  return { epoch, step: epoch * 10, loss: 2 - acc, accuracy: acc, valLoss: 2 - val, valAccuracy: val, flipRatio: { conv1: 0.01 / epoch }, gamma: 1e-4, threshold: 1e-8, lr: 0.01, seconds: 3 } as EpochRecord;
}

/** A results tree: cifar10-bop/quick/seed-{0,2} complete, seed-1 interrupted; a hand-made history without config. */
function makeTree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-results-'));
  const write = (rel: string, v: unknown) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), typeof v === 'string' ? v : JSON.stringify(v));
  };
  const cfg = (seed: number) => ({ config: { experiment: 'cifar10-bop', profile: 'quick', seed, epochs: 2, optimizer: 'bop' }, backend: 'wasm (test)' });
  for (const [seed, vals] of [[0, [0.3, 0.4]], [2, [0.35, 0.5]]] as [number, number[]][]) {
    write(`cifar10-bop/quick/seed-${seed}/config.json`, cfg(seed));
    write(`cifar10-bop/quick/seed-${seed}/history.json`, vals.map((v, i) => record(i + 1, v - 0.05, v)));
    write(`cifar10-bop/quick/seed-${seed}/final/model.json`, '{}');
    write(`cifar10-bop/quick/seed-${seed}/final/weights.bin`, '');
    const sha = (t: string) => crypto.createHash('sha256').update(t).digest('hex');
    write(`cifar10-bop/quick/seed-${seed}/final/manifest.json`, { format: 'bnn-final-1', files: { 'model.json': { bytes: 2, sha256: sha('{}') }, 'weights.bin': { bytes: 0, sha256: sha('') } } });
  }
  write('cifar10-bop/quick/seed-1/config.json', cfg(1));
  write('cifar10-bop/quick/seed-1/history.json', [record(1, 0.2, 0.25)]);
  write('cifar10-bop/quick/notes.txt', 'not a seed folder');
  write('hand-made/quick/seed-3/history.json', [record(1, 0.5, 0.5)]);
  return root;
}

test('loadRuns: every seed sorted, completeness from epochs and final/ matching its manifest; listRuns over the tree', () => {
  const root = makeTree();
  try {
    const runs = loadRuns('cifar10-bop', 'quick', root);
    assert.deepEqual(runs.map((r) => r.seed), [0, 1, 2]);
    assert.deepEqual(runs.map((r) => r.complete), [true, false, true]);
    assert.equal(runs[0].profile, 'quick');
    assert.equal(runs[0].meta.backend, 'wasm (test)');
    assert.equal(loadRunDir(path.join(root, 'cifar10-bop', 'quick', 'seed-2'))!.history[1].valAccuracy, 0.5);
    assert.equal(loadRunDir(path.join(root, 'cifar10-bop', 'quick', 'seed-9')), null);
    assert.deepEqual(loadRuns('nothing-here', 'quick', root), []);
    // the hand-made history has no runner config: the figures read it, the run reader skips it
    assert.deepEqual(listRuns(root).map((r) => `${r.experiment}/${r.seed}`), ['cifar10-bop/0', 'cifar10-bop/1', 'cifar10-bop/2']);
    assert.equal(readSeedFolders('hand-made', 'quick', root)[0].meta, null);
    assert.equal(loadRun('hand-made', 'quick', root)!.seeds[0].history[0].accuracy, 0.5);
    assert.equal(loadRun('cifar10-bop', 'quick', root)!.seeds.length, 3);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('summarizeRuns: final-epoch mean / sample std / min / max over seeds', () => {
  const root = makeTree();
  try {
    const runs = loadRuns('cifar10-bop', 'quick', root).filter((r) => r.complete);
    const s = summarizeRuns(runs)!;
    assert.deepEqual(s.seeds, [0, 2]);
    assert.ok(Math.abs(s.valAccuracy.mean - 0.45) < 1e-12);
    assert.ok(Math.abs(s.valAccuracy.std - Math.sqrt(((0.4 - 0.45) ** 2 + (0.5 - 0.45) ** 2) / 1)) < 1e-12);
    assert.equal(s.valAccuracy.min, 0.4);
    assert.equal(s.valAccuracy.max, 0.5);
    assert.equal(s.seconds, 6);
    assert.equal(s.backend, 'wasm (test)');
    assert.equal(summarizeRuns([]), null);
    const rows = historyRows(runs);
    assert.equal(rows.length, 4);
    assert.equal(rows[0].flip_conv1, 0.01);
    const df = historyFrame(runs) as { shape: number[] };
    assert.deepEqual(df.shape.slice(0, 1), [4]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('bad files get errors naming the file; the results root honours explicit > BNN_RESULTS_DIR > project', () => {
  const root = makeTree();
  try {
    const bad = path.join(root, 'cifar10-bop', 'quick', 'seed-0', 'history.json');
    fs.writeFileSync(bad, '{"epoch": 1');
    assert.throws(() => loadRuns('cifar10-bop', 'quick', root), (e: Error) => e.message.includes(bad) && /not valid JSON/.test(e.message));
    fs.writeFileSync(bad, JSON.stringify([{ epoch: 1, accuracy: 'high' }]));
    assert.throws(() => loadRuns('cifar10-bop', 'quick', root), /record 0 has no numeric "accuracy"/);
    const cfg = path.join(root, 'cifar10-bop', 'quick', 'seed-2', 'config.json');
    fs.writeFileSync(cfg, 'nope');
    assert.throws(() => loadRunDir(path.dirname(cfg)), (e: Error) => e.message.includes(cfg));
    assert.throws(() => parseHistory('{}', 'h.json'), /h\.json: expected a JSON array/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  assert.equal(resultsRoot('/x/y'), '/x/y');
  assert.equal(resultsRoot(undefined, { BNN_RESULTS_DIR: '/r' }), '/r');
  assert.equal(resultsRoot(undefined, {}), path.resolve(__dirname, '..', 'results'));
});
