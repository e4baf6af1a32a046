// The helpers the notebooks call (src/experiments/notebook.ts), on synthetic runs: no training, no kernel. What the
// cells used to compute themselves (the section's numbers, which data is missing, which runs the summary takes,
// the profile check) is computed here against hand-worked values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SVHN_FILES } from '../src/data';
import type { ExperimentConfig } from '../src/experiments/config';
import {
  dataStatusMarkdown,
  finalExtraMean,
  finalFlipRatio,
  finalLr,
  finalMean,
  gridSeries,
  missingData,
  notebookConfig,
  notebookProfile,
  publishedGapText,
  runConfigLines,
  runOf,
  sectionFindings,
  summaryExperiments,
  summaryTableRows,
  type SectionRun,
} from '../src/experiments/notebook';
import type { GridResult } from '../src/experiments/calibrate';
import { summaryTable } from '../src/figures/tables';
import type { EpochRecord } from '../src/train/history';

/** One epoch record with the given final values (the rest neutral). */
function rec(v: Partial<EpochRecord>): EpochRecord {
  return { epoch: 1, step: 10, loss: 1, accuracy: 0.5, valLoss: 1, valAccuracy: 0.5, gamma: null, threshold: null, lr: 0.01, flipRatio: {}, seconds: 1, ...v };
}

/** A section run of `experiment` whose seeds end with the given records (each seed's history: one neutral epoch, then its last). */
function run(experiment: string, lasts: Partial<EpochRecord>[]): SectionRun {
  const results = lasts.map((last, seed) => ({
    config: { experiment, seed, profile: 'smoke' } as unknown as ExperimentConfig,
    dir: `/nowhere/${experiment}/smoke/seed-${seed}`,
    history: [rec({}), rec({ epoch: 2, ...last })],
    reused: true,
    wallSeconds: 0,
    backend: 'backend=cpu',
  }));
  return { experiment, title: experiment, results, series: { label: experiment, optimizer: 'bop', histories: results.map((r) => r.history), seeds: results.map((_, i) => i) } };
}

const pp = (line: string) => Number(/([+-]\d+\.\d\d) pp/.exec(line)![1]);

