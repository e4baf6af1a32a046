/**
 * The section notebooks (notebooks/NN-*.ipynb): a static check that every cell is a call into src/ (the lint below:
 * the helpers every section notebook calls, and no copied lines or logic in cells), and a headless run of every numbered notebook on the smoke profile through the real CLI
 * (`node --import tsx src/cli/notebooks.ts --profile smoke`, i.e. `npm run notebooks -- --profile smoke`), with
 * results in a temporary BNN_RESULTS_DIR so results/ is never touched. The run needs CIFAR-10 in data/: when it is
 * missing the test fetches it first with `npm run data -- cifar10`. SVHN is not needed (05-svhn must then skip
 * its training and say how to fetch the data). Skipped, with the reason, only when Jupyter (nbclient) is missing.
 *
 * Takes ~3–5 minutes on a 2-core machine (8 kernels, every smoke run trained once and reused by 07-summary).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { jupyterPython, pythonCheck } from '../src/lab/jupyter';
import { repoRoot } from '../src/util/paths';
import { PLOTLY_MIME } from '../src/figures/display';
import { listNotebooks } from '../src/cli/notebooks';
import { sectionFigure } from '../src/experiments/figures';
import { resolveCifar10, dataRoot, SVHN_FILES } from '../src/data';

const ROOT = repoRoot();
const python = jupyterPython();
const noJupyter = pythonCheck(python, 'import nbclient, nbformat, jupyter_client');
const skip = noJupyter
  ? `Jupyter is missing: ${python} has no nbclient/jupyter_client (apt-get install jupyter-notebook python3-nbclient): ${noJupyter.split('\n').pop()}`
  : false;
if (skip) console.log(`# SKIP notebooks headless run: ${skip}`);

/** The numbered notebooks (00-…, 01-…), as the CLI runs them without names (templates `_*` excluded). */
const NOTEBOOKS = listNotebooks(ROOT).filter((f) => /^\d\d-/.test(path.basename(f)));
const SECTIONS = [
  '01-baseline-vs-bop',
  '02-learning-rate',
  '03-dropout',
  '04-constant-gamma',
  '05-svhn',
  '06-unet-segmentation',
  '07-summary',
  '08-gamma-tau-sensitivity',
];

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}
interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
}
const src = (c: Cell) => (Array.isArray(c.source) ? c.source.join('') : c.source);
const readNb = (file: string): { cells: Cell[]; metadata: Record<string, any> } =>
  JSON.parse(fs.readFileSync(file, 'utf8'));
const textOf = (o: Output) => (Array.isArray(o.text) ? o.text.join('') : (o.text ?? ''));
/** Every text the notebook's outputs show: streams, Markdown, HTML, plain text. */
function outputText(cells: Cell[]): string {
  const parts: string[] = [];
  for (const c of cells)
    for (const o of c.outputs ?? []) {
      if (o.output_type === 'stream') parts.push(textOf(o));
      for (const mime of ['text/markdown', 'text/html', 'text/plain']) {
        const v = o.data?.[mime];
        if (v !== undefined) parts.push(Array.isArray(v) ? v.join('') : String(v));
      }
    }
  return parts.join('\n');
}

/** A cell's code without its comments (a comment may say anything; the code may not). */
const codeOf = (c: Cell) =>
  src(c)
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

/**
 * What a section notebook's cells may not contain, with the reason. Each rule catches what the notebooks used to
 * copy from each other or compute themselves; the computation belongs in src/experiments/notebook.ts (tested in
 * test/notebook-helpers.test.ts), the cell calls it.
 */
