// The PyTorch cross-check (reference/): the arguments it gives torch_bop.py carry every field of the resolved
// config, missing torch is explained with the install command, the agreement rule, and (where Debian's
// python3-torch and CIFAR-10 are present) the PyTorch pieces' own checks and a smoke cross-check end to end
// against a real TypeScript run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { agreement, DEFAULT_PYTHON, torchArgs, torchStatus, tsSeeds } from '../reference/crosscheck';
import { resolveCifar10 } from '../src/data';
import type { ExperimentConfig } from '../src/experiments/config';
import { resolveConfig, runExperiment, toSchedule } from '../src/experiments/run';
import { welchInterval } from '../src/experiments/verdict';

const ROOT = path.resolve(__dirname, '..');
const hasCifar = (() => {
  try {
    return resolveCifar10().kind === 'bin';
  } catch {
    return false;
  }
})();
const torchOk = torchStatus(DEFAULT_PYTHON).ok;
const NO_TORCH = 'python3-torch not installed (apt-get install -y python3-torch)';

/** torch_bop.py arguments as option → value ('' for a flag). */
function parsed(args: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    assert.ok(args[i].startsWith('--'), `argument ${args[i]} is no option`);
    assert.ok(!m.has(args[i]), `${args[i]} given twice`);
    if (i + 1 < args.length && !args[i + 1].startsWith('--')) m.set(args[i], args[++i]);
    else m.set(args[i], '');
  }
  return m;
}

/** Steps between decays the TypeScript runner uses (0: constant). */
function tsDecaySteps(c: ExperimentConfig, s: NonNullable<ExperimentConfig['gamma']>): number {
  const sch = toSchedule(s, c.derivation!.stepsPerEpoch);
  return sch.kind === 'staircase' ? sch.decaySteps : 0;
}

test('torchArgs: every field the PyTorch side trains with comes from the resolved config (calibration included)', () => {
  for (const profile of ['smoke', 'quick']) {
    for (const name of [
      'cifar10-adam-baseline',
      'cifar10-report-baseline',
      'cifar10-bop',
      'cifar10-bop-dropout',
      'cifar10-bop-constant-gamma',
    ]) {
      const c = resolveConfig(name, profile, 1);
      const a = parsed(torchArgs(c, 'DATA', 3));
      const num = (k: string) => Number(a.get(k));
      const what = `${name} (${profile})`;
      assert.equal(a.get('--data'), 'DATA');
      assert.equal(num('--threads'), 3);
      assert.equal(a.get('--opt'), c.optimizer, what);
      assert.equal(a.get('--kernels'), c.kernels === 'real-hidden' ? 'real-hidden' : 'binary', what);
      assert.equal(num('--width'), c.width, what);
      assert.equal(num('--train-per-class'), c.trainPerClass, what);
      assert.equal(num('--test-per-class'), c.testPerClass ?? 0, what);
      assert.equal(num('--holdout-per-class'), c.holdoutPerClass ?? 0, what);
      assert.equal(num('--epochs'), c.epochs, what);
      assert.equal(num('--batch'), c.batchSize, what);
      assert.equal(num('--seed'), 1, what);
      assert.equal(num('--lr'), c.lr.initial, what);
      assert.equal(num('--lr-decay'), c.lr.decay, what);
      assert.equal(num('--lr-decay-steps'), tsDecaySteps(c, c.lr), what);
      assert.equal(num('--bn-momentum'), c.bnMomentum ?? 0.99, what);
      assert.equal(num('--dropout'), c.dropout, what);
      assert.equal(a.get('--dropout-placement'), c.dropoutPlacement ?? 'afterBn', what);
      assert.equal(a.has('--xavier'), c.xavierLrScaling, what);
      assert.equal(a.has('--no-augment'), !c.augment, what);
      if (c.optimizer === 'bop') {
        assert.equal(num('--gamma'), c.gamma!.initial, what);
        assert.equal(num('--gamma-decay'), c.gamma!.decay, what);
        assert.equal(num('--gamma-decay-steps'), tsDecaySteps(c, c.gamma!), what);
        assert.equal(num('--tau'), c.threshold, what);
      } else {
        for (const k of ['--gamma', '--gamma-decay', '--gamma-decay-steps', '--tau'])
          assert.ok(!a.has(k), `${what}: ${k} for an Adam run`);
      }
    }
  }
  // the arms' distinguishing fields, spelled out
  const rep = parsed(torchArgs(resolveConfig('cifar10-report-baseline', 'quick', 0), 'D'));
  assert.deepEqual(
    [rep.get('--kernels'), rep.get('--bn-momentum'), rep.has('--xavier')],
    ['real-hidden', '0.999', false],
  );
  const base = parsed(torchArgs(resolveConfig('cifar10-adam-baseline', 'quick', 0), 'D'));
  assert.deepEqual([base.get('--kernels'), base.get('--bn-momentum'), base.has('--xavier')], ['binary', '0.99', true]);
  const drop = parsed(torchArgs(resolveConfig('cifar10-bop-dropout', 'quick', 0), 'D'));
  assert.ok(Number(drop.get('--dropout')) > 0);
  // a change of any such field reaches the arguments
  const c = resolveConfig('cifar10-bop', 'smoke', 0);
  const changed = parsed(
    torchArgs(
      {
        ...c,
        augment: false,
        dropoutPlacement: 'afterLayer',
        bnMomentum: 0.9,
        lr: { initial: 0.02, decay: 0.5, everyEpochs: null, everySteps: 3 },
      },
      'D',
    ),
  );
  assert.deepEqual(
    [
      changed.has('--no-augment'),
      changed.get('--dropout-placement'),
      changed.get('--bn-momentum'),
      changed.get('--lr'),
      changed.get('--lr-decay'),
      changed.get('--lr-decay-steps'),
    ],
    [true, 'afterLayer', '0.9', '0.02', '0.5', '3'],
  );
});

