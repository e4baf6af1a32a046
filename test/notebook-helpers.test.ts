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
  catalogFigureOf,
  dataStatusMarkdown,
  finalExtraMean,
  finalFlipRatio,
  finalLr,
  finalMean,
  gridChoiceText,
  gridScoreFigure,
  gridSeries,
  gridVerdictMarkdown,
  flipPhaseText,
  hasFinishedRuns,
  notebookVerdicts,
  paperGammaT,
  regimeText,
  scaleMarkdown,
  sectionVerdictMarkdown,
  missingData,
  notebookConfig,
  notebookProfile,
  publishedGapText,
  runConfigLines,
  runOf,
  sectionFindings,
  summaryExperiments,
  type SectionRun,
} from '../src/experiments/notebook';
import { planFor, type GridResult, type GridResultPoint } from '../src/experiments/calibrate';
import { measuredMetric, publishedRows } from '../src/experiments/published';
import { REPORT_FIGURES, sectionFigure } from '../src/experiments/figures';
import { getExperiment, profileConfig, type CalibrationFactors } from '../src/experiments/registry';
import { sectionOf } from '../src/experiments/catalog';
import { runExperiment } from '../src/experiments/run';
import { summaryTable } from '../src/figures/tables';
import type { EpochRecord } from '../src/train/history';

/** One epoch record with the given final values (the rest neutral). */
function rec(v: Partial<EpochRecord>): EpochRecord {
  return {
    epoch: 1,
    step: 10,
    loss: 1,
    accuracy: 0.5,
    valLoss: 1,
    valAccuracy: 0.5,
    gamma: null,
    threshold: null,
    lr: 0.01,
    flipRatio: {},
    seconds: 1,
    ...v,
  };
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
  return {
    experiment,
    title: experiment,
    results,
    series: {
      label: experiment,
      optimizer: 'bop',
      histories: results.map((r) => r.history),
      seeds: results.map((_, i) => i),
    },
  };
}

const pp = (line: string) => Number(/([+-]\d+\.\d\d) pp/.exec(line)![1]);

