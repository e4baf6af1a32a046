/**
 * Figure builders, results reader, registry, tables and notebook display helpers, against the small
 * stored histories in test/fixtures/figures/stored-results (no browser needed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { History } from '../src/train/history';
import {
  OPTIMIZER_COLORS,
  PLOTLY_MIME,
  PLOTLY_REL_PATH,
  accuracyCurves,
  inferenceComparison,
  aggregateSeeds,
  assignColors,
  figureBundle,
  figureHtml,
  finalValues,
  flipMetric,
  flipRatioCurves,
  hyperparameterCurves,
  inKernel,
  isBandTrace,
  traceX,
  listExperiments,
  loadRun,
  matchExperiments,
  miouCurves,
  segmentationGrid,
  showFigure,
  summaryFigure,
  summaryRows,
  summaryTable,
  toCsv,
  toMarkdown,
  toHtml,
  toSeries,
  loadPredictions,
} from '../src/figures/index';
import { REPORT_FIGURES, buildReportFigure } from '../src/experiments/figures';
import { parseHistory } from '../src/results';
import { parseNotebookArgs } from '../src/cli/notebooks';
import { parseFiguresArgs } from '../src/cli/figures';
import { parseLabArgs } from '../src/cli/lab';

const ROOT = path.join(__dirname, 'fixtures', 'figures', 'stored-results');
const readHistory = (exp: string, seed: number): History =>
  JSON.parse(fs.readFileSync(path.join(ROOT, exp, 'quick', `seed-${seed}`, 'history.json'), 'utf8'));

/** Equal up to the 6 significant digits the builders keep. */
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1e-12, Math.abs(b));

const run = (exp: string, label?: string) => {
  const r = loadRun(exp, 'quick', ROOT);
  assert.ok(r, `fixture ${exp} missing`);
  return toSeries(r, label);
};

test('loader reads every seed of a run, sorted, with config', () => {
  const r = loadRun('cifar10-bop', 'quick', ROOT)!;
  assert.deepEqual(
    r.seeds.map((s) => s.seed),
    [1, 2],
  );
  assert.equal(r.seeds[0].history.length, 8);
  assert.equal(r.seeds[0].config?.optimizer, 'bop');
  assert.equal(loadRun('cifar10-bop', 'paper', ROOT), null);
  assert.equal(loadRun('nope', 'quick', ROOT), null);
  assert.deepEqual(listExperiments(ROOT), [
    'cifar10-adam-baseline',
    'cifar10-bop',
    'cifar10-bop-dropout',
    'cifar10-bop-lr-decay',
    'pets-unet-binary-bop',
  ]);
});

test('toSeries: label from config.label, optimizer from config or histories', () => {
  assert.equal(run('cifar10-bop-lr-decay').label, 'lr 1e-2');
  assert.equal(run('cifar10-bop').label, 'cifar10-bop');
  assert.equal(run('cifar10-bop', 'Bop').label, 'Bop');
  assert.equal(run('cifar10-bop').optimizer, 'bop');
  assert.equal(run('cifar10-adam-baseline').optimizer, 'adam');
});

test('parseHistory rejects bad input with the file name', () => {
  assert.throws(() => parseHistory('{oops', '/x/history.json'), /\/x\/history\.json: not valid JSON/);
  assert.throws(() => parseHistory('{"a":1}', 'h.json'), /h\.json: expected a JSON array/);
  assert.throws(
    () => parseHistory('[{"epoch":1,"accuracy":0.5}]', 'h.json'),
    /h\.json: record 0 has no numeric "valAccuracy"/,
  );
  const h = parseHistory('[{"epoch":1,"accuracy":0.5,"valAccuracy":0.4}]', 'h.json');
  assert.deepEqual(h[0].flipRatio, {});
  assert.equal(h[0].gamma, null);
});