test('torchArgs refuses what the reference does not implement, naming the experiment', () => {
  assert.throws(() => torchArgs(resolveConfig('svhn-bop', 'smoke', 0), 'D'), /svhn-bop: dataset 'svhn'.*CIFAR-10 only/);
  assert.throws(
    () => torchArgs(resolveConfig('pets-unet-binary-bop', 'smoke', 0), 'D'),
    /pets-unet-binary-bop: dataset 'pets'/,
  );
});

test('agreement: the 95 % Welch interval of TypeScript − PyTorch decides; NaN seeds are dropped; one seed a side gives none', () => {
  const same = agreement([0.5, 0.52, 0.51], [0.515, 0.505, 0.51]);
  assert.equal(same.agree, true);
  assert.deepEqual(same.interval, welchInterval([0.515, 0.505, 0.51], [0.5, 0.52, 0.51]));
  assert.ok(Math.abs(same.torch.mean - 0.51) < 1e-12 && same.ts.n === 3);
  const apart = agreement([0.5, 0.51, 0.505], [0.6, 0.61, 0.605]);
  assert.equal(apart.agree, false);
  assert.ok(apart.interval![0] > 0);
  const few = agreement([0.5, 0.6], [0.55, NaN]);
  assert.equal(few.ts.n, 1);
  assert.equal(few.interval, null);
  assert.equal(few.agree, null);
});