test("notebookProfile / notebookConfig: BNN_PROFILE (default quick), checked; the section's experiments; one printed line", () => {
  assert.equal(notebookProfile(undefined, {}), 'quick');
  assert.equal(notebookProfile(undefined, { BNN_PROFILE: 'smoke' }), 'smoke');
  assert.throws(
    () => notebookProfile(undefined, { BNN_PROFILE: 'huge' }),
    /BNN_PROFILE must be paper, quick, smoke here \(got "huge"\)/,
  );
  assert.throws(
    () => notebookProfile(['smoke', 'quick'], { BNN_PROFILE: 'paper' }),
    /must be smoke, quick here \(got "paper"\)/,
  );
  const lines: string[] = [];
  // the named variant cifar10-bop-dropout-after-bn is left out without finished runs of this config (none with epochs=3)
  const c = notebookConfig('§4.2', {
    seeds: [0, 1],
    overrides: ['epochs=3'],
    env: { BNN_PROFILE: 'smoke' },
    log: (l) => lines.push(l),
  });
  assert.deepEqual(c, { PROFILE: 'smoke', EXPERIMENTS: ['cifar10-bop', 'cifar10-bop-dropout'] });
  assert.deepEqual(lines, [
    'profile smoke, seeds 0, 1, overrides epochs=3, section §4.2: cifar10-bop, cifar10-bop-dropout',
    'cifar10-bop-dropout-after-bn: a named variant without finished runs on smoke; left out (`npm run experiment -- cifar10-bop-dropout-after-bn --profile smoke` runs it, then it is shown here)',
  ]);
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

/** A last record whose final score (settled test accuracy) is `t`. */
const scored = (t: number, more: Partial<EpochRecord> = {}): Partial<EpochRecord> => ({
  ...more,
  extra: { ...(more.extra ?? {}), testAccuracy: t },
});

test("sectionFindings: the numbers of each section, from the runs' final scores and the catalog's published numbers", () => {
  // §3.1: the paper's comparison tuned (0.30 − 0.20) and untuned (0.28 − 0.25), and the report's (0.28 − 0.26),
  // against the paper's 91.3 − 90.9 = +0.40 pp and the report's 91.6 − 91.02 = +0.58 pp.
  const arms = (bop: number, base: number) => [
    run('cifar10-adam-baseline', [scored(base)]),
    run('cifar10-bop', [scored(bop)]),
    run('cifar10-adam-baseline-untuned', [scored(0.25)]),
    run('cifar10-bop-untuned', [scored(0.28)]),
    run('cifar10-report-baseline', [scored(0.26)]),
  ];
  const s31 = sectionFindings('§3.1', arms(0.3, 0.2), 'smoke').split('\n');
  assert.equal(s31[2], '  both tuned by the same calibration: +10.00 pp here (smoke) vs +0.40 pp in the paper');
  assert.equal(s31[3], '  both untuned (the settings the profile derives): +3.00 pp here');
  assert.equal(
    s31[4],
    "The report's comparison, Bop − its code's baseline (binary activations, real-valued hidden kernels), both untuned: +2.00 pp here vs +0.58 pp in the report",
  );
  assert.match(s31[5], /^Same sign as the paper \(tuned arms\): yes \(the smoke profile is far too small/);
  assert.match(sectionFindings('§3.1', arms(0.2, 0.3), 'paper'), /Same sign as the paper \(tuned arms\): no$/);
  // a run without a final score says so instead of printing NaN
  assert.match(
    sectionFindings('§3.1', [...arms(0.3, 0.2).slice(0, 4), run('cifar10-report-baseline', [{}])], 'smoke'),
    /both untuned: — \(no score\) here/,
  );
  // §4.1: the train − validation gap against the report's (96 − 91), constant − decayed, the constant arm against the paper's 91.30 %.
  const s41 = sectionFindings(
    '§4.1',
    [
      run('cifar10-bop-constant-lr', [scored(0.5, { valAccuracy: 0.5, accuracy: 0.7, lr: 0.01 })]),
      run('cifar10-bop-lr-decay', [scored(0.45, { valAccuracy: 0.45, accuracy: 0.6, lr: 0.001 })]),
    ],
    'quick',
  ).split('\n');
  assert.equal(s41[0], 'Adam lr at the end: 1.0e-2 (constant) vs 1.0e-3 (decayed)');
  assert.equal(s41[1], 'train − validation accuracy at the end, lr constant: +20.00 pp here vs +5.00 pp in the report');
  assert.deepEqual([pp(s41[2]), pp(s41[2].split(';')[1])], [5, 10]);
  assert.equal(pp(s41[3]), -41.3);
  // §4.2: train − val per run; each dropout arm against no dropout in the final score; the gap shrinks with dropout when it is smaller there.
  const s42 = sectionFindings(
    '§4.2',
    [
      run('cifar10-bop', [scored(0.52, { valAccuracy: 0.5, accuracy: 0.8 })]),
      run('cifar10-bop-dropout', [scored(0.4, { valAccuracy: 0.45, accuracy: 0.55 })]),
    ],
    'quick',
  ).split('\n');
  assert.deepEqual(s42.slice(0, 3).map(pp), [30, 10, -12]);
  assert.equal(s42[3], 'gap shrinks with dropout: yes (quick profile)');
  // §4.3: flip ratios and π = ln(ratio + e⁻⁹); constant γ still flipping more.
  const s43 = sectionFindings(
    '§4.3',
    [
      run('cifar10-bop-untuned', [scored(0.5, { flipRatio: { a: 1e-4 } })]),
      run('cifar10-bop-constant-gamma', [scored(0.1, { flipRatio: { a: 1e-2 } })]),
    ],
    'quick',
  ).split('\n');
  assert.match(s43[0], /^cifar10-bop-untuned: final-epoch flip ratio 1\.00e-4 \(π = -8\.41\)/); // ln(1e-4 + 1.234e-4)
  assert.match(s43[1], new RegExp(`π = ${Math.log(1e-2 + Math.exp(-9)).toFixed(2)}\\)`));
  assert.match(
    s43[2],
    /^flips die out only with decayed γ: yes, constant γ still flips more; constant − decayed γ, final test accuracy .*: -40\.00 pp/,
  );
  // §4.4: Bop against each baseline
  const s44 = sectionFindings(
    '§4.4',
    [
      run('svhn-report-baseline', [scored(0.7)]),
      run('svhn-adam-baseline', [scored(0.8)]),
      run('svhn-bop', [scored(0.85)]),
    ],
    'quick',
  ).split('\n');
  assert.deepEqual(s44.map(pp), [15, 5]);
  assert.match(s44[0], /^Bop − svhn-report-baseline on SVHN/);
  // §4.5: pixel accuracy and mIoU, and the bits ratio when the sizes are given.
  const unets = [
    run('pets-unet-fp-adam', [scored(0.8, { extra: { valMiou: 0.6 } })]),
    run('pets-unet-binary-adam', [scored(0.6, { extra: { valMiou: 0.4 } })]),
    run('pets-unet-binary-bop', [scored(0.7, { extra: { valMiou: 0.5 } })]),
  ];
  const size = (experiment: string, bits: number) => ({
    experiment,
    parameters: 0,
    binary: 0,
    bits,
    paperParameters: 0,
    paperBits: 0,
  });
  const s45 = sectionFindings('§4.5', unets, 'quick', {
    sizes: [size('pets-unet-fp-adam', 3200), size('pets-unet-binary-adam', 200), size('pets-unet-binary-bop', 200)],
  }).split('\n');
  assert.equal(
    s45[0],
    'pets-unet-fp-adam: final test pixel accuracy 80.00 % (settled), last-epoch test mIoU 60.00 %, 3,200 bits',
  );
  assert.equal(s45[3], 'binarized (Bop) vs full precision: -10.00 pp pixel accuracy at 16.0× fewer bits');
  assert.equal(
    s45[4],
    'Bop vs latent-weight Adam (both binarized): +10.00 pp pixel accuracy, +10.00 pp mIoU (quick profile)',
  );
  assert.doesNotMatch(sectionFindings('§4.5', unets, 'quick'), /bits/);
  // No runs (data missing): said, not failed; a section without findings: an error naming those with.
  assert.equal(sectionFindings('§4.4', [], 'quick'), 'skipped: no runs');
  assert.throws(() => sectionFindings('§5.1', [], 'quick'), /no findings for §5\.1; sections with findings: §3\.1, /);
  assert.throws(
    () => sectionFindings('§3.1', [run('cifar10-bop', [{}])], 'quick'),
    /cifar10-adam-baseline is not among this notebook's runs/,
  );
});

test("missing data: SVHN's three files checked in the data folder, with how to fetch them; other datasets not checked", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-nbdata-'));
  try {
    const missing = missingData(['svhn-bop', 'svhn-adam-baseline', 'cifar10-bop'], root);
    assert.deepEqual(
      missing.map((m) => m.dataset),
      ['svhn'],
    );
    assert.equal(missing[0].files.length, Object.keys(SVHN_FILES).length);
    assert.match(
      dataStatusMarkdown(['svhn-bop'], root),
      /SVHN is not available on this machine\*\*, so this section is skipped[\s\S]*npm run data -- svhn/,
    );
    fs.mkdirSync(path.join(root, 'svhn'));
    for (const f of Object.values(SVHN_FILES)) fs.writeFileSync(path.join(root, 'svhn', f.file), '');
    assert.deepEqual(missingData(['svhn-bop'], root), []);
    assert.match(dataStatusMarkdown(['svhn-bop'], root), /^SVHN found in /);
    assert.equal(dataStatusMarkdown(['cifar10-bop'], root), '');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("summary: the catalog's experiments but named variants, sameAs summarized as the original; rows labelled by section; gaps to the published numbers", () => {
  const log: string[] = [];
  const picked = summaryExperiments(undefined, (l) => log.push(l));
  assert.ok(!picked.includes('pets-unet-fp-adam-lr0.1'), 'named variants are left out');
  assert.ok(!picked.includes('cifar10-bop-constant-lr') && picked.includes('cifar10-bop'));
  assert.ok(
    log.some(
      (l) =>
        l === 'cifar10-bop-constant-lr: same config as cifar10-bop in the original code; summarized as cifar10-bop',
    ),
  );
  assert.deepEqual(
    summaryExperiments(['cifar10-bop', 'cifar10-bop-lr-decay'], () => {}),
    ['cifar10-bop', 'cifar10-bop-lr-decay'],
  );
  // the published validation numbers against the final score (the settled test accuracy), not the last epoch's validation
  const rows = publishedRows([
    run('cifar10-bop', [scored(0.5, { valAccuracy: 0.3 })]),
    run('cifar10-bop-lr-decay', [scored(0.4, { valAccuracy: 0.2 })]),
  ]);
  assert.deepEqual(
    rows.map((r) => [r.label, r.reported]),
    [
      ['§3.1 cifar10-bop', 0.913],
      ['§3.1 cifar10-bop', 0.916],
      ['§3.1 cifar10-bop', 0.892],
      ['§4.1 cifar10-bop-lr-decay', null],
    ],
  );
  const text = publishedGapText(summaryTable(rows), 'quick').split('\n');
  assert.equal(text.length, 4);
  assert.match(text[0], /^§3\.1 cifar10-bop: 50(\.00)? % vs 91\.3(0)? % .*: -41\.3(0)? pp$/);
  assert.equal(text[3], 'largest gap: 41.60 pp on the quick profile');
  assert.equal(publishedGapText(summaryTable(rows.slice(3)), 'quick'), 'no run with a published number');
  assert.deepEqual(
    rows.map((r) => r.values),
    [[0.5], [0.5], [0.5], [0.4]],
  );
  assert.equal(measuredMetric('valAccuracy'), 'testAccuracy');
  assert.equal(measuredMetric('accuracy'), 'accuracy');
});

/** A grid point of the calibration's format, scored `scores` per seed (the stored form: no run folder). */
function gridPoint(factors: CalibrationFactors, scores: number[], excluded?: string): GridResultPoint {
  const values: CalibrationFactors = Object.fromEntries(
    Object.entries(factors).map(([k, v]) => [k, (k === 'gamma' ? 1e-3 : k === 'tau' ? 1e-6 : 1e-3) * v!]),
  );
  const seeds = scores.map((score, seed) => ({
    seed,
    dir: '',
    complete: true,
    score,
    scoreRaw: score,
    history: [{ epoch: 1, loss: 1, accuracy: 0.5, valLoss: 1, valAccuracy: score, flipRatio: { mean: 1e-3 } }],
  }));
  return {
    factors,
    values,
    gammaFactor: factors.gamma ?? NaN,
    tauFactor: factors.tau ?? NaN,
    gamma: values.gamma ?? NaN,
    tau: values.tau ?? NaN,
    valAccuracy: [scores.reduce((a, b) => a + b, 0) / scores.length],
    flipRatio: [1e-3],
    seeds,
    complete: true,
    score: scores.reduce((a, b) => a + b, 0) / scores.length,
    ...(excluded ? { excluded } : {}),
  };
}

test("grids: series by factor, the score figure (seeds, mean, exclusions, the choice) and the §5.1 verdict note with the plan's seed count", () => {
  const bop = {
    plan: { ...planFor('cifar10-bop', 'quick'), seeds: [0, 1] },
    points: [
      gridPoint({ gamma: 1, tau: 0 }, [0.6, 0.62], 'τ = 0 tests the paper'),
      gridPoint({ gamma: 1, tau: 1 }, [0.5, 0.52]),
      gridPoint({ gamma: 3.16, tau: 1 }, [0.4, 0.44]),
    ],
    rule: 'r',
    chosen: { factors: { gamma: 1, tau: 1 }, score: 0.51 },
    withoutExclusions: { factors: { gamma: 1, tau: 0 }, score: 0.61 },
    createdAt: '',
  } as GridResult;
  assert.deepEqual(
    gridSeries(bop, { tau: 1 }).map((s) => s.label),
    ['γ ×1, τ ×1 (γ 1.0e-3, τ 1.0e-6)', 'γ ×3.16, τ ×1 (γ 3.2e-3, τ 1.0e-6)'],
  );
  assert.deepEqual(
    gridSeries(bop, { gamma: 1 }).map((s) => s.label),
    ['γ ×1, τ ×0 (γ 1.0e-3, τ 0.0e+0)', 'γ ×1, τ ×1 (γ 1.0e-3, τ 1.0e-6)'],
  );
  // the stored form: histories from the grid itself, the mean flip ratio under 'mean'
  assert.deepEqual(
    gridSeries(bop, { tau: 0 })[0].histories.map((h) => h.map((r) => [r.valAccuracy, r.flipRatio.mean])),
    [[[0.6, 1e-3]], [[0.62, 1e-3]]],
  );
  assert.equal(gridSeries(bop).length, 3);
  const fig = gridScoreFigure(bop, 'tau', { at: { gamma: 1 } });
  assert.deepEqual(
    fig.data.map((t) => t.name),
    ['seed 0', 'seed 1', 'mean (the score)', 'chosen'],
  );
  assert.deepEqual(fig.data[0].x, [0, 1]);
  assert.deepEqual(fig.data[1].y, [0.62, 0.52]);
  assert.deepEqual(fig.data[2].marker.color, ['#fff', '#000'], 'the excluded point drawn open');
  assert.deepEqual([fig.data[3].x, fig.data[3].y], [[1], [0.51]]);
  assert.equal(fig.layout.xaxis.type, undefined, 'τ has a zero: linear axis');
  assert.equal(gridScoreFigure(bop, 'gamma', { at: { tau: 1 } }).layout.xaxis.type, 'log');
  assert.equal(gridScoreFigure(bop, 'lr').data[0].x.length, 0, 'no point varies lr');
  assert.match(gridVerdictMarkdown(bop, 'quick'), /2 seeds per grid point \(0, 1\)/);
  const text = gridChoiceText(bop, 'quick');
  assert.match(text, /excluded: tau ×0 — τ = 0 tests the paper's/);
  assert.match(text, /chosen on this grid: γ ×1, τ ×1 \(51\.00 % held out\)/);
  assert.match(text, /without the exclusion the rule would choose γ ×1, τ ×0 \(61\.00 % held out\)/);
});

test("scaleMarkdown: the profile's sizes, seeds and γ·T per phase, from the registry, grouped by sizing", () => {
  const md = scaleMarkdown('§3.1', 'quick');
  const c = profileConfig('cifar10-bop', 'quick', 0);
  const d = c.derivation!;
  const seeds = getExperiment('cifar10-bop').seeds.quick;
  // one bullet per group of arms with the same sizing and seeds (from the catalog), each arm named in exactly one
  const arms = sectionOf('§3.1').experiments;
  const sizing = (a: string) => ({ ...getExperiment(a).quick, calibration: undefined }); // the factors are not a size
  const groups = new Set(arms.map((a) => JSON.stringify([sizing(a), getExperiment(a).seeds.quick])));
  const bullets = md.split('\n').filter((l) => l.startsWith('* ') && /BinaryNet at/.test(l));
  assert.equal(bullets.length, groups.size, md);
  for (const a of arms) assert.equal(bullets.filter((l) => l.includes(`\`${a}\``)).length, 1, `${a} in one bullet`);
  const mine = bullets.find((l) => l.includes('`cifar10-bop`'))!;
  assert.ok(
    mine.includes(
      `BinaryNet at 1/${1 / c.width} width on CIFAR-10, ${c.trainPerClass!.toLocaleString('en')} training images per class (${(c.trainPerClass! * 10).toLocaleString('en')}), ` +
        `${c.epochs} epochs of batch ${c.batchSize} = ${d.runSteps.toLocaleString('en')} steps; validated every epoch on ${c.testPerClass} test images per class`,
    ),
    mine,
  );
  assert.ok(mine.endsWith(`${seeds.length} seeds (${seeds.join(', ')}).`), mine);
  // γ·T of the Bop arms as their configs record them, beside the paper's run
  const paper = paperGammaT('cifar10-bop');
  const g = (xs: number[]) => xs.map((x) => Number(x.toPrecision(3))).join(', ');
  assert.ok(
    md.includes(
      `* \`cifar10-bop\`: γ·T ${g(d.gammaT)} (the paper's run: ${g(paper)}); covers ${d.paperStepsCovered.toLocaleString('en')} of the paper's ${d.paperStepsTotal.toLocaleString('en')} steps`,
    ),
    md,
  );
  assert.ok(
    md.includes(
      `* \`cifar10-bop-untuned\`: γ·T ${g(profileConfig('cifar10-bop-untuned', 'quick', 0).derivation!.gammaT)} (`,
    ),
    md,
  );
  assert.doesNotMatch(md, /`cifar10-adam-baseline`: γ·T/, 'no γ·T line for a run without γ');
  // a list of experiments; sameAs entries are described by their original; smoke says what it is for
  const sm = scaleMarkdown(['cifar10-bop-constant-lr', 'pets-unet-binary-bop'], 'smoke');
  assert.doesNotMatch(sm, /cifar10-bop-constant-lr/);
  assert.match(sm, /`pets-unet-binary-bop`: UNet at 1\/16 width on Oxford-IIIT Pet at 32×32, /);
  assert.match(sm, /`smoke` runs in seconds at chance level/);
  assert.equal(scaleMarkdown('§5.1', 'quick'), 'No runs of its own on the quick profile.');
});

test("regimeText: steps, coverage, γ·T per phase and τ from each run's recorded config", () => {
  const config = profileConfig('cifar10-bop-constant-gamma', 'quick', 0);
  const r = run('cifar10-bop-constant-gamma', [{}]);
  r.results[0].config = config;
  const d = config.derivation!;
  const line = regimeText([r]);
  assert.ok(
    line.startsWith(
      `cifar10-bop-constant-gamma: ${d.runSteps.toLocaleString('en')} steps (${d.stepsPerEpoch} per epoch) cover ${d.paperStepsCovered.toLocaleString('en')} of the paper's ${d.paperStepsTotal.toLocaleString('en')} steps (100 %)`,
    ),
    line,
  );
  // a sliver of the paper's run keeps two digits; the paper's γ·T from the catalog's own steps per epoch (UNet: the tfds split)
  const u = run('pets-unet-binary-bop', [{}]);
  u.results[0].config = profileConfig('pets-unet-binary-bop', 'smoke', 0);
  const ud = u.results[0].config.derivation!;
  assert.match(
    regimeText([u]),
    new RegExp(`\\(${((ud.paperStepsCovered / ud.paperStepsTotal) * 100).toPrecision(2)} %\\)`),
  );
  const e = getExperiment('pets-unet-binary-bop');
  assert.equal(
    paperGammaT('pets-unet-binary-bop')[0],
    e.paper.gamma!.initial * e.paper.gamma!.everyEpochs! * e.paperStepsPerEpoch,
  );
  assert.deepEqual(paperGammaT('cifar10-adam-baseline'), []);
  assert.match(
    line,
    new RegExp(
      `; γ·T per phase ${Number(d.gammaT[0].toPrecision(3))} \\(total ${Number(d.gammaT[0].toPrecision(3))}; the paper's run: 50\\)`,
    ),
  );
  assert.match(line, /; τ \d\.\d\de-\d+, τ\/σ_m [\d.]+× the paper's$/);
  const old = run('cifar10-bop', [{}]);
  assert.equal(regimeText([old]), 'cifar10-bop: no derivation recorded (a run of an older version)');
  assert.throws(() => regimeText([old], ['svhn-bop']), /svhn-bop is not among this notebook's runs/);
  assert.equal(regimeText([]), 'skipped: no runs');
});

test('flipPhaseText: per seed, flips per γ phase of whole epochs and whether they fall ≥ 2× after each decay', () => {
  const config = profileConfig('pets-unet-binary-bop', 'quick', 0);
  const spe = config.derivation!.stepsPerEpoch;
  const every = config.gamma!.everySteps!;
  const phaseOf = (ep: number) => Math.floor(((ep - 1) * spe) / every);
  const mk = (fall: number) => {
    const r = run('pets-unet-binary-bop', [{}, {}]);
    r.results.forEach((x, s) => {
      x.config = { ...config, seed: s };
      x.history = Array.from({ length: config.epochs }, (_, i) =>
        rec({
          epoch: i + 1,
          flipRatio: { a: 1e-2 * Math.pow(fall, phaseOf(i + 1)), b: 3e-2 * Math.pow(fall, phaseOf(i + 1)) },
        }),
      );
    });
    return r;
  };
  const falling = flipPhaseText([mk(0.1)], 'pets-unet-binary-bop').split('\n');
  assert.equal(falling.length, 3);
  assert.match(
    falling[0],
    /^pets-unet-binary-bop seed 0: γ 4\.6e-3 \(epochs 1–\d+\): 2\.00e-2 → γ 4\.6e-4 .*: 2\.00e-3 → .*; falls ≥ 2× after each decay$/,
  );
  assert.equal(falling[2], 'flips fall ≥ 2× after every γ decay in 2 of 2 seed(s)');
  const drifting = flipPhaseText([mk(0.8)], 'pets-unet-binary-bop').split('\n');
  assert.match(drifting[0], /does not fall ≥ 2× after every decay$/);
  assert.equal(drifting[2], 'flips fall ≥ 2× after every γ decay in 0 of 2 seed(s)');
  assert.match(flipPhaseText([run('cifar10-adam-baseline', [{}])], 'cifar10-adam-baseline'), /no γ schedule recorded/);
  assert.equal(flipPhaseText([], 'x'), 'skipped: no runs');
});

test('hasFinishedRuns: every seed finished with the config it would run with now', { timeout: 120_000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-nbfinished-'));
  try {
    assert.equal(hasFinishedRuns('cifar10-bop', 'smoke', [0], [], root), false);
    await runExperiment({
      experiment: 'cifar10-bop',
      profile: 'smoke',
      seed: 0,
      resultsRoot: root,
      log: null,
      set: ['epochs=1'],
    });
    assert.equal(hasFinishedRuns('cifar10-bop', 'smoke', [0], ['epochs=1'], root), true);
    assert.equal(hasFinishedRuns('cifar10-bop', 'smoke', [0, 1], ['epochs=1'], root), false, 'seed 1 missing');
    assert.equal(hasFinishedRuns('cifar10-bop', 'smoke', [0], [], root), false, 'another config');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("notebookVerdicts: this notebook's runs judged with the profile's family; the regime from the runs' configs", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-nbverdicts-'));
  try {
    const arms = (profile: string) =>
      (['cifar10-bop-untuned', 'cifar10-bop-constant-gamma'] as const).map((name, k) => {
        const r = run(
          name,
          [0, 1, 2].map((s) => scored(k === 0 ? 0.5 + 0.01 * s : 0.1 + 0.005 * s)),
        );
        r.results.forEach((x, s) => (x.config = profileConfig(name, profile, s)));
        return r;
      });
    const claims = sectionOf('§4.3').claims;
    // quick: the constant-γ arm covers the report's whole run at the derived γ (total γ·T 50, as the report), so both
    // "lower" and the collapse are judged
    const quick = notebookVerdicts(claims, arms('quick'), 'quick', root);
    assert.deepEqual(
      quick.map((v) => v.claim.id),
      claims.map((c) => c.id),
    );
    assert.notEqual(quick[0].verdict, 'not testable at this scale', `${quick[0].claim.id}: ${quick[0].detail}`);
    const collapse = quick.find((v) => v.claim.id === 'constant-gamma-collapses')!;
    const gt = profileConfig('cifar10-bop-constant-gamma', 'quick', 0).derivation!.gammaT.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(gt - 50) < 1e-6, `total γ·T ${gt}`);
    assert.notEqual(collapse.verdict, 'not testable at this scale', collapse.detail);
    assert.ok(Math.abs(quick[0].estimate - (0.105 - 0.51)) < 1e-9, 'constant − decayed, paired over the three seeds');
    // smoke: the same numbers, but the run covers a sliver of the report's: not testable
    for (const v of notebookVerdicts(claims, arms('smoke'), 'smoke', root))
      assert.equal(v.verdict, 'not testable at this scale', v.claim.id);
    const md = sectionVerdictMarkdown('§4.3', arms('quick'), 'quick');
    assert.match(
      md,
      /3 seed\(s\) per run\. The test accuracy is the whole test split, scored once after the last epoch with BN statistics settled/,
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("catalogFigureOf: a section's figure by name, over the notebook's runs, as the catalog declares it", () => {
  const runs = [run('cifar10-bop', [{}, {}]), run('cifar10-bop-dropout', [{}])];
  for (const r of runs) for (const x of r.results) (x.config as { profile: string }).profile = 'smoke';
  const { section, figure } = sectionFigure('fig4-5-dropout');
  assert.equal(section.id, '§4.2');
  const r = catalogFigureOf(runs, 'fig4-5-dropout');
  assert.ok('figure' in r);
  assert.equal(r.figure.layout.title.text ?? r.figure.layout.title, `${figure.title} (smoke)`);
  // legend labels are the catalog's `label`s, in the figure's order; the named variant without runs is left out (minRuns 1)
  const names = [...new Set(r.figure.data.filter((d) => d.showlegend !== false).map((d) => d.name))];
  assert.deepEqual(names, [getExperiment('cifar10-bop').label, getExperiment('cifar10-bop-dropout').label]);
  // flips of several runs: the last layer only; of one run: every layer
  const flips = catalogFigureOf([run('cifar10-bop', [{ flipRatio: { a: 0.1, b: 0.2 } }])], 'flip-ratio');
  assert.ok('figure' in flips && flips.figure.data.length === 2);
  assert.deepEqual(catalogFigureOf([], 'fig4-5-dropout'), { skipped: 'skipped (fig4-5-dropout): no runs' });
  // a figure that needs both arms, with one here
  const one = catalogFigureOf([runs[0]], 'fig1-baseline-vs-bop');
  assert.ok(
    'skipped' in one && /it draws cifar10-adam-baseline, cifar10-bop; this notebook ran cifar10-bop$/.test(one.skipped),
    JSON.stringify(one),
  );
  assert.throws(() => sectionFigure('fig99'), /unknown figure "fig99"; the sections' figures: fig1-baseline-vs-bop/);
  // every catalog figure is found, and no notebook figure takes a catalog figure's name
  for (const f of REPORT_FIGURES.filter((x) => x.name !== 'summary'))
    assert.equal(sectionFigure(f.name).figure.title, f.title);
});