test('aggregateSeeds: per-epoch mean/min/max over seeds of different lengths', () => {
  const a = readHistory('cifar10-bop', 1);
  const b = readHistory('cifar10-bop', 2).slice(0, 5);
  const agg = aggregateSeeds([a, b], (r) => r.valAccuracy);
  assert.deepEqual(agg.x, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(agg.n, [2, 2, 2, 2, 2, 1, 1, 1]);
  for (let i = 0; i < 5; i++) {
    assert.ok(Math.abs(agg.mean[i] - (a[i].valAccuracy + b[i].valAccuracy) / 2) < 1e-12);
    assert.equal(agg.min[i], Math.min(a[i].valAccuracy, b[i].valAccuracy));
    assert.equal(agg.max[i], Math.max(a[i].valAccuracy, b[i].valAccuracy));
  }
  assert.equal(agg.mean[7], a[7].valAccuracy);
  // null values (γ of the Adam baseline) are skipped entirely
  assert.equal(aggregateSeeds([readHistory('cifar10-adam-baseline', 1)], (r) => r.gamma).x.length, 0);
  assert.deepEqual(
    finalValues([a, b], (r) => r.valAccuracy),
    [a[7].valAccuracy, b[4].valAccuracy],
  );
});

test('flipMetric is the paper Eq. 7: ln(ratio + e^-9)', () => {
  assert.equal(flipMetric(0), -9);
  assert.ok(Math.abs(flipMetric(0.01) - Math.log(0.01 + Math.exp(-9))) < 1e-15);
  assert.ok(flipMetric(1) > 0 && flipMetric(1) < 1e-3);
});

test('accuracyCurves: two panels, mean lines + min-max bands, optimizer colours', () => {
  const fig = accuracyCurves([run('cifar10-adam-baseline', 'Adam'), run('cifar10-bop', 'Bop')]);
  const lines = fig.data.filter((t) => !isBandTrace(t));
  const bands = fig.data.filter(isBandTrace);
  assert.equal(lines.length, 4); // 2 runs × (train, val)
  assert.equal(bands.length, 8); // 2 seeds each → a band (lower + filled upper edge) per line
  const bopVal = lines.find((t) => t.name === 'Bop' && t.xaxis === 'x2')!;
  assert.deepEqual(traceX(bopVal), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(bopVal.x, undefined, 'contiguous epochs are sent as x0/dx');
  const h1 = readHistory('cifar10-bop', 1);
  const h2 = readHistory('cifar10-bop', 2);
  assert.ok(close(bopVal.y[3], (h1[3].valAccuracy + h2[3].valAccuracy) / 2));
  assert.equal(bopVal.line.color, OPTIMIZER_COLORS.bop);
  assert.equal(lines.find((t) => t.name === 'Adam')!.line.color, OPTIMIZER_COLORS.adam);
  // each run once in the legend
  assert.equal(lines.filter((t) => t.showlegend).length, 2);
  // band: the lower edge, then the upper edge filled to it
  const i = fig.data.indexOf(bopVal);
  const [lo, hi] = [fig.data[i - 2], fig.data[i - 1]];
  assert.equal(hi.fill, 'tonexty');
  assert.equal(lo.fill, undefined);
  assert.equal(lo.y[0], Math.min(h1[0].valAccuracy, h2[0].valAccuracy));
  assert.equal(hi.y[0], Math.max(h1[0].valAccuracy, h2[0].valAccuracy));
  assert.equal(fig.layout.yaxis.tickformat, '.0%');
  assert.equal(fig.layout.yaxis2.matches, 'y');
  assert.ok(fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]);
  // a single seed has no band
  const one = accuracyCurves([run('cifar10-bop-lr-decay')]);
  assert.equal(one.data.filter(isBandTrace).length, 0);
  // overlay mode: train dashed, val solid
  const ov = accuracyCurves([run('cifar10-bop')], { panels: false });
  assert.deepEqual(
    ov.data.filter((t) => !isBandTrace(t)).map((t) => t.line.dash),
    ['dash', 'solid'],
  );
  // uneven x is sent explicitly
  const uneven = accuracyCurves([
    {
      label: 'u',
      histories: [
        [
          { ...h1[0], epoch: 1 },
          { ...h1[1], epoch: 3 },
          { ...h1[2], epoch: 4 },
        ],
      ],
    },
  ]);
  assert.deepEqual(uneven.data[0].x, [1, 3, 4]);
});

test('assignColors: sweeps of one optimizer get distinct colours', () => {
  const c = assignColors([run('cifar10-bop-lr-decay'), run('cifar10-bop-dropout')]);
  assert.notEqual(c[0], c[1]);
  assert.deepEqual(assignColors([run('cifar10-bop'), run('cifar10-adam-baseline')]), [
    OPTIMIZER_COLORS.bop,
    OPTIMIZER_COLORS.adam,
  ]);
});

test('flipRatioCurves: π_t per layer for one run, last layer per run for several', () => {
  const bop = run('cifar10-bop', 'Bop');
  const fig = flipRatioCurves([bop]);
  const lines = fig.data.filter((t) => !isBandTrace(t));
  assert.deepEqual(
    lines.map((t) => t.name),
    ['conv1', 'conv2', 'dense3'],
  );
  const h = bop.histories;
  const expect = (flipMetric(h[0][2].flipRatio.conv2) + flipMetric(h[1][2].flipRatio.conv2)) / 2;
  assert.ok(close(lines[1].y[2], expect), `${lines[1].y[2]} vs ${expect}`);
  assert.equal(lines[0].y[7], -9); // ratio 0 → -9
  const multi = flipRatioCurves([bop, run('pets-unet-binary-bop', 'U-Net')]);
  assert.deepEqual(
    multi.data.filter((t) => !isBandTrace(t)).map((t) => t.name),
    ['Bop', 'U-Net'],
  );
  const none = flipRatioCurves([run('cifar10-adam-baseline')]);
  assert.match(none.layout.annotations[0].text, /no flip-ratio data/);
});

test('hyperparameterCurves: γ and lr panels on log axes', () => {
  const fig = hyperparameterCurves([run('cifar10-adam-baseline', 'Adam'), run('cifar10-bop', 'Bop')]);
  assert.equal(fig.layout.yaxis.type, 'log');
  assert.equal(fig.layout.yaxis2.type, 'log');
  const gamma = fig.data.filter((t) => t.xaxis === 'x' && !isBandTrace(t) && t.y.length);
  assert.deepEqual(
    gamma.map((t) => t.name),
    ['Bop'],
  );
  assert.deepEqual(gamma[0].y.slice(3, 5), [1e-4, 1e-5]);
  assert.equal(fig.data.filter((t) => t.showlegend && !isBandTrace(t)).length, 2);
});

test('miouCurves read record.extra', () => {
  const fig = miouCurves([run('pets-unet-binary-bop')]);
  const h = readHistory('pets-unet-binary-bop', 1);
  const val = fig.data.find((t) => t.xaxis === 'x2' && !isBandTrace(t))!;
  assert.equal(val.y.length, h.length);
  h.forEach((r, i) => assert.ok(close(val.y[i], r.extra!.valMiou), `epoch ${i + 1}`));
});

test('summary: rows, figure and tables (CSV quoting, Markdown, HTML)', () => {
  const rows = summaryRows([
    { ...run('cifar10-bop', 'Bop'), reported: 0.913, reportedSource: 'paper, §5.2' },
    run('cifar10-bop-lr-decay'),
  ]);
  const h1 = readHistory('cifar10-bop', 1);
  const h2 = readHistory('cifar10-bop', 2);
  assert.deepEqual(rows[0].values, [h1[7].valAccuracy, h2[7].valAccuracy]);
  const fig = summaryFigure(rows);
  assert.equal(fig.data.length, 2);
  assert.ok(Math.abs(fig.data[0].y[0] - (h1[7].valAccuracy + h2[7].valAccuracy) / 2) < 1e-12);
  assert.deepEqual(fig.data[1].y, [0.913, null]);
  const table = summaryTable(rows);
  assert.equal(table[0].seeds, 2);
  assert.equal(table[0].reported, 91.3);
  assert.equal(table[1].reported, null);
  const csv = toCsv(table).trim().split('\n');
  assert.equal(csv[0], 'run,optimizer,seeds,mean,min,max,reported,delta,source');
  assert.match(csv[1], /^Bop,bop,2,[\d.]+,[\d.]+,[\d.]+,91\.3,-?[\d.]+,"paper, §5\.2"$/);
  assert.match(csv[2], /^lr 1e-2,adam,1,[\d.]+,[\d.]+,[\d.]+,,,$/);
  const md = toMarkdown(table).trim().split('\n');
  assert.equal(md.length, 4);
  assert.match(md[0], /^\| Run \| Optimizer/);
  // two decimals on every percentage (91.30, not 91.3), seeds as an integer
  assert.match(md[2], /^\| Bop \| bop \| 2 \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| 91\.30 \| -?\d+\.\d\d \|/);
  assert.match(toHtml(table, 'cap'), /<caption>cap<\/caption>[\s\S]*<td[^>]*>Bop<\/td>/);
});

test('segmentationGrid: image + two mask heatmaps per sample, square pixels', () => {
  const r = loadRun('pets-unet-binary-bop', 'quick', ROOT)!;
  const p = loadPredictions(r);
  const fig = segmentationGrid(p.samples, { classNames: p.classNames });
  assert.equal(fig.data.length, 6);
  assert.deepEqual(
    fig.data.map((t) => t.type),
    ['image', 'heatmap', 'heatmap', 'image', 'heatmap', 'heatmap'],
  );
  assert.equal(fig.data[0].z[0][7][0], 255); // x/7 at x = 7 scaled to 0–255
  assert.deepEqual(fig.data[1].z, p.samples[0].truth);
  assert.equal(fig.layout.yaxis2.scaleanchor, 'x2');
  assert.equal(fig.layout.yaxis2.autorange, 'reversed');
  assert.deepEqual(fig.data[2].colorbar.ticktext, ['pet', 'background', 'border']);
  assert.throws(() => segmentationGrid([]), /no samples/);
  // long "image · model" row labels go on two lines, so rotated labels do not run into the next row
  const titled = segmentationGrid([{ ...p.samples[0], title: 'Abyssinian_201 · binary-bop' }]);
  assert.equal(titled.layout.annotations.find((a: any) => a.textangle === -90).text, 'Abyssinian_201<br>binary-bop');
});

test('inferenceComparison: accuracy, log-size and throughput panels with ratios to the first engine', () => {
  const fig = inferenceComparison([
    { name: 'float', accuracy: 0.5, bytes: 40 * 1024, imagesPerSec: { 'batch 1': 20, 'batch 50': 30 } },
    { name: 'packed', accuracy: 0.5, bytes: 1024, imagesPerSec: { 'batch 1': 100, 'batch 50': 60 } },
  ]);
  assert.equal(fig.data.length, 6);
  assert.equal(fig.layout.yaxis2.type, 'log');
  const size = fig.data.filter((t) => t.yaxis === 'y2');
  assert.deepEqual(
    size.map((t) => t.y[0]),
    [40, 1],
  );
  assert.match(size[1].text[0], /40\.0× smaller/);
  const speed = fig.data.filter((t) => t.yaxis === 'y3');
  assert.deepEqual(speed[1].x, ['batch 1', 'batch 50']);
  assert.deepEqual(speed[1].text, ['100<br>5.0×', '60<br>2.0×']);
  assert.throws(() => inferenceComparison([]), /no engines/);
});

test('registry: builds figures from stored results, reports missing experiments', () => {
  const ctx = {
    profile: 'quick',
    root: ROOT,
    reported: { 'cifar10-bop': { value: 0.913, source: 'Helwegen et al. 2019, §5.2' } },
  };
  const f1 = buildReportFigure('fig1-baseline-vs-bop', ctx);
  assert.ok(f1.figure);
  assert.deepEqual(
    f1.runs.map((r) => r.series.label),
    ['Adam baseline (latent weights)', 'Bop'],
  );
  const lr = buildReportFigure('fig2-3-learning-rate', ctx);
  assert.deepEqual(
    lr.runs.map((r) => r.data.experiment),
    ['cifar10-bop', 'cifar10-bop-lr-decay'],
  );
  const svhn = buildReportFigure('fig8-svhn', ctx);
  assert.equal(svhn.figure, null);
  assert.deepEqual(svhn.missing, ['svhn-report-baseline', 'svhn-adam-baseline', 'svhn-bop']);
  assert.equal(buildReportFigure('fig1-baseline-vs-bop', { profile: 'paper', root: ROOT }).figure, null);
  const sum = buildReportFigure('summary', ctx);
  // a row per run and published number (src/experiments/published.ts): 1 + 3 + 2 + none + none
  assert.equal(sum.table!.length, 8);
  assert.equal(sum.table!.find((r) => r.run === '§3.1 cifar10-bop')!.reported, 91.3);
  assert.ok(buildReportFigure('segmentation-grid', ctx).figure);
  assert.throws(() => buildReportFigure('fig99', ctx), /unknown figure "fig99"; known figures: fig1-baseline-vs-bop/);
  assert.equal(new Set(REPORT_FIGURES.map((f) => f.name)).size, REPORT_FIGURES.length);
  assert.deepEqual(matchExperiments(['a-*', 'b'], ['a-1', 'a-2', 'b', 'c']), ['a-1', 'a-2', 'b']);
});

test('display: MIME bundle without the plotly bundle; text fallback outside a kernel', () => {
  const fig = accuracyCurves([run('cifar10-bop', 'Bop')]);
  const bundle = figureBundle(fig);
  assert.deepEqual(Object.keys(bundle), [PLOTLY_MIME, 'text/html', 'text/plain']);
  assert.deepEqual(bundle[PLOTLY_MIME].data, fig.data);
  const html: string = bundle['text/html'];
  assert.ok(html.includes(PLOTLY_REL_PATH));
  assert.ok(html.length < JSON.stringify(fig).length + 5000, `html fallback too large: ${html.length}`);
  assert.ok(!/<\/script>[\s\S]*<\/script>[\s\S]*<\/script>/.test(html), 'a single inline script');
  // figure data cannot break out of the <script> element
  const evil = figureHtml({ data: [{ name: '</script><b>x' }], layout: {} });
  assert.ok(!evil.includes('</script><b>'));
  assert.equal(inKernel(), false);
  const logged: string[] = [];
  const orig = console.log;
  console.log = (s: string) => logged.push(s);
  try {
    showFigure(fig);
  } finally {
    console.log = orig;
  }
  assert.match(logged[0], /^<Plotly figure "" ?|^<Plotly figure: /);
});

test('CLI argument parsing: notebooks, figures, lab', () => {
  const n = parseNotebookArgs(['00', '--profile', 'smoke', '--timeout=30', '--keep-going'], '/p');
  assert.deepEqual(n.names, ['00']);
  assert.equal(n.profile, 'smoke');
  assert.equal(n.timeout, 30);
  assert.equal(n.outDir, path.join('/p', 'notebooks', 'executed'));
  assert.throws(() => parseNotebookArgs(['--profile', 'huge']), /unknown profile "huge"/);
  assert.throws(() => parseNotebookArgs(['--bogus']), /unknown option --bogus/);
  const r = parseNotebookArgs(['--render', '--no-execute'], '/p');
  assert.equal(r.render, true);
  assert.equal(r.execute, false);
  assert.equal(n.render, false);
  assert.throws(() => parseNotebookArgs(['--no-execute']), /only makes sense with --render/);
  const f = parseFiguresArgs(['fig1-baseline-vs-bop', '--format', 'png,pdf', '--profile=paper'], '/p');
  assert.deepEqual(f.formats, ['png', 'pdf']);
  assert.equal(f.profile, 'paper');
  assert.equal(f.outDir, path.join('/p', 'figures'));
  assert.throws(() => parseFiguresArgs(['--format', 'gif']), /unknown format "gif"/);
  assert.throws(() => parseFiguresArgs(['fig42']), /unknown figure "fig42"/);
  const l = parseLabArgs(['--ui', 'notebook', '--port', '9000', '--', '--NotebookApp.token=x']);
  assert.equal(l.ui, 'notebook');
  assert.equal(l.port, 9000);
  assert.deepEqual(l.extra, ['--NotebookApp.token=x']);
  assert.throws(() => parseLabArgs(['--ui', 'vscode']), /--ui must be/);
});

test('figures CLI writes the summary table without a browser (html format)', async () => {
  const { exportFigures } = await import('../src/cli/figures');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-figs-'));
  try {
    const logs: string[] = [];
    const r = await exportFigures(
      { names: ['summary', 'fig8-svhn'], formats: ['html'], profile: 'quick', outDir: out, results: ROOT, list: false },
      (s) => logs.push(s),
    );
    assert.deepEqual(r.skipped, ['fig8-svhn']);
    assert.equal(r.failed, 1); // named but not buildable
    assert.ok(
      logs.some((l) => /fig8-svhn: skipped, no results for svhn-report-baseline, svhn-adam-baseline, svhn-bop/.test(l)),
    );
    for (const f of ['summary.csv', 'summary.md', 'summary.html', 'plotly.min.js'])
      assert.ok(fs.existsSync(path.join(out, f)), f);
    assert.match(fs.readFileSync(path.join(out, 'summary.html'), 'utf8'), /<script src="plotly\.min\.js"><\/script>/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