export const CELL_RULES: { name: string; re: RegExp; why: string }[] = [
  { name: 'a loop', re: /\b(for|while)\s*\(/, why: 'a loop over runs or results belongs in a helper' },
  {
    name: 'a condition',
    re: /\b(if|switch)\s*\(|\belse\b|\btry\s*\{/,
    why: 'a decision (missing data, which run, did it work) belongs in a helper',
  },
  {
    name: 'a function',
    re: /=>|\bfunction\b/,
    why: 'a function defined in a cell (runOf, pp, pctText, …) is a copy waiting to happen',
  },
  {
    name: 'arithmetic on results',
    re: /\.(results|history|histories|series|accuracy|valAccuracy|testAccuracy|flipRatio|extra|dir)\b|\.reduce\(|\bMath\.|\bfinalMean\(|\.toFixed\(/,
    why: 'numbers from runs are computed in src/ (sectionFindings, showComparison, …)',
  },
  {
    name: 'reading results by path',
    re: /from '(fs|path)'|\bpath\.|readFileSync|\bloadRun(Dir)?\(|results\//,
    why: 'results are read through runSection and the helpers, never by folder',
  },
  { name: 'the profile from the environment', re: /process\.env/, why: 'notebookConfig reads and checks BNN_PROFILE' },
  {
    name: 'a shorthand property',
    re: /[(,]\s*\{\s*\w+(\s*,\s*\w+)*\s*\}/,
    why: "tslab does not rewrite `{ x }` to the earlier cell's x (ReferenceError when run); write `{ x: x }`",
  },
];

/** Conditional expressions are configuration: allowed in the config cell only. */
const TERNARY = /\s\?\s[^:]*\s:\s/;

/** The one-line helper calls every section notebook makes (07 summarizes, 08 runs the γ × τ grid). */
function requiredCalls(s: string): RegExp[] {
  const calls = [/notebookConfig\(/, /await notebookSetup\(\{ profile: PROFILE/];
  if (s === '07-summary')
    return [
      ...calls,
      /runSection\(SELECTED, /,
      /showMarkdown\(scaleMarkdown\(SELECTED, PROFILE\)\)/,
      /summaryVerdictMarkdown\(runs, PROFILE\)/,
      /showSummaryTable\(runs, PROFILE\)/,
    ];
  if (s === '08-gamma-tau-sensitivity')
    return [
      ...calls,
      /sectionIntro\(SECTION, PROFILE\)/,
      /runCalibrationGrid\(\{ profile: PROFILE, experiment: 'cifar10-bop'/,
      /runCalibrationGrid\(\{ profile: PROFILE, experiment: 'cifar10-adam-baseline'/,
      /gridChoiceText\(baselineGrid, PROFILE\)/,
      /gridVerdictMarkdown\(grid, PROFILE\)/,
    ];
  return [
    ...calls,
    /sectionIntro\(SECTION, PROFILE\)/,
    // the profile's sizes are printed from the registry, never typed in Markdown
    /showMarkdown\(scaleMarkdown\(SECTION, PROFILE\)\)/,
    ...(s === '03-dropout' ? [/await showDropoutMechanism\(runs, PROFILE\)/] : []),
    ...(s === '04-constant-gamma'
      ? [/regimeText\(runs, \['cifar10-bop-untuned', 'cifar10-bop-constant-gamma'\]\)/]
      : []),
    ...(s === '06-unet-segmentation'
      ? [
          /regimeText\(runs, \['pets-unet-binary-bop', 'pets-unet-binary-bop-report-tau'\]\)/,
          /flipPhaseText\(runs, 'pets-unet-binary-bop'\)/,
          /flipPhaseText\(runs, 'pets-unet-binary-bop-report-tau'\)/,
        ]
      : []),
    /const runs = await runSection\(EXPERIMENTS, \{ profile: PROFILE, seeds: SEEDS, set: OVERRIDES \}\)/,
    // figures by name: the catalog's declaration (kind, title, axes, experiments), never titles typed in a cell
    /showCatalogFigure\(runs, '/,
    /showComparison\(runs, PROFILE\)/,
    /sectionFindings\(SECTION, runs, PROFILE/,
    /sectionVerdictMarkdown\(SECTION, runs, PROFILE\)/,
  ];
}

test('section notebooks: a config cell, then one call into src/ per step, and no copied lines or logic in cells', () => {
  const names = NOTEBOOKS.map((f) => path.basename(f, '.ipynb'));
  for (const s of SECTIONS) assert.ok(names.includes(s), `notebooks/${s}.ipynb is missing (have: ${names.join(', ')})`);
  for (const s of SECTIONS) {
    const file = path.join(ROOT, 'notebooks', `${s}.ipynb`);
    const nb = readNb(file);
    assert.equal(nb.metadata.kernelspec?.name, 'tslab-bnn', `${s}: kernelspec`);
    const cells = nb.cells.filter((c) => c.cell_type === 'code');
    const code = cells.map(codeOf);
    // The first code cell is the config cell: SEEDS, OVERRIDES, and notebookConfig (the profile from BNN_PROFILE).
    assert.match(code[0], /notebookConfig\(/, `${s}: the config cell calls notebookConfig`);
    assert.match(code[0], /const SEEDS\b/, `${s}: config cell has SEEDS`);
    assert.match(code[0], /const OVERRIDES\b/, `${s}: config cell has OVERRIDES`);
    assert.equal(code.filter((c) => /notebookConfig\(/.test(c)).length, 1, `${s}: a single config cell`);
    const all = code.join('\n');
    assert.doesNotMatch(
      all,
      /from '\.\.\//,
      `${s}: imports project code as ./src/... (the kernel's cwd is the project root)`,
    );
    // Only calls into src/: no model, optimizer, layer or training-loop code in the notebooks.
    assert.doesNotMatch(
      all,
      /from '\.\/src\/(optimizers|layers|quantizers|train\/loop)/,
      `${s}: must not build optimizers/layers/loops itself`,
    );
    assert.doesNotMatch(
      all,
      /\.(fit|trainOnBatch|minimize)\(|tf\.sequential|tf\.layers\./,
      `${s}: no training code in the notebook`,
    );
    for (const re of requiredCalls(s)) assert.match(all, re, `${s}: calls ${re.source.replace(/\\/g, '')}`);
    // A section notebook draws its section's figures by name, each declared once (src/experiments/figures.ts `sectionFigure`).
    for (const m of all.matchAll(/showCatalogFigure\(runs, '([^']+)'\)/g))
      assert.equal(sectionFigure(m[1]).section.notebook, s, `${s}: figure ${m[1]} is another section's`);
    if (/^0[1-6]-/.test(s))
      assert.doesNotMatch(
        all,
        /\btitle:|showCurves\(|curvesFigure\(/,
        `${s}: a figure declared in a cell; draw the catalog's by name (showCatalogFigure)`,
      );
    code.forEach((c, i) => {
      const id = (cells[i] as Cell & { id?: string }).id ?? `#${i}`;
      for (const r of CELL_RULES) assert.doesNotMatch(c, r.re, `${s}, cell ${id}: ${r.name} (${r.why}):\n${c}`);
      if (i > 0)
        assert.doesNotMatch(c, TERNARY, `${s}, cell ${id}: a conditional expression outside the config cell:\n${c}`);
    });
    // No executed outputs committed.
    assert.ok(
      nb.cells.every((c) => !c.outputs || c.outputs.length === 0),
      `${s}: the committed notebook has outputs; clear them`,
    );
  }
});

test('the cell rules catch the copies and computations they are for, and pass the helper calls', () => {
  const caught = (code: string) => CELL_RULES.filter((r) => r.re.test(code)).map((r) => r.name);
  assert.deepEqual(caught('const runOf = (name: string) => runs.find((x) => x.experiment === name);'), ['a function']);
  assert.deepEqual(caught("const gap = finalMean(runOf('cifar10-bop')) - finalMean(runOf('cifar10-adam-baseline'));"), [
    'arithmetic on results',
  ]);
  assert.deepEqual(caught('for (const r of runs) console.log(r.experiment);'), ['a loop']);
  assert.deepEqual(caught('if (HAVE_SVHN) showFigure(fig);'), ['a condition']);
  assert.deepEqual(caught("const model = await loadModel(path.join(res.dir, 'final'));"), [
    'arithmetic on results',
    'reading results by path',
  ]);
  assert.deepEqual(caught("const PROFILE = (process.env.BNN_PROFILE || 'quick');"), [
    'the profile from the environment',
  ]);
  assert.deepEqual(caught('const lastLr = x.history[x.history.length - 1].lr;'), ['arithmetic on results']);
  assert.deepEqual(caught('console.log(sectionFindings(SECTION, runs, PROFILE, { sizes }));'), [
    'a shorthand property',
  ]);
  for (const ok of [
    'const { PROFILE, EXPERIMENTS } = notebookConfig(SECTION, { seeds: SEEDS, overrides: OVERRIDES });',
    "showCatalogFigure(runs, 'flip-ratio');",
    'console.log(sectionFindings(SECTION, runs, PROFILE, { sizes: sizes }));',
    'showMarkdown(sectionVerdictMarkdown(SECTION, runs, PROFILE));',
  ])
    assert.deepEqual(caught(ok), [], ok);
  assert.match("const GAMMA_FACTORS = PROFILE === 'smoke' ? [1, 3.16] : [0.316, 1, 3.16];", TERNARY);
  assert.doesNotMatch('const SEEDS: number[] | undefined = undefined;', TERNARY);
});

test('the setup notebook and the template use the same config and set-up helpers', () => {
  for (const name of ['00-setup-and-data', '_template']) {
    const code = readNb(path.join(ROOT, 'notebooks', `${name}.ipynb`))
      .cells.filter((c) => c.cell_type === 'code')
      .map(codeOf);
    assert.match(code[0], /notebookConfig\(/, `${name}: config cell`);
    assert.match(code.join('\n'), /await notebookSetup\(\{ profile: PROFILE/, `${name}: set-up cell`);
    assert.doesNotMatch(code.join('\n'), /process\.env/, `${name}: the profile through notebookConfig`);
  }
});

function ensureCifar10(): void {
  try {
    resolveCifar10();
    return;
  } catch {
    /* missing: fetch it below */
  }
  console.log('# CIFAR-10 missing: running `npm run data -- cifar10` first');
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'data.ts'), 'cifar10'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  assert.equal(r.status, 0, `npm run data -- cifar10 failed:\n${r.stdout}\n${r.stderr}`);
  resolveCifar10();
}

test(
  'every numbered notebook runs headless on the smoke profile (temp results dir)',
  { skip, timeout: 12 * 60_000 },
  async () => {
    ensureCifar10();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-notebooks-'));
    const results = path.join(tmp, 'results');
    const out = path.join(tmp, 'executed');
    try {
      const env = { ...process.env, BNN_RESULTS_DIR: results, BNN_PROFILE: 'smoke' };
      const t0 = Date.now();
      const { code, output } = await new Promise<{ code: number; output: string }>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            path.join(ROOT, 'src', 'cli', 'notebooks.ts'),
            '--profile',
            'smoke',
            '--out',
            out,
            '--keep-going',
            '--timeout',
            '300',
          ],
          {
            cwd: ROOT,
            env,
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let text = '';
        child.stdout.on('data', (d) => (text += d));
        child.stderr.on('data', (d) => (text += d));
        child.on('error', reject);
        child.on('close', (c, signal) => resolve({ code: c ?? (signal ? 128 : 1), output: text }));
      });
      console.log(
        `# ${NOTEBOOKS.length} notebooks on smoke in ${((Date.now() - t0) / 1000).toFixed(0)} s\n${output
          .split('\n')
          .filter((l) => /^(ok|FAIL) /.test(l))
          .map((l) => `#   ${l}`)
          .join('\n')}`,
      );
      assert.equal(code, 0, `npm run notebooks -- --profile smoke failed:\n${output}`);

      const texts: Record<string, string> = {};
      for (const file of NOTEBOOKS) {
        const name = path.basename(file, '.ipynb');
        assert.match(output, new RegExp(`^ok +notebooks/${name}\\.ipynb`, 'm'), `${name} not reported ok`);
        const executed = path.join(out, `${name}.ipynb`);
        assert.ok(fs.existsSync(executed), `${executed} not written`);
        const size = fs.statSync(executed).size;
        assert.ok(
          size < 400_000,
          `${name}: executed notebook is ${size} bytes; keep outputs small (no plotly bundle, no big arrays in MIME JSON)`,
        );
        const nb = readNb(executed);
        assert.equal(nb.metadata.bnn?.profile, 'smoke', `${name}: ran with BNN_PROFILE=smoke`);
        for (const c of nb.cells)
          for (const o of c.outputs ?? [])
            assert.notEqual(o.output_type, 'error', `${name}: a cell raised ${JSON.stringify(o).slice(0, 300)}`);
        texts[name] = outputText(nb.cells);
        if (SECTIONS.includes(name)) {
          assert.match(texts[name], /profile smoke/, `${name}: config cell printed the profile`);
          assert.match(texts[name], /backend=/, `${name}: backend printed`);
        }
      }
      const figures = (name: string) =>
        readNb(path.join(out, `${name}.ipynb`)).cells.flatMap((c) =>
          (c.outputs ?? []).filter((o) => o.output_type === 'display_data' && o.data?.[PLOTLY_MIME]),
        );

      // Section notebooks with training: figures, the comparison with published numbers, seed/profile/backend/time.
      for (const name of [
        '01-baseline-vs-bop',
        '02-learning-rate',
        '03-dropout',
        '04-constant-gamma',
        '06-unet-segmentation',
      ]) {
        assert.ok(
          figures(name).length >= 3,
          `${name}: expected accuracy, flip-ratio and schedule figures, got ${figures(name).length}`,
        );
        assert.match(
          texts[name],
          /seed 0 · profile smoke · backend=/,
          `${name}: per-run line with seed, profile and backend`,
        );
        assert.match(texts[name], /s of training/, `${name}: wall time printed`);
        assert.match(texts[name], /Reported \(%\)/, `${name}: comparison table`);
      }
      // §3.1: both comparisons, the paper's (tuned and untuned) and the report's, with the published differences from the catalog
      assert.match(
        texts['01-baseline-vs-bop'],
        /both tuned by the same calibration: [+-]\d+\.\d\d pp here \(smoke\) vs \+0\.40 pp in the paper/,
      );
      assert.match(
        texts['01-baseline-vs-bop'],
        /both untuned \(the settings the profile derives\): [+-]\d+\.\d\d pp here/,
      );
      assert.match(
        texts['01-baseline-vs-bop'],
        /The report's comparison, Bop − its code's baseline .*: [+-]\d+\.\d\d pp here vs \+0\.58 pp in the report/,
      );
      // the profile's sizes, printed from the registry
      assert.match(texts['01-baseline-vs-bop'], /Scale of the `smoke` profile/);
      assert.match(texts['01-baseline-vs-bop'], /91\.30/, '01: the paper number comes from the registry');
      assert.match(
        texts['02-learning-rate'],
        /same config as cifar10-bop/,
        '02: the constant-lr run reuses cifar10-bop',
      );
      assert.match(texts['04-constant-gamma'], /final-epoch flip ratio/);
      // Claims, the published numbers and a verdict per claim in every section notebook; loss curves where the report has them.
      for (const name of [
        '01-baseline-vs-bop',
        '02-learning-rate',
        '03-dropout',
        '04-constant-gamma',
        '05-svhn',
        '06-unet-segmentation',
      ]) {
        assert.match(texts[name], /Claims\*\* tested here/, `${name}: claims block`);
        assert.match(texts[name], /verdict \(smoke\)/, `${name}: verdict table`);
        assert.match(
          texts[name],
          /\*\*(consistent|contradicted|inconclusive|not testable at this scale|not run)\*\*/,
          `${name}: a verdict word`,
        );
      }
      assert.match(texts['01-baseline-vs-bop'], /91\.02 %/, "01: the report's baseline number");
      assert.match(
        texts['02-learning-rate'],
        /constant − decayed lr, final test accuracy \(whole test split, BN statistics settled, mean over seeds\): [+-]\d+\.\d\d pp/,
        "02: the section's numbers",
      );
      // 03: the mechanism measured on the final models: per-layer gaps with the control, raw and settled scores, a figure
      assert.match(texts['03-dropout'], /BN statistics in training \(dropout on\) against those the model tests with/);
      assert.match(
        texts['03-dropout'],
        /\| control \(dropout off\), mean over layers \| 0\.0000 · 1\.0000 \| 0\.0000 · 1\.0000 \|/,
        '03: the control reads no gap on settled models',
      );
      assert.match(texts['03-dropout'], /\(settled − raw\) − that of `cifar10-bop` = \*\*[+-]\d+\.\d\d pp\*\*/);
      assert.ok(figures('03-dropout').length >= 4, '03: accuracy, loss, flips and the mechanism figure');
      // 04: the constant-γ arm's coverage of the report's run; 06: the UNet Bop arm's regime and its flips per γ phase
      assert.match(
        texts['04-constant-gamma'],
        /cifar10-bop-constant-gamma: [\d,]+ steps \(\d+ per epoch\) cover [\d,]+ of the paper's [\d,]+ steps/,
      );
      assert.match(
        texts['06-unet-segmentation'],
        /pets-unet-binary-bop: [\d,]+ steps .*γ·T per phase .*τ\/σ_m [\d.e-]+× the paper's/,
      );
      assert.match(
        texts['06-unet-segmentation'],
        /flips fall ≥ 2× after every γ decay in \d+ of \d+ seed\(s\)|no two γ phases with whole epochs/,
      );
      assert.match(texts['03-dropout'], /gap shrinks with dropout: (yes|no)/, "03: the section's numbers");
      assert.match(
        texts['06-unet-segmentation'],
        /Bop vs latent-weight Adam \(both binarized\): [+-]\d+\.\d\d pp pixel accuracy/,
        "06: the section's numbers",
      );
      assert.match(texts['04-constant-gamma'], /10\.00 % validation/, "04: the report's collapse number");
      assert.match(
        texts['07-summary'],
        /consistent, \d+ contradicted, \d+ inconclusive, \d+ not testable at this scale, \d+ not run/,
        '07: every claim judged',
      );
      // 08: the γ × τ grid on smoke, its figures, table and the §5.1 verdicts.
      assert.ok(
        figures('08-gamma-tau-sensitivity').length >= 8,
        "08: accuracy, flip and score figures for both Bop axes, the baseline's curves and scores",
      );
      assert.match(texts['08-gamma-tau-sensitivity'], /held-out accuracy/, '08: grid table');
      // both grids, the rule, the exclusion and what the rule would choose without it
      assert.match(texts['08-gamma-tau-sensitivity'], /\| lr ×1 \| lr /, "08: the baseline's learning-rate grid");
      assert.match(
        texts['08-gamma-tau-sensitivity'],
        /cifar10-adam-baseline: selection rule \(fixed in src\/experiments\/calibrate\.ts before the grid ran\)/,
      );
      assert.match(texts['08-gamma-tau-sensitivity'], /excluded: tau ×0 — /);
      assert.match(texts['08-gamma-tau-sensitivity'], /Fewer flips with higher τ/, '08: §5.1 verdicts');
      assert.match(
        texts['06-unet-segmentation'],
        /\| `pets-unet-binary-bop` \| [\d,]+ \| [\d,]+ \| [\d,]+ \|/,
        '06: model size table',
      );
      assert.match(texts['06-unet-segmentation'], /Ground truth|Prediction/, '06: prediction grid');

      // SVHN: without the data the notebook says how to fetch it and trains nothing.
      const haveSvhn = Object.values(SVHN_FILES).every((f) => fs.existsSync(path.join(dataRoot(), 'svhn', f.file)));
      if (haveSvhn) assert.ok(figures('05-svhn').length >= 1, '05: SVHN present, expected figures');
      else {
        assert.match(texts['05-svhn'], /npm run data -- svhn/, '05: says how to fetch SVHN');
        assert.equal(figures('05-svhn').length, 0);
        assert.ok(!fs.existsSync(path.join(results, 'svhn-bop')), '05: trained without data?');
      }

      // Summary: one table with the published numbers, one figure, packed inference of the trained Bop model.
      assert.match(texts['07-summary'], /§3\.1 cifar10-bop.*91\.30/s);
      assert.equal(figures('07-summary').length, 2, '07: the summary figure and the float-vs-packed figure');
      assert.match(
        texts['07-summary'],
        /packed wasm fused (mix|simd|i64|js), \d threads?/,
        '07: packed inference table',
      );
      assert.match(texts['07-summary'], /ms \/ image, batch 1/, '07: batch-1 speed');
      assert.match(texts['07-summary'], /reused/, '07: reuses the runs of 01–06');

      // Results went to the temp dir, complete, and the UNet runs wrote their prediction samples.
      for (const e of [
        'cifar10-adam-baseline',
        'cifar10-bop',
        'cifar10-bop-lr-decay',
        'cifar10-bop-dropout',
        'cifar10-bop-constant-gamma',
        'pets-unet-binary-bop',
      ]) {
        const dir = path.join(results, e, 'smoke', 'seed-0');
        assert.ok(
          fs.existsSync(path.join(dir, 'history.json')) && fs.existsSync(path.join(dir, 'final', 'model.json')),
          `${dir}: incomplete`,
        );
      }
      assert.ok(fs.existsSync(path.join(results, 'pets-unet-binary-bop', 'smoke', 'seed-0', 'predictions.json')));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
);
