/**
 * What the notebooks call, so that a section notebook reads like the report's section: its claims, a config
 * cell, the runs, the figures, the report's numbers beside this run's, the verdicts — each a one-line call here.
 * Every computation on results and every decision (which runs, which data is missing, what a difference is) is in
 * this module, tested in test/notebook-helpers.test.ts; test/notebooks.test.ts keeps it out of the cells.
 *
 *   const { PROFILE, EXPERIMENTS } = notebookConfig(SECTION, { seeds: SEEDS, overrides: OVERRIDES });
 *   await notebookSetup({ profile: PROFILE, experiments: EXPERIMENTS, seeds: SEEDS, set: OVERRIDES });
 *   showMarkdown(sectionIntro(SECTION, PROFILE));
 *   const runs = await runSection(EXPERIMENTS, { profile: PROFILE, seeds: SEEDS, set: OVERRIDES });
 *   showCurves(runs, 'accuracy', { title: `Fig. 1 (${PROFILE})` });
 *   showComparison(runs, PROFILE);
 *   console.log(sectionFindings(SECTION, runs, PROFILE));
 *   showMarkdown(sectionVerdictMarkdown(SECTION, runs, PROFILE));
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../backend';
import { classificationSource, dataRoot, loadCifar10, SVHN_FILES } from '../data';
import { accuracyCurves, inferenceComparison, segmentationGrid, summaryFigure, summaryRows, type SegmentationSample, type SummaryRow } from '../figures/builders';
import { flipMetric } from '../figures/aggregate';
import type { RunData } from '../figures/load';
import { loadPredictions } from '../figures/report';
import { figureHtml, figureText, inKernel, liveChart, showFigure, showHtml, showMarkdown } from '../figures/display';
import { summaryTable, toHtml, type SummaryTableRow } from '../figures/tables';
import type { RunSeries } from '../figures/types';
import type { History } from '../train/history';
import { metricOf } from '../results/metrics';
import { loadRunDir } from '../results';
import { finalMetric } from '../results/metrics';
import { PROFILES, SECTIONS, sectionOf } from './catalog';
import { collectGrid, planFor, planPoints, readGrid, saveGrid, type CalibrationPlan, type GridResult } from './calibrate';
import { curvesFigure, type CurveKind, type CurveKindOptions } from './figures';
import { calibrationOf, derivationNotes, experimentNames, getExperiment, Profile, type CalibrationFactors } from './registry';
import { verdictMarkdown } from './report';
import { resolveConfig, runExperiment, RunResult } from './run';
import { unetSizeTable, type UnetSizeRow } from './unet';
import { claimVerdict, meanFlipRatio, sensitivityVerdict, type FinalValues, type Verdict } from './verdict';

const pctOf = (v: number) => `${(v * 100).toFixed(2)} %`;

// ---------------------------------------------------------------------------------------------------------------
// The config and set-up cells.

/**
 * The profile a notebook runs on: `BNN_PROFILE` (set by `npm run notebooks -- --profile X`), default `quick`,
 * one of `allowed`. Throws naming the allowed profiles otherwise.
 */
export function notebookProfile(allowed: readonly Profile[] = PROFILES, env: NodeJS.ProcessEnv = process.env): Profile {
  const p = (env.BNN_PROFILE || 'quick') as Profile;
  if (!allowed.includes(p)) throw new Error(`BNN_PROFILE must be ${allowed.join(', ')} here (got "${p}")`);
  return p;
}

