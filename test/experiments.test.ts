import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { validateConfig } from '../src/experiments/config';
import { applyOverrides } from '../src/experiments/overrides';
import { experimentNames, getExperiment, profileConfig } from '../src/experiments/registry';
import { configHash, resolveConfig, runDir, toSchedule } from '../src/experiments/run';
import { readCheckpoint, writeCheckpoint } from '../src/results/checkpoint';
import { atomicWrite } from '../src/util/fs';
import { scheduleValue } from '../src/optimizers';
import * as tf from '@tensorflow/tfjs';
import { writeCifarFixture } from './helpers/cifarFixture';

const ROOT = path.resolve(__dirname, '..');

test("paper profiles equal the report's settings, field by field", () => {
  const bop = profileConfig('cifar10-bop', 'paper', 0);
  assert.equal(bop.dataset, 'cifar10');
  assert.equal(bop.model, 'binarynet');
  assert.equal(bop.width, 1);
  assert.equal(bop.epochs, 500);
  assert.equal(bop.batchSize, 50);
  assert.equal(bop.optimizer, 'bop');
  assert.equal(bop.threshold, 1e-8);
  assert.deepEqual(bop.gamma, { initial: 1e-4, decay: 0.1, everyEpochs: 100 });
  assert.deepEqual(bop.lr, { initial: 0.01, decay: 1, everyEpochs: null });
  assert.equal(bop.dropout, 0);
  assert.equal(bop.augment, true);
  assert.equal(bop.trainPerClass, null);
  // γ in steps: 1e-4 for epochs 0–99 (100,000 steps at 1000 steps/epoch), then ×0.1
  const g = toSchedule(bop.gamma!, 1000);
  assert.deepEqual(g, { kind: 'staircase', initial: 1e-4, decayRate: 0.1, decaySteps: 100_000 });
  assert.ok(Math.abs(scheduleValue(g, 499_999) - 1e-8) < 1e-20);

  const adam = profileConfig('cifar10-adam-baseline', 'paper', 0);
  assert.equal(adam.optimizer, 'adam');
  assert.deepEqual(adam.lr, { initial: 1e-3, decay: 0.1, everyEpochs: 100 });
  assert.equal(adam.gamma, null);
  assert.equal(adam.threshold, null);
  assert.equal(adam.epochs, 500);
  assert.equal(adam.batchSize, 50);

  assert.deepEqual(profileConfig('cifar10-bop-constant-lr', 'paper', 0).lr, {
    initial: 0.01,
    decay: 1,
    everyEpochs: null,
  });
  assert.deepEqual(profileConfig('cifar10-bop-lr-decay', 'paper', 0).lr, {
    initial: 0.01,
    decay: 0.1,
    everyEpochs: 100,
  });
  assert.equal(profileConfig('cifar10-bop-dropout', 'paper', 0).dropout, 0.25);
  assert.equal(profileConfig('cifar10-bop-constant-gamma', 'paper', 0).gamma!.everyEpochs, null);
  const svhn = profileConfig('svhn-bop', 'paper', 0);
  assert.equal(svhn.epochs, 300);
  assert.equal(svhn.dataset, 'svhn');
  assert.equal(svhn.gamma!.everySteps, 100_000);
  assert.deepEqual(getExperiment('cifar10-bop').seeds.paper, [0, 1, 2]);
  for (const name of experimentNames())
    for (const p of ['paper', 'quick', 'smoke']) validateConfig(profileConfig(name, p, 0));
});

test('epoch-ratio profiles (smoke, the UNets) scale every schedule by the epochs factor', () => {
  for (const name of experimentNames()) {
    const e = getExperiment(name);
    const paper = profileConfig(name, 'paper', 0);
    for (const p of ['quick', 'smoke'] as const) {
      if ((e[p].rule ?? 'epochs') !== 'epochs') continue; // the dynamics rule is tested in protocol.test.ts
      const c = profileConfig(name, p, 0);
      for (const k of ['gamma', 'lr'] as const) {
        const ps = paper[k];
        const s = c[k];
        if (!ps) continue;
        const paperEvery = ps.everySteps != null ? ps.everySteps / e.paperStepsPerEpoch : ps.everyEpochs;
        if (paperEvery === null) assert.equal(s!.everyEpochs, null);
        else assert.ok(Math.abs(s!.everyEpochs! / c.epochs - paperEvery / paper.epochs) < 1e-12, `${name}/${p}/${k}`);
        assert.equal(s!.initial, ps.initial);
      }
    }
  }
  const q = profileConfig('cifar10-bop', 'smoke', 0);
  assert.equal(q.gamma!.everyEpochs, q.epochs / 5);
});