test('without PyTorch: torchStatus and crosscheck say so and give the install command', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-ref-'));
  try {
    const fake = path.join(dir, 'python3');
    fs.writeFileSync(fake, '#!/bin/sh\necho "ModuleNotFoundError: No module named \'torch\'" >&2\nexit 1\n', {
      mode: 0o755,
    });
    const s = torchStatus(fake);
    assert.equal(s.ok, false);
    assert.match(
      (s as { message: string }).message,
      /PyTorch is not available to .*python3 \(ModuleNotFoundError: No module named 'torch'\).*apt-get install -y python3-torch/,
    );
    const gone = torchStatus(path.join(dir, 'no-such-python'));
    assert.match(
      (gone as { message: string }).message,
      /could not be started \(ENOENT\).*apt-get install -y python3-torch/,
    );
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'reference/crosscheck.ts', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, BNN_RESULTS_DIR: path.join(dir, 'results') },
      });
    const p = cli('--profile', 'smoke', '--experiments', 'cifar10-bop', '--python', fake);
    assert.equal(p.status, 1, p.stderr);
    assert.match(p.stderr, /^error: PyTorch is not available .*apt-get install -y python3-torch/m);
    assert.ok(!fs.existsSync(path.join(dir, 'results')), 'nothing written');
    const bad = cli('--profile', 'smoke', '--experiments', 'cifar10-bop,no-such-arm', '--python', fake);
    assert.match(bad.stderr, /Unknown experiment 'no-such-arm'/);
    assert.match(cli('--only', 'cifar10-bop').stderr, /unknown option --only/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'torch_bop.py pieces: settling, layer order, kernel kinds, Keras BN and Adam, Bop (reference/check_torch_bop.py)',
  { skip: !torchOk && NO_TORCH },
  () => {
    const p = spawnSync(DEFAULT_PYTHON, ['reference/check_torch_bop.py'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    assert.deepEqual(p.stdout.trim().split('\n'), [
      'ok settle',
      'ok layer order',
      'ok kernels',
      'ok adam',
      'ok bop',
      'ok batchnorm',
    ]);
  },
);

test(
  'smoke cross-check end to end: a TypeScript run and its PyTorch twin, settled and raw, stale and damaged runs named, PyTorch runs reused',
  { skip: (!torchOk && NO_TORCH) || (!hasCifar && 'CIFAR-10 not fetched (npm run data -- cifar10)') },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-ref-'));
    const results = path.join(dir, 'results');
    try {
      const name = 'cifar10-report-baseline';
      const run = await runExperiment({ experiment: name, profile: 'smoke', seed: 0, resultsRoot: results, log: null });
      const last = run.history[run.history.length - 1].extra!;
      const ts = tsSeeds(name, 'smoke', [0, 1], results);
      assert.deepEqual(ts, [
        { seed: 0, status: 'ok', settled: last.testAccuracy, raw: last.testAccuracyRaw },
        { seed: 1, status: 'missing', settled: NaN, raw: NaN },
      ]);

      const cli = () =>
        spawnSync(
          process.execPath,
          ['--import', 'tsx', 'reference/crosscheck.ts', '--profile', 'smoke', '--experiments', name, '--seeds', '0'],
          { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BNN_RESULTS_DIR: results } },
        );
      const p = cli();
      assert.equal(p.status, 0, p.stderr);
      const out = JSON.parse(fs.readFileSync(path.join(results, 'crosscheck', 'smoke.json'), 'utf8'));
      const arm = out.arms[0];
      assert.equal(arm.experiment, name);
      assert.equal(arm.config.kernels, 'real-hidden');
      const torchRun = JSON.parse(
        fs.readFileSync(path.join(results, 'crosscheck', 'smoke', 'torch', name, 'seed-0.json'), 'utf8'),
      );
      assert.equal(torchRun.final.settle_batches, Math.floor((10 * 10) / 25));
      assert.equal(torchRun.final.test_n, 10000);
      assert.equal(torchRun.final.args.kernels, 'real-hidden');
      assert.equal(torchRun.final.args.bn_momentum, 0.999);
      assert.equal(torchRun.epochs.length, 2);
      assert.deepEqual(
        arm.torch.map((x: { settled: number; raw: number }) => [x.settled, x.raw]),
        [[torchRun.final.test_acc, torchRun.final.test_acc_raw]],
      );
      for (const v of [torchRun.final.test_acc, torchRun.final.test_acc_raw]) assert.ok(v >= 0 && v <= 1);
      assert.deepEqual([arm.settled.ts.mean, arm.raw.ts.mean], [last.testAccuracy, last.testAccuracyRaw]);
      const md = fs.readFileSync(path.join(results, 'crosscheck', 'smoke.md'), 'utf8');
      assert.match(
        md,
        new RegExp(
          `\\| ${name} \\| settled \\| ${(torchRun.final.test_acc * 100).toFixed(2)} ± – \\(n=1\\) \\| ${(last.testAccuracy * 100).toFixed(2)} ± – \\(n=1\\) \\| – \\| needs ≥ 2 seeds a side \\|`,
        ),
      );

      // a stored run trained with another config than the current one (e.g. before a calibration changed) is named, not counted
      const otherNow = (n: string, p: string, seed: number) => ({ ...resolveConfig(n, p, seed), bnMomentum: 0.99 });
      assert.deepEqual(tsSeeds(name, 'smoke', [0], results, otherNow)[0], {
        seed: 0,
        status: 'stale',
        settled: NaN,
        raw: NaN,
        note: 'stored config differs from the current one (bnMomentum)',
      });
      // a run whose files no longer agree with its checkpoint is not final, and says why
      const cfgFile = path.join(run.dir, 'config.json');
      const meta = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
      fs.writeFileSync(cfgFile, JSON.stringify({ ...meta, config: { ...meta.config, bnMomentum: 0.99 } }));
      const damaged = tsSeeds(name, 'smoke', [0], results)[0];
      assert.equal(damaged.status, 'not final');
      assert.match(damaged.note!, /^damaged: .*config\.json/);
      // the PyTorch run is reused; the table names the TypeScript seed's state
      const again = cli();
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, /PyTorch run reused/);
      assert.match(fs.readFileSync(path.join(results, 'crosscheck', 'smoke.md'), 'utf8'), /– \(not final: damaged: /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