test('notebookProfile / notebookConfig: BNN_PROFILE (default quick), checked; the section\'s experiments; one printed line', () => {
  assert.equal(notebookProfile(undefined, {}), 'quick');
  assert.equal(notebookProfile(undefined, { BNN_PROFILE: 'smoke' }), 'smoke');
  assert.throws(() => notebookProfile(undefined, { BNN_PROFILE: 'huge' }), /BNN_PROFILE must be paper, quick, smoke here \(got "huge"\)/);
  assert.throws(() => notebookProfile(['smoke', 'quick'], { BNN_PROFILE: 'paper' }), /must be smoke, quick here \(got "paper"\)/);
  const lines: string[] = [];
  const c = notebookConfig('§4.2', { seeds: [0, 1], overrides: ['epochs=3'], env: { BNN_PROFILE: 'smoke' }, log: (l) => lines.push(l) });
  assert.deepEqual(c, { PROFILE: 'smoke', EXPERIMENTS: ['cifar10-bop', 'cifar10-bop-dropout'] });
  assert.deepEqual(lines, ['profile smoke, seeds 0, 1, overrides epochs=3, section §4.2: cifar10-bop, cifar10-bop-dropout']);
  assert.deepEqual(notebookConfig(null, { env: {}, log: () => {} }), { PROFILE: 'quick', EXPERIMENTS: [] });
  assert.throws(() => notebookConfig('§9.9', { env: {}, log: () => {} }), /Unknown section '§9\.9'/);
  // The exact configs: one line per experiment and seed, with the overrides applied.
  const cfg = runConfigLines(['cifar10-bop'], 'smoke', [3], ['epochs=1']);
  assert.equal(cfg.length, 1);
  assert.match(cfg[0], /^cifar10-bop seed 3: \{/);
  assert.equal(JSON.parse(cfg[0].slice(cfg[0].indexOf('{'))).epochs, 1);
});

test('final values: means over seeds of the last epoch; flips over layers then seeds; extras; the last lr', () => {
  const r = run('cifar10-bop', [
    { valAccuracy: 0.4, accuracy: 0.6, flipRatio: { a: 0.1, b: 0.3 }, extra: { valMiou: 0.2 }, lr: 1e-3 },
    { valAccuracy: 0.6, accuracy: 0.8, flipRatio: { a: 0.0, b: 0.2 }, extra: { valMiou: 0.4 }, lr: 1e-2 },
  ]);
  assert.equal(finalMean(r), 0.5);
  assert.ok(Math.abs(finalMean(r, 'accuracy') - 0.7) < 1e-12);
  assert.ok(Math.abs(finalFlipRatio(r) - 0.15) < 1e-12); // (0.2 + 0.1) / 2
  assert.ok(Math.abs(finalExtraMean(r, 'valMiou') - 0.3) < 1e-12);
  assert.ok(Number.isNaN(finalExtraMean(r, 'absent')));
  assert.equal(finalLr(r), 1e-3); // first seed's
  assert.equal(runOf([r], 'cifar10-bop'), r);
  assert.throws(() => runOf([r], 'svhn-bop'), /svhn-bop is not among this notebook's runs \(cifar10-bop\)/);
});

test('sectionFindings: the numbers of each section, from the runs and the catalog\'s published numbers', () => {
  // §3.1: Bop 0.30 vs baseline 0.20 → +10.00 pp here, against the paper's 91.3 − 90.9 = +0.40 pp.
  const s31 = sectionFindings('§3.1', [run('cifar10-adam-baseline', [{ valAccuracy: 0.2 }]), run('cifar10-bop', [{ valAccuracy: 0.3 }])], 'smoke').split('\n');
  assert.equal(s31[0], 'Bop − Adam baseline, final validation accuracy (mean over seeds): +10.00 pp here (smoke) vs +0.40 pp in the paper.');
  assert.match(s31[1], /^Same sign as the paper: yes \(the smoke profile is far too small/);
  assert.match(sectionFindings('§3.1', [run('cifar10-adam-baseline', [{ valAccuracy: 0.3 }]), run('cifar10-bop', [{ valAccuracy: 0.2 }])], 'paper'), /Same sign as the paper: no$/);
  // §4.1: constant − decayed, and the constant arm against the paper's 91.30 %.
  const s41 = sectionFindings('§4.1', [run('cifar10-bop-constant-lr', [{ valAccuracy: 0.5, accuracy: 0.7, lr: 0.01 }]), run('cifar10-bop-lr-decay', [{ valAccuracy: 0.45, accuracy: 0.6, lr: 0.001 }])], 'quick').split('\n');
  assert.equal(s41[0], 'Adam lr at the end: 1.0e-2 (constant) vs 1.0e-3 (decayed)');
  assert.deepEqual([pp(s41[1]), pp(s41[1].split(';')[1])], [5, 10]);
  assert.equal(pp(s41[2]), -41.3);
  // §4.2: train − val per run; the gap shrinks with dropout when it is smaller there.
  const s42 = sectionFindings('§4.2', [run('cifar10-bop', [{ valAccuracy: 0.5, accuracy: 0.8 }]), run('cifar10-bop-dropout', [{ valAccuracy: 0.45, accuracy: 0.55 }])], 'quick').split('\n');
  assert.deepEqual(s42.slice(0, 3).map(pp), [30, 10, -5]);
  assert.equal(s42[3], 'gap shrinks with dropout: yes (quick profile)');
  // §4.3: flip ratios and π = ln(ratio + e⁻⁹); constant γ still flipping more.
  const s43 = sectionFindings('§4.3', [run('cifar10-bop', [{ flipRatio: { a: 1e-4 } }]), run('cifar10-bop-constant-gamma', [{ flipRatio: { a: 1e-2 }, valAccuracy: 0.1 }])], 'quick').split('\n');
  assert.match(s43[0], /^cifar10-bop: final-epoch flip ratio 1\.00e-4 \(π = -8\.41\)/); // ln(1e-4 + 1.234e-4)
  assert.match(s43[1], new RegExp(`π = ${Math.log(1e-2 + Math.exp(-9)).toFixed(2)}\\)`));
  assert.match(s43[2], /^flips die out only with decayed γ: yes, constant γ still flips more; constant − decayed γ, final val accuracy: -40\.00 pp/);
  // §4.4
  assert.equal(pp(sectionFindings('§4.4', [run('svhn-adam-baseline', [{ valAccuracy: 0.8 }]), run('svhn-bop', [{ valAccuracy: 0.85 }])], 'quick')), 5);
  // §4.5: pixel accuracy and mIoU, and the bits ratio when the sizes are given.
  const unets = [
    run('pets-unet-fp-adam', [{ valAccuracy: 0.8, extra: { valMiou: 0.6 } }]),
    run('pets-unet-binary-adam', [{ valAccuracy: 0.6, extra: { valMiou: 0.4 } }]),
    run('pets-unet-binary-bop', [{ valAccuracy: 0.7, extra: { valMiou: 0.5 } }]),
  ];
  const size = (experiment: string, bits: number) => ({ experiment, parameters: 0, binary: 0, bits, paperParameters: 0, paperBits: 0 });
  const s45 = sectionFindings('§4.5', unets, 'quick', { sizes: [size('pets-unet-fp-adam', 3200), size('pets-unet-binary-adam', 200), size('pets-unet-binary-bop', 200)] }).split('\n');
  assert.equal(s45[0], 'pets-unet-fp-adam: final test pixel accuracy 80.00 %, test mIoU 60.00 %, 3,200 bits');
  assert.equal(s45[3], 'binarized (Bop) vs full precision: -10.00 pp pixel accuracy at 16.0× fewer bits');
  assert.equal(s45[4], 'Bop vs latent-weight Adam (both binarized): +10.00 pp pixel accuracy, +10.00 pp mIoU (quick profile)');
  assert.doesNotMatch(sectionFindings('§4.5', unets, 'quick'), /bits/);
  // No runs (data missing): said, not failed; a section without findings: an error naming those with.
  assert.equal(sectionFindings('§4.4', [], 'quick'), 'skipped: no runs');
  assert.throws(() => sectionFindings('§5.1', [], 'quick'), /no findings for §5\.1; sections with findings: §3\.1, /);
  assert.throws(() => sectionFindings('§3.1', [run('cifar10-bop', [{}])], 'quick'), /cifar10-adam-baseline is not among this notebook's runs/);
});

test('missing data: SVHN\'s three files checked in the data folder, with how to fetch them; other datasets not checked', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-nbdata-'));
  try {
    const missing = missingData(['svhn-bop', 'svhn-adam-baseline', 'cifar10-bop'], root);
    assert.deepEqual(missing.map((m) => m.dataset), ['svhn']);
    assert.equal(missing[0].files.length, Object.keys(SVHN_FILES).length);
    assert.match(dataStatusMarkdown(['svhn-bop'], root), /SVHN is not available on this machine\*\*, so this section is skipped[\s\S]*npm run data -- svhn/);
    fs.mkdirSync(path.join(root, 'svhn'));
    for (const f of Object.values(SVHN_FILES)) fs.writeFileSync(path.join(root, 'svhn', f.file), '');
    assert.deepEqual(missingData(['svhn-bop'], root), []);
    assert.match(dataStatusMarkdown(['svhn-bop'], root), /^SVHN found in /);
    assert.equal(dataStatusMarkdown(['cifar10-bop'], root), '');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('summary: the catalog\'s experiments but named variants, sameAs summarized as the original; rows labelled by section; gaps to the published numbers', () => {
  const log: string[] = [];
  const picked = summaryExperiments(undefined, (l) => log.push(l));
  assert.ok(!picked.includes('pets-unet-fp-adam-lr0.1'), 'named variants are left out');
  assert.ok(!picked.includes('cifar10-bop-constant-lr') && picked.includes('cifar10-bop'));
  assert.ok(log.some((l) => l === 'cifar10-bop-constant-lr: same config as cifar10-bop in the original code; summarized as cifar10-bop'));
  assert.deepEqual(summaryExperiments(['cifar10-bop', 'cifar10-bop-lr-decay'], () => {}), ['cifar10-bop', 'cifar10-bop-lr-decay']);
  const rows = summaryTableRows([run('cifar10-bop', [{ valAccuracy: 0.5 }]), run('cifar10-bop-lr-decay', [{ valAccuracy: 0.4 }])]);
  assert.deepEqual(rows.map((r) => [r.label, r.reported]), [
    ['§3.1 cifar10-bop', 0.913],
    ['§3.1 cifar10-bop', 0.916],
    ['§3.1 cifar10-bop', 0.892],
    ['§4.1 cifar10-bop-lr-decay', null],
  ]);
  const text = publishedGapText(summaryTable(rows), 'quick').split('\n');
  assert.equal(text.length, 4);
  assert.match(text[0], /^§3\.1 cifar10-bop: 50(\.00)? % vs 91\.3(0)? % .*: -41\.3(0)? pp$/);
  assert.equal(text[3], 'largest gap: 41.60 pp on the quick profile');
  assert.equal(publishedGapText(summaryTable(rows.slice(3)), 'quick'), 'no run with a published number');
});

test('gridSeries picks the grid points by factor', () => {
  const point = (gammaFactor: number, tauFactor: number) => ({ gammaFactor, tauFactor, gamma: 1e-3 * gammaFactor, tau: 1e-6 * tauFactor, history: [rec({})] });
  const grid = { plan: { seed: 0 }, points: [point(1, 0), point(1, 1), point(3.16, 1)] } as unknown as GridResult;
  assert.deepEqual(gridSeries(grid, { tauFactor: 1 }).map((s) => s.label.split(',')[0]), ['γ ×1 (1.0e-3)', 'γ ×3.16 (3.2e-3)']);
  assert.deepEqual(gridSeries(grid, { gammaFactor: 1 }).map((s) => s.label.split(', ')[1]), ['τ ×0 (0.0e+0)', 'τ ×1 (1.0e-6)']);
  assert.equal(gridSeries(grid).length, 3);
});
