// Which published number a run is compared with (src/experiments/published.ts): the order and metric of the
// catalog's numbers, and that figures/summary.md (`npm run figures -- summary`) and the summary notebook's table
// (`showSummaryTable`) are the same table on the same stored runs (the figure fixtures: hand-made histories).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { exportFigures } from '../src/cli/figures';
import type { ExperimentConfig } from '../src/experiments/config';
import { showSummaryTable, type SectionRun } from '../src/experiments/notebook';
import {
  headlineRows,
  measuredMetric,
  publishedComparisons,
  publishedRows,
  publishedValue,
} from '../src/experiments/published';
import { getExperiment } from '../src/experiments/registry';
import { loadRun } from '../src/figures/load';
import { toMarkdown } from '../src/figures/tables';

const FIXTURES = path.join(__dirname, 'fixtures', 'figures', 'stored-results');

test('publishedComparisons: every catalog number, validation before train, the paper before the report before a reproduction', () => {
  const of = (name: string) =>
    publishedComparisons(name).map((c) => [
      c.reference?.tag ?? null,
      c.reference?.metric ?? null,
      c.reference?.value ?? null,
      c.measured,
    ]);
  assert.deepEqual(of('cifar10-bop'), [
    ['paper', 'valAccuracy', 0.913, 'testAccuracy'],
    ['report', 'valAccuracy', 0.916, 'testAccuracy'],
    ['reproduction', 'valAccuracy', 0.892, 'testAccuracy'],
  ]);
  // the catalog lists the train number first; the headline is the validation number, set against the final score
  assert.deepEqual(of('cifar10-bop-dropout'), [
    ['report', 'valAccuracy', 0.88, 'testAccuracy'],
    ['report', 'accuracy', 0.92, 'accuracy'],
  ]);
  assert.deepEqual(of('cifar10-bop-lr-decay'), [[null, null, null, 'testAccuracy']]);
  assert.deepEqual(of('not-a-catalog-folder'), [[null, null, null, 'testAccuracy']]);
  for (const name of ['cifar10-adam-baseline', 'cifar10-bop', 'cifar10-bop-constant-lr', 'svhn-bop'])
    assert.equal(publishedComparisons(name).length, getExperiment(name).references.length, `${name}: every number`);
  assert.equal(publishedValue('cifar10-bop', 'report'), 0.916);
  assert.equal(publishedValue('cifar10-bop-constant-lr', 'report', 'accuracy'), 0.96);
  assert.throws(
    () => publishedValue('cifar10-bop-lr-decay', 'paper'),
    /cifar10-bop-lr-decay: the catalog has no paper number \(valAccuracy\)/,
  );
  assert.equal(measuredMetric('valAccuracy'), 'testAccuracy');
  assert.equal(measuredMetric('accuracy'), 'accuracy');
});

test('publishedRows / headlineRows: the measured metric per seed beside each number; one headline row per run', () => {
  const h = (acc: number, val: number, test: number) => [
    {
      epoch: 1,
      step: 1,
      loss: 1,
      accuracy: 0.1,
      valLoss: 1,
      valAccuracy: 0.1,
      gamma: null,
      threshold: null,
      lr: 0.01,
      flipRatio: {},
      seconds: 1,
    },
    {
      epoch: 2,
      step: 2,
      loss: 1,
      accuracy: acc,
      valLoss: 1,
      valAccuracy: val,
      gamma: null,
      threshold: null,
      lr: 0.01,
      flipRatio: {},
      seconds: 1,
      extra: { testAccuracy: test },
    },
  ];
  const runs = [
    { experiment: 'cifar10-bop-dropout', series: { label: 'x', histories: [h(0.7, 0.5, 0.6), h(0.8, 0.55, 0.65)] } },
  ];
  const rows = publishedRows(runs);
  assert.deepEqual(
    rows.map((r) => [r.label, r.optimizer, r.values, r.reported]),
    [
      ['§4.2 cifar10-bop-dropout', 'bop', [0.6, 0.65], 0.88],
      ['§4.2 cifar10-bop-dropout', 'bop', [0.7, 0.8], 0.92],
    ],
  );
  assert.deepEqual(headlineRows(runs), [rows[0]]);
  assert.deepEqual(
    publishedRows(runs, (_, r) => r.series.label).map((r) => r.label),
    ['x', 'x'],
  );
});

/** A stored run as the summary notebook holds it after `runSection` (reused finished results). */
function sectionRun(experiment: string, root: string): SectionRun {
  const data = loadRun(experiment, 'quick', root)!;
  const e = getExperiment(experiment);
  const results = data.seeds.map((s) => ({
    config: s.config as unknown as ExperimentConfig,
    dir: s.dir,
    history: s.history,
    reused: true,
    wallSeconds: 0,
    backend: 'backend=cpu',
  }));
  return {
    experiment,
    title: e.title,
    results,
    series: {
      label: e.title,
      optimizer: e.paper.optimizer,
      histories: data.seeds.map((s) => s.history),
      seeds: data.seeds.map((s) => s.seed),
    },
  };
}

test("figures/summary.md's table is the summary notebook's table, row for row, on the same stored runs", async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'published-'));
  try {
    // catalog experiments with several numbers (cifar10-bop), a train number (the dropout arm), none (the UNet)
    const names = ['cifar10-bop-dropout', 'pets-unet-binary-bop', 'cifar10-adam-baseline', 'cifar10-bop'];
    for (const n of names) fs.cpSync(path.join(FIXTURES, n), path.join(tmp, 'results', n), { recursive: true });
    const out = path.join(tmp, 'figures');
    const r = await exportFigures(
      {
        names: ['summary'],
        formats: [],
        profile: 'quick',
        outDir: out,
        results: path.join(tmp, 'results'),
        list: false,
      },
      () => {},
    );
    assert.equal(r.failed, 0);
    const md = fs.readFileSync(path.join(out, 'summary.md'), 'utf8');
    const fromFigures = md.slice(0, md.indexOf('\n\n') + 1);
    // the notebook's runs come in the order summaryExperiments gives (catalog order); the table is the same either way
    const notebookRuns = ['cifar10-adam-baseline', 'cifar10-bop', 'cifar10-bop-dropout', 'pets-unet-binary-bop'].map(
      (n) => sectionRun(n, path.join(tmp, 'results')),
    );
    const fromNotebook = toMarkdown(showSummaryTable(notebookRuns, 'quick'));
    assert.equal(fromFigures, fromNotebook);
    assert.match(
      fromFigures,
      /\| §3\.1 cifar10-bop \| bop \| 2 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 91\.30 \| -?[\d.]+ \| Helwegen/,
    );
    assert.equal(fromFigures.trim().split('\n').length, 2 + 1 + 3 + 2 + 1, 'a row per run and published number');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