export interface NotebookConfigOptions {
  seeds?: number[];
  overrides?: string[];
  /** Profiles this notebook accepts (default: every profile). */
  profiles?: readonly Profile[];
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/**
 * The config cell's call: the profile (`notebookProfile`) and the experiments of the report section `section` (none
 * when `section` is null: the setup and summary notebooks choose theirs), printed with the seeds and overrides.
 */
export function notebookConfig(section: string | null, opts: NotebookConfigOptions = {}): { PROFILE: Profile; EXPERIMENTS: string[] } {
  const PROFILE = notebookProfile(opts.profiles, opts.env);
  const EXPERIMENTS = section === null ? [] : [...sectionOf(section).experiments];
  const seeds = opts.seeds ? opts.seeds.join(', ') : '(registry default)';
  const overrides = opts.overrides?.length ? opts.overrides.join(' ') : '(none)';
  (opts.log ?? console.log)(`profile ${PROFILE}, seeds ${seeds}, overrides ${overrides}${section === null ? '' : `, section ${section}: ${EXPERIMENTS.join(', ') || 'no runs of its own'}`}`);
  return { PROFILE, EXPERIMENTS };
}

/**
 * The set-up cell's call: initialises the backend (tfjs-node-gpu > tfjs-node > wasm > cpu; env BNN_BACKEND /
 * BNN_THREADS override), prints Node's version and the backend, then the exact config every run will train with
 * (profile + overrides + seed).
 */
export async function notebookSetup(opts: { profile: string; experiments?: string[]; seeds?: number[]; set?: string[]; log?: (line: string) => void }): Promise<void> {
  const log = opts.log ?? console.log;
  await initBackend();
  log(`node ${process.version} · ${describeBackend()}`);
  for (const line of runConfigLines(opts.experiments ?? [], opts.profile, opts.seeds, opts.set)) log(line);
}

/** One line per run: `<experiment> seed <n>: <resolved config as JSON>`. */
export function runConfigLines(experiments: string[], profile: string, seeds?: number[], set: string[] = []): string[] {
  return experiments.flatMap((name) => (seeds ?? getExperiment(name).seeds[profile as Profile] ?? [0]).map((seed) => `${name} seed ${seed}: ${JSON.stringify(resolveConfig(name, profile, seed, set))}`));
}

// ---------------------------------------------------------------------------------------------------------------
// Data a notebook may lack.

/** How to fetch a dataset the notebooks may lack (the datasets `missingData` checks). */
const FETCH_HELP: Record<string, string> = {
  svhn:
    'Fetch it with `npm run data -- svhn` (downloads the three official `.mat` files from ufldl.stanford.edu and checks their MD5), ' +
    'or, on a machine without that access, copy the files over and run `npm run data -- svhn --from DIR`. Then re-run this notebook.',
};

/**
 * The data files missing for `experiments`, by dataset. SVHN is the one dataset a notebook may lack (CIFAR-10 comes
 * with `scripts/setup.sh`, Pets falls back to its bundled sample), so only its three files are checked.
 */
export function missingData(experiments: string[], root = dataRoot()): { dataset: string; files: string[] }[] {
  const datasets = [...new Set(experiments.map((n) => getExperiment(n).paper.dataset))];
  return datasets.flatMap((d) => {
    if (!(d in FETCH_HELP)) return [];
    const files = Object.values(SVHN_FILES).map((f) => path.join(root, 'svhn', f.file)).filter((f) => !fs.existsSync(f));
    return files.length ? [{ dataset: d, files }] : [];
  });
}

/**
 * The data check of a section whose data may be missing: where each dataset was found, or which files are missing,
 * that the section is skipped (`runSection` trains nothing) and how to fetch them, as Markdown.
 */
export function dataStatusMarkdown(experiments: string[], root = dataRoot()): string {
  const missing = missingData(experiments, root);
  const checked = [...new Set(experiments.map((n) => getExperiment(n).paper.dataset))].filter((d) => d in FETCH_HELP);
  const found = checked.filter((d) => !missing.some((m) => m.dataset === d));
  const lines = found.map((d) => `${d.toUpperCase()} found in \`${path.relative(process.cwd(), path.join(root, d)) || '.'}\`.`);
  return [...lines, missingDataMarkdown(missing)].filter(Boolean).join('\n\n');
}

/** Markdown saying which data is missing, that the section is skipped, and how to fetch it. */
export function missingDataMarkdown(missing: { dataset: string; files: string[] }[]): string {
  return missing
    .map(
      (m) =>
        `**${m.dataset.toUpperCase()} is not available on this machine**, so this section is skipped (nothing below trains or fails).\n\n` +
        `Missing: ${m.files.map((f) => `\`${path.relative(process.cwd(), f)}\``).join(', ')}.\n\n${FETCH_HELP[m.dataset] ?? ''}`,
    )
    .join('\n\n');
}

export interface SectionOptions {
  profile: string;
  /** Seeds per experiment (default: the registry's seeds for the profile). */
  seeds?: number[];
  /** `key=value` overrides applied to every run. */
  set?: string[];
  /** Redraw an accuracy chart after every epoch (default: true in a notebook kernel). */
  live?: boolean;
  /** Print every epoch's progress line (default: true). */
  verbose?: boolean;
}

export interface SectionRun {
  experiment: string;
  title: string;
  results: RunResult[];
  series: RunSeries;
}

/**
 * Runs each experiment's seeds (reusing finished results, resuming interrupted runs). When the data of a run is
 * missing (`missingData`), or its loader refuses a file that exists but is unreadable, shows why and returns no
 * runs: the cells after it then say "skipped" instead of failing.
 */
export async function runSection(experiments: string[], opts: SectionOptions): Promise<SectionRun[]> {
  const missing = missingData(experiments);
  if (missing.length) {
    for (const m of missing) console.log(`skipped: ${m.dataset.toUpperCase()} is missing (${m.files.map((f) => path.basename(f)).join(', ')}); \`npm run data -- ${m.dataset}\` fetches it`);
    return [];
  }
  try {
    return await runSectionSeeds(experiments, opts);
  } catch (e) {
    const msg = (e as Error).message;
    if (!/SVHN|\.mat\b/.test(msg)) throw e;
    showMarkdown(`**SVHN could not be loaded**, this section is skipped: ${msg}`);
    return [];
  }
}

