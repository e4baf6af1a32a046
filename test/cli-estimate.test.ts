// Run-time estimates from probes at each run's own shape (src/experiments/estimate.ts): the formula, the shapes,
// and `npm run experiment -- --list` / the sweep plan on real processes (smoke profile: its two shapes are cheap).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { estimateSeconds, macsPerImage, type Probe, probeShape, runSizes, shapeKey } from '../src/experiments/estimate';
import { experimentNames, getExperiment, profileConfig } from '../src/experiments/registry';

const ROOT = path.resolve(__dirname, '..');

function run(cli: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli', `${cli}.ts`), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('an estimate is epochs × (steps × s/step + validation images × s/image) + the final scores, at the run’s own shape', () => {
  const paper = profileConfig('cifar10-bop', 'paper', 0);
  assert.deepEqual(probeShape(paper), { model: 'binarynet', width: 1, batchSize: 50, imageSize: 32 });
  assert.deepEqual(probeShape(profileConfig('svhn-bop', 'paper', 0)), {
    model: 'binarynet',
    width: 1,
    batchSize: 256,
    imageSize: 32,
  });
  assert.deepEqual(probeShape(profileConfig('pets-unet-binary-bop', 'paper', 0)), {
    model: 'unet',
    width: 1,
    batchSize: 64,
    imageSize: 128,
  });
  assert.equal(shapeKey(probeShape(profileConfig('cifar10-bop', 'quick', 0))), 'binarynet w0.125 b50 32px');
  assert.deepEqual(runSizes(paper), { nTrain: 50_000, nVal: 10_000, nTest: 10_000 });
  assert.deepEqual(runSizes(profileConfig('svhn-bop', 'paper', 0)), { nTrain: 73_257, nVal: 30_000, nTest: 26_032 });
  const probe = { shape: probeShape(paper), secondsPerStep: 0.5, evalSecondsPerImage: 0.001 } as Probe;
  // 500 × (1,000 steps × 0.5 s + 10,000 × 1 ms) + (2 × 10,000 test + 1,000 × 50 settle) × 1 ms
  assert.equal(estimateSeconds(paper, probe), 500 * (1000 * 0.5 + 10) + 70);
  // every experiment of every profile has one, the UNets included
  for (const name of experimentNames())
    for (const p of ['paper', 'quick', 'smoke'])
      assert.ok(Number.isFinite(estimateSeconds(profileConfig(name, p, 0), probe)), `${name} ${p}`);
});

test('macsPerImage counts the convolutions and dense layers of a model', () => {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10 }),
    ],
  });
  assert.equal(macsPerImage(m), 8 * 8 * 3 * 3 * 3 * 4 + 4 * 4 * 4 * 10);
  m.dispose();
});

test(
  'npm run experiment -- --list and the sweep plan: every run timed from a probe of its own shape, cached per machine',
  { timeout: 180_000 },
  async () => {
    const results = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-est-'));
    const sweeps = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-est-sweeps-'));
    try {
      const env = { BNN_RESULTS_DIR: results, BNN_SWEEPS_DIR: sweeps };
      const list = await run('experiment', ['--list', '--profile', 'smoke'], env);
      assert.equal(list.code, 0, list.out);
      const rows = list.out.split('\n').filter((l) => / smoke /.test(l) && !l.startsWith('probing'));
      assert.equal(rows.length, experimentNames().length, list.out);
      for (const name of experimentNames()) {
        const row = rows.find((r) => r.startsWith(`${name} `));
        assert.ok(row, `${name} listed`);
        const e = getExperiment(name);
        const c = profileConfig(name, 'smoke', 0);
        if (e.sameAs) assert.match(row, new RegExp(`= ${e.sameAs}`));
        else assert.match(row, /\s\d+(\.\d)? (s|min|h|days)\s/, `${name} has an estimate: ${row}`);
        assert.ok(row.trimEnd().endsWith(shapeKey(probeShape(c))), `${name}: probed at its own shape: ${row}`);
      }
      // the probes are printed with where they came from, and cached under the results root
      assert.match(
        list.out,
        /estimates from probes on this machine \(.*cores; backend=.*\), cached in .*\.probes.*\.json/,
      );
      for (const shape of ['binarynet w0.0625 b25 32px', 'unet w0.0625 b8 32px']) {
        assert.match(list.out, new RegExp(`probing ${shape} `));
        assert.match(
          list.out,
          new RegExp(
            `  ${shape}: [0-9.]+ s/step \\([0-9.]+ img/s training\\), \\d+ img/s evaluation; \\d+ timed step\\(s\\) of [\\w.-]+, [0-9.]+ s probe, measured now`,
          ),
        );
      }
      const files = fs.readdirSync(path.join(results, '.probes'));
      assert.equal(files.length, 1);
      const cache = JSON.parse(fs.readFileSync(path.join(results, '.probes', files[0]), 'utf8'));
      assert.deepEqual(Object.keys(cache.probes).sort(), ['binarynet w0.0625 b25 32px', 'unet w0.0625 b8 32px']);
      for (const p of Object.values(cache.probes) as Probe[]) {
        assert.ok(
          p.secondsPerStep > 0 && p.evalSecondsPerImage > 0 && p.steps >= 1 && p.probeBatch === p.shape.batchSize,
          JSON.stringify(p),
        );
      }

      // the sweep's plan: each task's time from the same probes, read from the cache (nothing probed again)
      const sweep = await run(
        'sweep',
        [
          '--profile',
          'smoke',
          '--slurm',
          '--only',
          'cifar10-bop,pets-unet-binary-bop',
          '--max-running',
          '1',
          '--results',
          results,
          '--id',
          'est',
          '--dry-run',
        ],
        env,
      );
      assert.equal(sweep.code, 0, sweep.out);
      assert.doesNotMatch(sweep.out, /probing /);
      assert.match(sweep.out, /^task\s+experiment\s+seed\s+est\. time\s+command/m);
      assert.match(sweep.out, /^0\s+cifar10-bop\s+0\s+\d+(\.\d)? (s|min|h|days)\s+npm run/m);
      assert.match(sweep.out, /^1\s+pets-unet-binary-bop\s+0\s+\d+(\.\d)? (s|min|h|days)\s+npm run/m);
      assert.match(
        sweep.out,
        /estimated task time on this machine: .* in all, the longest task .*; at most 1 at a time/,
      );
      assert.match(sweep.out, /binarynet w0.0625 b25 32px: .*, cached \d{4}-\d\d-\d\d/);
    } finally {
      fs.rmSync(results, { recursive: true, force: true });
      fs.rmSync(sweeps, { recursive: true, force: true });
    }
  },
);