test('overrides: typed, range-checked, one-line errors', () => {
  const c = profileConfig('cifar10-bop', 'quick', 0);
  const o = applyOverrides(c, ['epochs=20', 'gamma=3e-4', 'threshold=0', 'trainPerClass=null', 'augment=false']);
  assert.deepEqual([o.epochs, o.gamma!.initial, o.threshold, o.trainPerClass, o.augment], [20, 3e-4, 0, null, false]);
  assert.throws(() => applyOverrides(c, ['epoch=20']), /unknown key 'epoch'. Allowed: width, dropout, epochs/);
  assert.throws(() => applyOverrides(c, ['epochs=abc']), /--set epochs=abc: not a number/);
  assert.throws(() => applyOverrides(c, ['epochs=2.5']), /must be an integer/);
  assert.throws(
    () => validateConfig(applyOverrides(c, ['gamma=-1'])),
    /gamma.initial=-1 is invalid; allowed: a number ≥ 0/,
  );
  assert.throws(
    () => validateConfig(applyOverrides(c, ['batchSize=0'])),
    /batchSize=0 is invalid; allowed: an integer ≥ 1/,
  );
  assert.throws(() => validateConfig(applyOverrides(c, ['threshold=-1e-8'])), /threshold=-1e-8 is invalid/);
  assert.throws(
    () => applyOverrides(profileConfig('cifar10-adam-baseline', 'quick', 0), ['gamma=1e-3']),
    /has no gamma \(its optimizer is adam\)/,
  );
  assert.throws(
    () => resolveConfig('cifar10-nope', 'quick'),
    /Unknown experiment 'cifar10-nope'. Known: cifar10-adam-baseline/,
  );
  assert.throws(() => resolveConfig('cifar10-bop', 'fast'), /Unknown profile 'fast'. Allowed: paper, quick, smoke/);
  // overridden configs get their own folder; hashes differ
  assert.notEqual(runDir(o, ['epochs=20']), runDir(c, []));
  assert.notEqual(configHash(o), configHash(c));
});

test('atomic writes and checkpoints: never a truncated file that loads', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-atomic-'));
  const f = path.join(dir, 'a.json');
  atomicWrite(f, '{"v":1}');
  atomicWrite(f, '{"v":2}');
  assert.equal(fs.readFileSync(f, 'utf8'), '{"v":2}');
  assert.deepEqual(fs.readdirSync(dir), ['a.json']);
  const ck = path.join(dir, 'checkpoint.bin');
  writeCheckpoint(
    ck,
    { configHash: 'abc', epoch: 3, meta: { x: [1, 2] } },
    {
      w: tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      v: tf.tensor1d([5]),
    },
  );
  const { header, tensors } = readCheckpoint(ck);
  assert.equal(header.epoch, 3);
  assert.deepEqual(Array.from(tensors.w.dataSync()), [1, 2, 3, 4]);
  assert.deepEqual(tensors.w.shape, [2, 2]);
  const buf = fs.readFileSync(ck);
  fs.writeFileSync(ck, buf.subarray(0, buf.length - 3));
  assert.throws(() => readCheckpoint(ck), /is corrupt \(expected \d+ bytes, found \d+\)/);
  fs.writeFileSync(ck, Buffer.from('garbage'));
  assert.throws(() => readCheckpoint(ck), /is corrupt \(bad magic\)/);
});

const cli = (args: string[], env: NodeJS.ProcessEnv) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/experiment.ts'), ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });

test('command-line errors: one line, non-zero exit, nothing written', () => {
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-res-'));
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-data-'));
  const env = { BNN_RESULTS_DIR: results, BNN_DATA_DIR: empty };
  const cases: [string[], RegExp][] = [
    [['cifar10-nope'], /Unknown experiment 'cifar10-nope'/],
    [['cifar10-bop', '--profile', 'fast'], /Unknown profile 'fast'/],
    [['cifar10-bop', '--set', 'epoch=3'], /unknown key 'epoch'/],
    [['cifar10-bop', '--set', 'gamma=-1'], /gamma.initial=-1 is invalid/],
    [['cifar10-bop', '--set', 'batchSize=0'], /batchSize=0 is invalid/],
    [['cifar10-bop', '--seed', '-3'], /--seed -3: must be an integer ≥ 0/],
    [['cifar10-bop', '--profile', 'smoke'], /npm run data -- cifar10/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args, env);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, re, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error:')).length,
      1,
    );
  }
  assert.deepEqual(fs.readdirSync(results), []);
});

test('a run killed with SIGKILL and resumed has the history of an uninterrupted run', async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-data-'));
  writeCifarFixture(path.join(data, 'cifar10', 'cifar-10-batches-bin'), 20, 10);
  const a = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-res-a-'));
  const b = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-res-b-'));
  const args = ['cifar10-bop-dropout', '--profile', 'smoke', '--set', 'epochs=4', '--set', 'trainPerClass=20'];
  const full = cli(args, { BNN_RESULTS_DIR: a, BNN_DATA_DIR: data, BNN_THREADS: '1' });
  assert.equal(full.status, 0, full.stderr);

  // Start the same run, kill it hard once the epoch-2 checkpoint exists (mid-epoch 3), then resume.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/experiment.ts'), ...args], {
    env: { ...process.env, BNN_RESULTS_DIR: b, BNN_DATA_DIR: data, BNN_THREADS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no epoch 2 within 90 s: ${out}`)), 90_000);
    child.stdout.on('data', () => {
      if (/epoch 2\/4/.test(out)) {
        clearTimeout(timer);
        setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 300);
      }
    });
    child.on('exit', () => resolve());
  });
  await new Promise((r) => child.on('exit', r).emit('noop'));
  const runB = fs.readdirSync(path.join(b, 'cifar10-bop-dropout'))[0];
  const dirB = path.join(b, 'cifar10-bop-dropout', runB, 'seed-0');
  assert.ok(fs.existsSync(path.join(dirB, 'checkpoint.bin')));
  assert.ok(!fs.existsSync(path.join(dirB, 'final')), 'killed before the end');
  const noResume = cli(args, { BNN_RESULTS_DIR: b, BNN_DATA_DIR: data, BNN_THREADS: '1' });
  assert.notEqual(noResume.status, 0);
  assert.match(noResume.stderr, /pass --resume to continue it or --force to start over/);
  const resumed = cli([...args, '--resume'], { BNN_RESULTS_DIR: b, BNN_DATA_DIR: data, BNN_THREADS: '1' });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming after epoch [23]/);
  const runA = fs.readdirSync(path.join(a, 'cifar10-bop-dropout'))[0];
  const ha = JSON.parse(fs.readFileSync(path.join(a, 'cifar10-bop-dropout', runA, 'seed-0', 'history.json'), 'utf8'));
  const hb = JSON.parse(fs.readFileSync(path.join(dirB, 'history.json'), 'utf8'));
  const strip = (h: { seconds: number }[]) => h.map(({ seconds, ...r }) => r);
  assert.equal(ha.length, 4);
  assert.deepEqual(strip(hb), strip(ha));
  // a third call reuses the finished results
  const again = cli(args, { BNN_RESULTS_DIR: b, BNN_DATA_DIR: data, BNN_THREADS: '1' });
  assert.equal(again.status, 0);
  assert.match(again.stdout, /reusing them/);
  // a checkpoint from another config is refused (config.json is derived from the checkpoint, so the checkpoint is changed)
  const ckf = path.join(dirB, 'checkpoint.bin');
  const { header, tensors } = readCheckpoint(ckf);
  writeCheckpoint(ckf, { configHash: 'different', epoch: header.epoch, meta: header.meta }, tensors);
  tf.dispose(Object.values(tensors));
  const other = cli([...args, '--resume'], { BNN_RESULTS_DIR: b, BNN_DATA_DIR: data, BNN_THREADS: '1' });
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /another config/);
});