async function runSectionSeeds(experiments: string[], opts: SectionOptions): Promise<SectionRun[]> {
  const out: SectionRun[] = [];
  const live = (opts.live ?? inKernel()) ? liveChart() : null;
  const done: RunSeries[] = [];
  for (const name of experiments) {
    const e = getExperiment(name);
    const seeds = opts.seeds ?? e.seeds[opts.profile as Profile] ?? [0];
    const results: RunResult[] = [];
    const histories: History[] = [];
    for (const seed of seeds) {
      const r = await runExperiment({
        experiment: name,
        profile: opts.profile,
        seed,
        set: opts.set,
        resume: true,
        log: opts.verbose === false ? null : (l) => console.log(l),
        onEpoch: (_rec, h) => {
          live?.update(accuracyCurves([...done, { label: `${name} (seed ${seed}, running)`, optimizer: e.paper.optimizer, histories: [...histories, h] }], { title: `${name}: epoch ${h.length}` }));
        },
      });
      results.push(r);
      histories.push(r.history);
      const last = r.history[r.history.length - 1];
      console.log(
        `${name} seed ${seed}: ${r.reused ? 'reused finished results' : `trained in ${r.wallSeconds.toFixed(0)} s`} — ` +
          `final train acc ${(last.accuracy * 100).toFixed(2)} %, val acc ${(last.valAccuracy * 100).toFixed(2)} % (${r.backend})`,
      );
    }
    const series: RunSeries = { label: e.title, optimizer: e.paper.optimizer, histories, seeds };
    done.push(series);
    out.push({ experiment: name, title: e.title, results, series });
  }
  return out;
}

/** Mean over seeds of the last epoch's `metric` (validation accuracy by default). */
export function finalMean(run: SectionRun, metric: 'valAccuracy' | 'accuracy' = 'valAccuracy'): number {
  return run.results.reduce((s, x) => s + x.history[x.history.length - 1][metric], 0) / run.results.length;
}

/**
 * Rows for the "this run vs the published numbers" table: the last epoch's value per seed against every
 * published number of the run (one row per number; a run without one gets a single row saying so).
 */
export function comparisonRows(runs: SectionRun[]): SummaryRow[] {
  return runs.flatMap((r) => {
    const refs = getExperiment(r.experiment).references;
    if (!refs.length) return summaryRows([{ ...r.series, reported: null, reportedSource: 'no published number' }]);
    return refs.flatMap((ref) => summaryRows([{ ...r.series, reported: ref.value, reportedSource: ref.source }], (rec) => metricOf(rec, ref.metric)));
  });
}

/** One paragraph per seed: seed, profile, backend, final / best accuracies, training time, and where it is stored. */
export function describeRuns(runs: SectionRun[]): string {
  const lines: string[] = [];
  for (const r of runs)
    for (const res of r.results) {
      const h = res.history;
      const last = h[h.length - 1];
      const best = h.reduce((b, e) => (e.valAccuracy > b.valAccuracy ? e : b), h[0]);
      const seconds = h.reduce((s, e) => s + e.seconds, 0);
      lines.push(
        `${r.experiment} · seed ${res.config.seed} · profile ${res.config.profile} · ${res.backend}\n` +
          `    ${h.length} epochs: final train ${pctOf(last.accuracy)}, final val ${pctOf(last.valAccuracy)}, best val ${pctOf(best.valAccuracy)} (epoch ${best.epoch}); ` +
          `${seconds.toFixed(1)} s of training${res.reused ? ' (stored results reused, not retrained)' : `, ${res.wallSeconds.toFixed(1)} s wall in this session`} · ${res.dir}`,
      );
    }
  return lines.join('\n');
}

/** A section run as the figures' RunData (what `loadPredictions` and the report builders read). */
export function sectionRunData(run: SectionRun, profile: string): RunData {
  return {
    experiment: run.experiment,
    profile,
    dir: path.dirname(run.results[0].dir),
    seeds: run.results.map((x) => ({ seed: x.config.seed, dir: x.dir, history: x.history, config: x.config as unknown as Record<string, unknown> })),
  };
}

/**
 * Rows for the segmentation grid: the first `images` test images of each run's predictions.json, interleaved
 * (image 0 of every run, then image 1, …), titled "<run> · <image>". Runs without predictions are listed in
 * `missing` with the reason instead of failing the notebook.
 */
export function segmentationSamples(runs: SectionRun[], profile: string, images: number): { rows: SegmentationSample[]; classNames?: string[]; missing: string[] } {
  const missing: string[] = [];
  const preds = runs.map((r) => {
    try {
      return loadPredictions(sectionRunData(r, profile));
    } catch (e) {
      missing.push(`${r.experiment}: ${(e as Error).message}`);
      return null;
    }
  });
  const rows: SegmentationSample[] = [];
  let classNames: string[] | undefined;
  for (let i = 0; i < images; i++)
    runs.forEach((r, j) => {
      const s = preds[j]?.samples[i];
      if (!s) return;
      classNames = classNames ?? preds[j]!.classNames;
      rows.push({ ...s, title: `${r.experiment.replace(/^pets-unet-/, '')} · ${s.title ?? `test image ${i}`}` });
    });
  return { rows, classNames, missing };
}

// ---------------------------------------------------------------------------------------------------------------
// What every section notebook shows: its claims with the published numbers, the profile's derivation, the verdicts.

const TAG_WORD: Record<string, string> = { paper: 'the paper', report: 'the reproducibility report', reproduction: 'another reproduction', project: 'this project' };

/**
 * The "what is being reproduced" block of a section: its claims (whose, where, the published numbers), each
 * experiment with its published numbers, how the profile was derived from the paper, and the section's caveat.
 */
export function sectionIntro(sectionId: string, profile: string): string {
  const s = sectionOf(sectionId);
  const lines = [`**${s.id} · ${s.title}** (${profile} profile)`, '', '**Claims** tested here:'];
  for (const c of s.claims) lines.push(`* *${c.text}* — ${TAG_WORD[c.tag]} (${c.source})${c.published ? `; published: ${c.published}` : ''}.`);
  if (s.experiments.length) {
    lines.push('', '**Runs**:');
    for (const name of s.experiments) {
      const e = getExperiment(name);
      const refs = e.references.map((r) => `${pctOf(r.value)} ${r.metric === 'accuracy' ? 'train' : 'validation'} (${TAG_WORD[r.tag]}: ${r.source})`);
      lines.push(
        `* \`${name}\`: ${e.title}. ${e.claim}` +
          (refs.length ? ` Published: ${refs.join('; ')}.` : ' No published number.') +
          (e.sameAs ? ` Same config as \`${e.sameAs}\` in the original code: its runs are reused.` : '') +
          (e.note ? ` *${e.note}*` : ''),
      );
    }
    lines.push('', `**How the ${profile} profile is derived** (src/experiments/derive.ts):`, '```', ...s.experiments.filter((n) => !getExperiment(n).sameAs).flatMap((n) => derivationNotes(n, profile)), '```');
    if (profile !== 'paper') {
      const cals = [...new Set(s.experiments.map((n) => getExperiment(n)[profile as 'quick' | 'smoke'].calibration).filter((x): x is string => !!x))];
      for (const c of cals) {
        const cal = calibrationOf(c, profile);
        lines.push(`Calibration of ${c} (notebook 08): ${cal.chosenBy ?? 'none written: factors 1'}.`);
      }
    }
  }
  if (s.caveat) lines.push('', `*${s.caveat}*`);
  return lines.join('\n');
}

/** Final train / validation / test values per seed of a notebook's runs, keyed by experiment (and the one it reuses). */
export function finalsOf(runs: SectionRun[]): FinalValues {
  const out: FinalValues = {};
  for (const r of runs) {
    const hs = r.results.map((x) => x.history);
    const vals = Object.fromEntries((['accuracy', 'valAccuracy', 'testAccuracy'] as const).map((m) => [m, hs.map((h) => finalMetric(h, m)).filter((x) => Number.isFinite(x))]));
    out[r.experiment] = vals;
    const same = getExperiment(r.experiment).sameAs;
    if (same && !out[same]) out[same] = vals;
  }
  return out;
}

/** The verdicts of a section's claims on this notebook's runs, as a Markdown table. */
export function sectionVerdictMarkdown(sectionId: string, runs: SectionRun[], profile: string): string {
  const s = sectionOf(sectionId);
  const finals = finalsOf(runs);
  const verdicts: Verdict[] = s.claims.map((c) => claimVerdict(c, finals));
  const seeds = Math.max(0, ...runs.map((r) => r.results.length));
  return (
    verdictMarkdown(verdicts, profile) +
    `\n\n${seeds} seed(s) per run. consistent / contradicted: the 95 % interval over seeds lies on one side of what the claim says; ` +
    `inconclusive: it straddles it (or fewer than 2 seeds). The test accuracy is the whole test split, scored once after the last epoch.` +
    (profile === 'paper' ? '' : ` These are verdicts at the ${profile} profile's scale, not at the paper's: they say whether the effect shows up in a short, narrow run.`)
  );
}

/** The mean flip ratio (over binary layers and seeds) of a run's final epoch. */
export function finalFlipRatio(run: SectionRun): number {
  const per = run.results.map((x) => {
    const v = Object.values(x.history[x.history.length - 1].flipRatio);
    return v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  });
  return per.reduce((a, b) => a + b, 0) / Math.max(1, per.length);
}

// ---------------------------------------------------------------------------------------------------------------
// Notebook 08: the γ × τ grid (./calibrate) run in the kernel, with progress.

/** Runs (or reuses) every run of a calibration grid in this process and returns the grid (default: Bop's). */
export async function runCalibrationGrid(opts: { profile: string; experiment?: string; seeds?: number[]; holdoutPerClass?: number; verbose?: boolean; train?: boolean }): Promise<GridResult> {
  const experiment = opts.experiment ?? 'cifar10-bop';
  if (opts.train === false) {
    const g = readGrid(opts.profile, undefined, undefined, experiment);
    if (!g) throw new Error(`no calibration grid of ${experiment} stored for the ${opts.profile} profile: run \`npm run calibrate -- --profile ${opts.profile}\` (or set TRAIN_GRID = true)`);
    console.log(g.stored ? `the ${experiment} grid stored with the calibration (src/experiments/calibration.json), ${g.points.length} points; \`npm run calibrate\` retrains it` : `the ${experiment} grid of this machine's calibration runs (${g.points.length} points)`);
    return g;
  }
  const base = planFor(experiment, opts.profile);
  const plan: CalibrationPlan = { ...base, seeds: opts.seeds ?? base.seeds, holdoutPerClass: opts.holdoutPerClass ?? base.holdoutPerClass };
  for (const p of planPoints(plan))
    for (const seed of plan.seeds) {
      const r = await runExperiment({ experiment: plan.experiment, profile: plan.profile, seed, set: p.set, resume: true, log: opts.verbose === false ? null : (l) => console.log(l) });
      console.log(`${factorText(p.factors)}, seed ${seed}: ${r.reused ? 'reused' : `trained in ${r.wallSeconds.toFixed(0)} s`}`);
    }
  const grid = collectGrid(plan);
  saveGrid(grid);
  return grid;
}

const factorText = (f: CalibrationFactors) =>
  Object.entries(f)
    .map(([k, v]) => `${k === 'gamma' ? 'γ' : k === 'tau' ? 'τ' : k} ×${v}`)
    .join(', ');

/** Series of the grid points for the figure builders: held-out accuracy and flips per epoch, one curve per point (those with the given factors), every seed. */
export function gridSeries(grid: GridResult, only: CalibrationFactors = {}): RunSeries[] {
  const keep = (p: GridResult['points'][number]) => (Object.entries(only) as [keyof CalibrationFactors, number][]).every(([k, v]) => p.factors[k] === v);
  return grid.points.filter(keep).map((p) => {
    const histories = p.seeds.map((s) => {
      const run = s.dir ? loadRunDir(s.dir) : null;
      return run ? run.history : (s.history.map((e) => ({ ...e, step: 0, gamma: p.values.gamma ?? null, threshold: p.values.tau ?? null, lr: p.values.lr ?? NaN, seconds: 0 })) as History);
    });
    const vals = Object.entries(p.values)
      .map(([k, v]) => `${k === 'gamma' ? 'γ' : k === 'tau' ? 'τ' : k} ${v!.toExponential(1)}`)
      .join(', ');
    return { label: `${factorText(p.factors)} (${vals})`, optimizer: p.factors.lr !== undefined ? 'adam' : 'bop', histories, seeds: p.seeds.map((s) => s.seed) };
  });
}

/** The grid's choice, what the rule excluded and why, and the calibration the registry uses (they differ until `npm run calibrate` stores the grid). */
export function gridChoiceText(grid: GridResult, profile: string): string {
  const cal = calibrationOf(grid.plan.experiment, profile);
  const lines = [
    `${grid.plan.experiment}: selection rule (fixed in src/experiments/calibrate.ts before the grid ran): ${grid.rule}`,
    ...(grid.plan.exclude ?? []).map((x) => `excluded: ${x.factor} ×${x.equals} — ${x.why}`),
    `chosen on this grid: ${grid.chosen ? `${factorText(grid.chosen.factors)} (${pctOf(grid.chosen.score)} held out)` : 'none finished'}`,
  ];
  if (grid.withoutExclusions) lines.push(`without the exclusion the rule would choose ${factorText(grid.withoutExclusions.factors)} (${pctOf(grid.withoutExclusions.score)} held out)`);
  lines.push(`the registry's calibration for ${profile}: ${Object.keys(cal.factors).length ? factorText(cal.factors) : 'none written: factors 1'}`);
  return lines.join('\n');
}

/** The grid as a Markdown table: settled held-out accuracy per seed and mean, mean flips per step, exclusions, the choice. */
export function gridMarkdown(grid: GridResult): string {
  const head = '| factors | values | held-out accuracy per seed | mean (the score) | mean flips / step | candidate |\n|---|---|---|---:|---:|---|';
  const same = (a: CalibrationFactors, b: CalibrationFactors) => JSON.stringify(a) === JSON.stringify(b);
  const rows = grid.points.map((p) => {
    const chosen = grid.chosen && same(grid.chosen.factors, p.factors);
    const vals = Object.entries(p.values)
      .map(([k, v]) => `${k === 'gamma' ? 'γ' : k === 'tau' ? 'τ' : k} ${v!.toExponential(2)}`)
      .join(', ');
    return `| ${factorText(p.factors)} | ${vals} | ${p.seeds.map((s) => `${s.seed}: ${pctOf(s.score)}`).join(', ')} | ${chosen ? '**' : ''}${pctOf(p.score)}${chosen ? '** (chosen)' : ''} | ${meanFlipRatio(p).toExponential(2)} | ${p.excluded ? `excluded: ${p.excluded}` : 'yes'} |`;
  });
  return (
    [head, ...rows].join('\n') +
    `\n\nHeld out: ${grid.plan.holdoutPerClass} images per class of the training split, after the training subset; the test split is never read. Seeds ${grid.plan.seeds.join(', ')}. Rule: ${grid.rule}.`
  );
}

/** The §5.1 verdicts on a grid, as a Markdown table. */
export function gridVerdictMarkdown(grid: GridResult, profile: string): string {
  const s = sectionOf('§5.1');
  const points = grid.points.filter((p) => p.complete);
  return verdictMarkdown(s.claims.map((c) => sensitivityVerdict(c, points)), profile) + '\n\nOne seed per grid point: these verdicts count how many neighbouring points go the claimed way (module src/experiments/verdict.ts), they carry no interval.';
}

/** Every claim of every section, judged on the summary notebook's runs (and the stored γ × τ grid for §5.1). */
export function summaryVerdictMarkdown(runs: SectionRun[], profile: string): string {
  const finals = finalsOf(runs);
  const grid = readGrid(profile);
  const points = grid ? grid.points.filter((p) => p.complete) : [];
  const verdicts = SECTIONS.flatMap((s) => s.claims.map((c) => (c.test.kind === 'sensitivity' ? sensitivityVerdict(c, points) : claimVerdict(c, finals))));
  const count = (w: string) => verdicts.filter((v) => v.verdict === w).length;
  return (
    verdictMarkdown(verdicts, profile) +
    `\n\n${count('consistent')} consistent, ${count('contradicted')} contradicted, ${count('inconclusive')} inconclusive, ${count('not run')} not run (${profile} profile).`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Figures, the comparison with the published numbers, and the section's own numbers.

/** The run of experiment `name` among a notebook's runs; throws naming the runs there are. */
export function runOf(runs: SectionRun[], name: string): SectionRun {
  const r = runs.find((x) => x.experiment === name);
  if (!r) throw new Error(`${name} is not among this notebook's runs (${runs.map((x) => x.experiment).join(', ') || 'none'})`);
  return r;
}

/**
 * Shows one figure of a kind (./figures `curvesFigure`: accuracy, loss, flips, hyperparameters, miou) over the
 * runs, or over those named in `only`; prints "skipped" when there are none (a section whose data is missing).
 */
export function showCurves(runs: SectionRun[], kind: CurveKind, opts: CurveKindOptions & { only?: string[] } = {}): void {
  const { only, ...figOpts } = opts;
  if (!runs.length) {
    console.log(`skipped (${figOpts.title ?? kind}): no runs`);
    return;
  }
  const picked = only ? only.map((n) => runOf(runs, n)) : runs;
  showFigure(curvesFigure(kind, picked.map((r) => r.series), figOpts));
}

/** The runs' final accuracies against every published number (`comparisonRows`), then where and how each run ran (`describeRuns`). */
export function showComparison(runs: SectionRun[], profile: string): void {
  if (!runs.length) {
    console.log('skipped: no runs');
    return;
  }
  showHtml(toHtml(summaryTable(comparisonRows(runs)), `Final accuracy, ${profile} profile, vs the published numbers`));
  console.log(describeRuns(runs));
}

const ppOf = (d: number) => `${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)} pp`;

/** The paper's published final validation accuracy of an experiment (catalog `references`, tag paper). */
function paperValue(name: string): number {
  const r = getExperiment(name).references.find((x) => x.tag === 'paper' && x.metric === 'valAccuracy');
  if (!r) throw new Error(`${name}: the catalog has no paper number`);
  return r.value;
}

/** Mean over seeds of the last epoch's `extra[key]` (e.g. valMiou of a UNet); NaN when a seed lacks it. */
export function finalExtraMean(run: SectionRun, key: string): number {
  return run.results.reduce((s, x) => s + (x.history[x.history.length - 1].extra?.[key] ?? NaN), 0) / run.results.length;
}

/** The Adam learning rate of the first seed's last epoch. */
export function finalLr(run: SectionRun): number {
  const h = run.results[0].history;
  return h[h.length - 1].lr;
}

export interface FindingsExtra {
  /** §4.5: the UNets' sizes (`unetSizes`), to set pixel accuracy against bits. */
  sizes?: UnetSizeRow[];
}

type Findings = (runs: SectionRun[], profile: string, extra: FindingsExtra) => string[];

/**
 * The numbers each section's text talks about, computed from this notebook's runs (means over seeds of the last
 * epoch's value; differences in percentage points). The claims themselves are judged by `sectionVerdictMarkdown`.
 */
const FINDINGS: Record<string, Findings> = {
  // The paper's claim is a difference: Bop above the latent-weight baseline (+0.4 pp in the paper).
  '§3.1': (runs, profile) => {
    const here = finalMean(runOf(runs, 'cifar10-bop')) - finalMean(runOf(runs, 'cifar10-adam-baseline'));
    const paper = paperValue('cifar10-bop') - paperValue('cifar10-adam-baseline');
    return [
      `Bop − Adam baseline, final validation accuracy (mean over seeds): ${ppOf(here)} here (${profile}) vs ${ppOf(paper)} in the paper.`,
      `Same sign as the paper: ${Math.sign(here) === Math.sign(paper) ? 'yes' : 'no'}` + (profile === 'paper' ? '' : ` (the ${profile} profile is far too small for this to be evidence either way).`),
    ];
  },
  // The BN betas' Adam learning rate constant (the original code) against decayed with γ.
  '§4.1': (runs, profile) => {
    const constant = runOf(runs, 'cifar10-bop-constant-lr');
    const decayed = runOf(runs, 'cifar10-bop-lr-decay');
    return [
      `Adam lr at the end: ${finalLr(constant).toExponential(1)} (constant) vs ${finalLr(decayed).toExponential(1)} (decayed)`,
      `constant − decayed lr, final validation accuracy: ${ppOf(finalMean(constant) - finalMean(decayed))}; final training accuracy: ${ppOf(finalMean(constant, 'accuracy') - finalMean(decayed, 'accuracy'))}`,
      `The original (constant lr) against the paper's ${pctOf(paperValue('cifar10-bop'))}: ${ppOf(finalMean(constant) - paperValue('cifar10-bop'))} (${profile} profile).`,
    ];
  },
  // Overfitting = training above validation accuracy; dropout should shrink that gap.
  '§4.2': (runs, profile) => {
    const gap = (r: SectionRun) => finalMean(r, 'accuracy') - finalMean(r);
    const plain = runOf(runs, 'cifar10-bop');
    const drop = runOf(runs, 'cifar10-bop-dropout');
    return [
      ...runs.map((r) => `${r.experiment}: train − val accuracy at the end ${ppOf(gap(r))}`),
      `dropout − no dropout, final validation accuracy: ${ppOf(finalMean(drop) - finalMean(plain))}`,
      `gap shrinks with dropout: ${gap(drop) < gap(plain) ? 'yes' : 'no'} (${profile} profile)`,
    ];
  },
  // Flip ratio of the final epoch (mean over layers and seeds) and the paper's metric of it, πₜ = ln(ratio + e⁻⁹).
  '§4.3': (runs, profile) => {
    const decayed = runOf(runs, 'cifar10-bop');
    const constant = runOf(runs, 'cifar10-bop-constant-gamma');
    return [
      ...[decayed, constant].map((r) => `${r.experiment}: final-epoch flip ratio ${finalFlipRatio(r).toExponential(2)} (π = ${flipMetric(finalFlipRatio(r)).toFixed(2)}), final val ${pctOf(finalMean(r))}`),
      `flips die out only with decayed γ: ${finalFlipRatio(constant) > finalFlipRatio(decayed) ? 'yes, constant γ still flips more' : 'no'}; ` +
        `constant − decayed γ, final val accuracy: ${ppOf(finalMean(constant) - finalMean(decayed))} (${profile} profile)`,
    ];
  },
  '§4.4': (runs, profile) => [
    `Bop − Adam baseline on SVHN, final validation accuracy (mean over seeds): ${ppOf(finalMean(runOf(runs, 'svhn-bop')) - finalMean(runOf(runs, 'svhn-adam-baseline')))} (${profile} profile)`,
  ],
  // Test pixel accuracy and mIoU per UNet, and what binarizing buys in bits.
  '§4.5': (runs, profile, extra) => {
    const bits = Object.fromEntries((extra.sizes ?? []).map((r) => [r.experiment, r.bits]));
    const fp = runOf(runs, 'pets-unet-fp-adam');
    const bop = runOf(runs, 'pets-unet-binary-bop');
    const lat = runOf(runs, 'pets-unet-binary-adam');
    const bitsText = (name: string) => (bits[name] ? `, ${bits[name].toLocaleString('en')} bits` : '');
    return [
      ...runs.map((r) => `${r.experiment}: final test pixel accuracy ${pctOf(finalMean(r))}, test mIoU ${pctOf(finalExtraMean(r, 'valMiou'))}${bitsText(r.experiment)}`),
      `binarized (Bop) vs full precision: ${ppOf(finalMean(bop) - finalMean(fp))} pixel accuracy` + (bits[fp.experiment] && bits[bop.experiment] ? ` at ${(bits[fp.experiment] / bits[bop.experiment]).toFixed(1)}× fewer bits` : ''),
      `Bop vs latent-weight Adam (both binarized): ${ppOf(finalMean(bop) - finalMean(lat))} pixel accuracy, ${ppOf(finalExtraMean(bop, 'valMiou') - finalExtraMean(lat, 'valMiou'))} mIoU (${profile} profile)`,
    ];
  },
};

/** The numbers a section's text talks about, on this notebook's runs (one line each); "skipped" without runs. */
export function sectionFindings(sectionId: string, runs: SectionRun[], profile: string, extra: FindingsExtra = {}): string {
  const s = sectionOf(sectionId);
  const f = FINDINGS[s.id];
  if (!f) throw new Error(`no findings for ${s.id}; sections with findings: ${Object.keys(FINDINGS).join(', ')}`);
  if (!runs.length) return 'skipped: no runs';
  return f(runs, profile, extra).join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// §4.5: the UNets' sizes and predictions.

/** Model sizes of the section's trained UNets (first seed's final model) beside the paper-size architecture (./unet). */
export function unetSizes(runs: SectionRun[]): Promise<UnetSizeRow[]> {
  return unetSizeTable(runs.map((r) => ({ experiment: r.experiment, dir: r.results[0].dir })));
}

/**
 * The segmentation grid of the first `images` test images of each run's predictions.json, as HTML (the figure's
 * pixel arrays in the Plotly MIME output would be pretty-printed one number per line in the saved notebook);
 * runs without predictions are listed instead.
 */
export function showSegmentationSamples(runs: SectionRun[], profile: string, images: number): void {
  const grid = segmentationSamples(runs, profile, images);
  for (const m of grid.missing) console.log(`no predictions: ${m}`);
  if (!grid.rows.length) {
    console.log('no predictions.json in these runs: nothing to show');
    return;
  }
  const fig = segmentationGrid(grid.rows, { title: `Test images, trimaps and predicted masks (${profile})`, classNames: grid.classNames, cell: 150 });
  showHtml(figureHtml(fig), figureText(fig));
}

// ---------------------------------------------------------------------------------------------------------------
// The summary notebook.

/**
 * The experiments the summary trains or reuses: `requested`, or every catalog experiment but its named variants;
 * one that reuses another's runs (`sameAs`) is summarized as that one, one whose data is missing is left out.
 * Prints why each left-out experiment is.
 */
export function summaryExperiments(requested?: string[], log: (line: string) => void = console.log): string[] {
  const out: string[] = [];
  for (const name of requested ?? experimentNames().filter((n) => !getExperiment(n).optional)) {
    const e = getExperiment(name);
    const missing = missingData([name]);
    if (e.sameAs) log(`${name}: same config as ${e.sameAs} in the original code; summarized as ${e.sameAs}`);
    else if (missing.length) log(`${name}: left out, ${missing[0].dataset.toUpperCase()} is not in ${path.dirname(missing[0].files[0])} (\`npm run data -- ${missing[0].dataset}\`)`);
    else out.push(name);
  }
  return out;
}

/** Summary rows labelled "<section> <experiment>": one per run and published number (a run without one: one row, no number). */
export function summaryTableRows(runs: SectionRun[]): SummaryRow[] {
  return runs.flatMap((r) => {
    const refs = getExperiment(r.experiment).references;
    const series = { ...r.series, label: `${getExperiment(r.experiment).section} ${r.experiment}` };
    if (!refs.length) return summaryRows([{ ...series, reported: null, reportedSource: '' }]);
    return refs.flatMap((ref) => summaryRows([{ ...series, reported: ref.value, reportedSource: ref.source }], (rec) => metricOf(rec, ref.metric)));
  });
}

/** Shows the summary table (final accuracy, mean / min / max over seeds, vs every published number) and returns it. */
export function showSummaryTable(runs: SectionRun[], profile: string): SummaryTableRow[] {
  const table = summaryTable(summaryTableRows(runs));
  showHtml(toHtml(table, `Final accuracy (${profile} profile, mean / min / max over seeds) vs published`));
  return table;
}

/** One marker per run (mean, min–max over seeds) with its first published number as an open diamond. */
export function showSummaryFigure(runs: SectionRun[], profile: string): void {
  const rows = runs.map((r) => {
    const ref = getExperiment(r.experiment).references[0];
    return summaryRows([{ ...r.series, label: r.experiment, reported: ref ? ref.value : null, reportedSource: ref?.source }], (rec) => (ref ? metricOf(rec, ref.metric) : rec.valAccuracy))[0];
  });
  showFigure(summaryFigure(rows, { title: `Final accuracy, ${profile} profile, vs reported`, yTitle: 'Final val / test (pixel) accuracy' }));
}

/** Computed, not quoted: how far each run with a published number is from it, and the largest gap. */
export function publishedGapText(table: SummaryTableRow[], profile: string): string {
  const withRef = table.filter((t) => t.delta !== null);
  const lines = withRef.map((t) => `${t.run}: ${t.mean} % vs ${t.reported} % (${t.source}): ${t.delta! >= 0 ? '+' : ''}${t.delta} pp`);
  if (withRef.length) lines.push(`largest gap: ${Math.max(...withRef.map((t) => Math.abs(t.delta!))).toFixed(2)} pp on the ${profile} profile`);
  return lines.join('\n') || 'no run with a published number';
}

/**
 * The final `cifar10-bop` model (first seed) run as float tfjs and as packed XNOR-popcount (src/inference) on the
 * first `images` test images: a Markdown table (accuracy, agreement, size, speed) and the float-vs-packed figure.
 */
export async function showPackedInference(runs: SectionRun[], profile: string, opts: { images: number; threads: number }): Promise<void> {
  const bopRun = runs.find((r) => r.experiment === 'cifar10-bop');
  if (!bopRun) {
    console.log('skipped: cifar10-bop is not among the summarized runs');
    return;
  }
  const { packedSummary, summaryEngines, summaryMarkdown } = await import('../inference');
  const { loadModel } = await import('../models/io');
  const res = bopRun.results[0];
  const ds = await loadCifar10({ subset: { test: res.config.testPerClass ?? undefined } });
  const n = Math.min(opts.images, ds.test.n);
  const { x, y } = classificationSource(ds.test).batch(Int32Array.from({ length: n }, (_, i) => i), null);
  const model = await loadModel(path.join(res.dir, 'final'));
  try {
    const s = await packedSummary(model, { images: x as tf.Tensor4D, labels: y }, { threads: opts.threads });
    const lastVal = res.history[res.history.length - 1].valAccuracy;
    showMarkdown(
      summaryMarkdown(s, `cifar10-bop seed ${res.config.seed} (${profile})`) +
        (n === ds.test.n ? ` The float accuracy on these images should equal the run's final validation accuracy: ${pctOf(lastVal)}.` : ` (First ${n} of the ${ds.test.n} test images.)`),
    );
    showFigure(inferenceComparison(summaryEngines(s), { title: `Float vs packed XNOR inference, cifar10-bop (${profile})` }));
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Notebook 00: the live chart, replayed.

/** Replays a run's first history into a live accuracy chart, one epoch every `delayMs` (what training loops do per epoch). */
export async function replayLive(run: RunSeries, delayMs = 50): Promise<void> {
  const chart = liveChart();
  const seen: History = [];
  for (const rec of run.histories[0]) {
    seen.push(rec);
    chart.update(accuracyCurves([{ label: `${run.label} (replay)`, optimizer: run.optimizer, histories: [seen] }], { title: `Live: epoch ${rec.epoch}` }));
    await new Promise((r) => setTimeout(r, delayMs));
  }
}
