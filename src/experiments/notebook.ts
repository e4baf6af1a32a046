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
import type { Figure, RunSeries, Trace } from '../figures/types';
import { axisStyle, baseLayout, PALETTE, PLOT_CONFIG } from '../figures/style';
import type { History } from '../train/history';
import { metricOf } from '../results/metrics';
import { loadRunDir, resultsRoot } from '../results';
import { finalMetric } from '../results/metrics';
import { runState } from '../results/state';
import { PROFILES, SECTIONS, sectionOf, type Claim } from './catalog';
import { collectGrid, planFor, planPoints, readGrid, saveGrid, type CalibrationPlan, type GridResult } from './calibrate';
import { curvesFigure, type CurveKind, type CurveKindOptions } from './figures';
import { calibrationOf, derivationNotes, experimentNames, getExperiment, Profile, profileConfig, trainExamples, type CalibrationFactors, type Sizing } from './registry';
import { collectResults, finalsFromRuns, verdictMarkdown } from './report';
import { configHash, resolveConfig, runDir, runExperiment, RunResult } from './run';
import { gammaPhases } from './derive';
import { mechanismFigure, mechanismMarkdown, mechanismRows } from './mechanism';
import { unetSizeTable, type UnetSizeRow } from './unet';
import { meanFlipRatio, profileVerdicts, type FinalValues, type Verdict } from './verdict';

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
  const log = opts.log ?? console.log;
  const all = section === null ? [] : [...sectionOf(section).experiments];
  // a named variant (catalog `optional`) is shown when it has finished runs of this config, and never trained here
  const variants = all.filter((n) => getExperiment(n).optional);
  const shown = variants.filter((n) => hasFinishedRuns(n, PROFILE, opts.seeds, opts.overrides));
  const EXPERIMENTS = all.filter((n) => !variants.includes(n) || shown.includes(n));
  const seeds = opts.seeds ? opts.seeds.join(', ') : '(registry default)';
  const overrides = opts.overrides?.length ? opts.overrides.join(' ') : '(none)';
  log(`profile ${PROFILE}, seeds ${seeds}, overrides ${overrides}${section === null ? '' : `, section ${section}: ${EXPERIMENTS.join(', ') || 'no runs of its own'}`}`);
  for (const n of variants)
    log(
      shown.includes(n)
        ? `${n}: a named variant with finished runs on ${PROFILE}; shown here`
        : `${n}: a named variant without finished runs on ${PROFILE}; left out (\`npm run experiment -- ${n} --profile ${PROFILE}\` runs it, then it is shown here)`,
    );
  return { PROFILE, EXPERIMENTS };
}

/** True when every seed of `name` (default: the catalog's for the profile) has finished results of the config it would run with now. */
export function hasFinishedRuns(name: string, profile: string, seeds?: number[], set: string[] = [], root = resultsRoot()): boolean {
  const list = seeds ?? getExperiment(name).seeds[profile as Profile] ?? [0];
  return (
    list.length > 0 &&
    list.every((seed) => {
      const c = resolveConfig(name, profile, seed, set);
      return runState(runDir(c, set, root), { configHash: configHash(c), epochs: c.epochs }).kind === 'finished';
    })
  );
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
    if (!refs.length) return summaryRows([{ ...r.series, reported: null, reportedSource: 'no published number' }], (rec) => metricOf(rec, 'testAccuracy'));
    return refs.flatMap((ref) => summaryRows([{ ...r.series, reported: ref.value, reportedSource: ref.source }], (rec) => metricOf(rec, measuredMetric(ref.metric))));
  });
}

/**
 * What a published number is compared with: a published final validation accuracy (the test split, in the paper's
 * and the report's code) with the run's final score, the settled accuracy on the whole test split; a train
 * accuracy with the last epoch's.
 */
export function measuredMetric(published: 'valAccuracy' | 'accuracy' | 'testAccuracy'): 'testAccuracy' | 'accuracy' {
  return published === 'accuracy' ? 'accuracy' : 'testAccuracy';
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
      const test = last.extra?.testAccuracy;
      const raw = last.extra?.testAccuracyRaw;
      lines.push(
        `${r.experiment} · seed ${res.config.seed} · profile ${res.config.profile} · ${res.backend}\n` +
          `    ${h.length} epochs: final train ${pctOf(last.accuracy)}, final val ${pctOf(last.valAccuracy)}, best val ${pctOf(best.valAccuracy)} (epoch ${best.epoch}); ` +
          (typeof test === 'number' ? `test ${pctOf(test)} settled${typeof raw === 'number' ? ` (raw ${pctOf(raw)})` : ''}; ` : '') +
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

/** A γ·T value for prose: three significant digits, exponent notation below 1e-3. */
const gt = (x: number) => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(1) : String(Number(x.toPrecision(3))));

/** γ·T of every phase of an experiment's γ schedule over the paper's whole run, on the catalog's paper steps per epoch. */
export function paperGammaT(name: string): number[] {
  const e = getExperiment(name);
  return e.paper.gamma ? gammaPhases(e.paper.gamma, e.paper.epochs * e.paperStepsPerEpoch, e.paperStepsPerEpoch).map((p) => p.gammaT) : [];
}

const DATASET_WORD: Record<string, string> = { cifar10: 'CIFAR-10', svhn: 'SVHN', pets: 'Oxford-IIIT Pet' };
const MODEL_WORD: Record<string, string> = { binarynet: 'BinaryNet', unet: 'UNet' };

/** A width as a fraction when it is one (0.125 → "1/8"), else its decimal. */
export function widthText(w: number): string {
  const inv = 1 / w;
  return w === 1 ? 'full width' : Math.abs(inv - Math.round(inv)) < 1e-9 ? `1/${Math.round(inv)} width` : `width ${w}`;
}

/**
 * The scale of a profile, as prose from the catalog and the registry (never typed in a notebook): per group of the
 * experiments (a list; a section's or, for null, the catalog's, named variants left out) with the same sizing, the model,
 * width, training images, epochs, batch, steps, what is validated every epoch, the final score and the seeds; then
 * γ·T per phase (and τ against the noise of m) of every Bop run, as its config records them.
 */
export function scaleMarkdown(of: string | string[] | null, profile: string): string {
  const picked = of === null ? experimentNames().filter((n) => !getExperiment(n).optional) : Array.isArray(of) ? of : sectionOf(of).experiments.filter((n) => !getExperiment(n).optional);
  const names = picked.filter((n) => !getExperiment(n).sameAs);
  if (!names.length) return `No runs of its own on the ${profile} profile.`;
  const n = (x: number) => x.toLocaleString('en');
  const groups = new Map<string, string[]>();
  const lineOf = new Map<string, string>();
  for (const name of names) {
    const e = getExperiment(name);
    const c = profileConfig(name, profile, (e.seeds[profile as Profile] ?? [0])[0]);
    const d = c.derivation!;
    const seeds = e.seeds[profile as Profile] ?? [0];
    const train = trainExamples(e, profile === 'paper' ? (c as unknown as Sizing) : e[profile as 'quick' | 'smoke']);
    const ds = DATASET_WORD[c.dataset] ?? c.dataset;
    const images = c.trainPerClass != null ? `${n(c.trainPerClass)} training images per class (${n(train)})` : `${n(train)} training images${c.dataset === 'pets' ? ' (the Pets copy found)' : ''}`;
    const val =
      c.dataset === 'pets'
        ? 'the test images scored every epoch'
        : c.testPerClass != null
          ? `validated every epoch on ${n(c.testPerClass)} ${c.dataset === 'svhn' ? '`extra`' : 'test'} images per class`
          : `validated every epoch on the whole ${c.dataset === 'svhn' ? '`extra` sample' : 'test split'}`;
    const line =
      `${MODEL_WORD[c.model] ?? c.model} at ${widthText(c.width)} on ${ds}${c.model === 'unet' ? ` at ${c.imageSize}×${c.imageSize}` : ''}, ${images}, ` +
      `${c.epochs} epochs of batch ${c.batchSize} = ${n(d.runSteps)} steps; ${val}; the final score on the whole test split after the last epoch, BN statistics settled first; ` +
      `${seeds.length} seed${seeds.length === 1 ? '' : 's'} (${seeds.join(', ')})`;
    groups.set(line, [...(groups.get(line) ?? []), name]);
    lineOf.set(name, line);
  }
  const out = [`**Scale of the \`${profile}\` profile** (from the catalog and the registry):`, ''];
  for (const [line, members] of groups) out.push(`* ${members.map((m) => `\`${m}\``).join(', ')}: ${line}.`);
  const bop = names.filter((m) => getExperiment(m).paper.gamma);
  if (bop.length) {
    out.push('', 'γ·T per γ phase (time constants of *m*) and τ against the noise of *m*, as each config records them:', '');
    for (const m of bop) {
      const d = profileConfig(m, profile, 0).derivation!;
      out.push(
        `* \`${m}\`: γ·T ${d.gammaT.map(gt).join(', ')} (the paper's run: ${paperGammaT(m).map(gt).join(', ')}); ` +
          `covers ${n(d.paperStepsCovered)} of the paper's ${n(d.paperStepsTotal)} steps` +
          (d.tauRelative != null ? `; τ/σ_m ${Number(d.tauRelative.toPrecision(3))}× the paper's` : ''),
      );
    }
  }
  out.push(
    '',
    profile === 'paper'
      ? 'This is the original setting: the published numbers are comparable.'
      : profile === 'smoke'
        ? '`smoke` runs in seconds at chance level: it checks that everything runs, nothing more.'
        : `Only \`paper\` is the original setting; on \`${profile}\` the verdicts say whether each claimed *effect* shows up at this scale.`,
  );
  return out.join('\n');
}

/**
 * What each run's config records about its regime (`derivation`): steps, the part of the paper's run it covers, γ·T
 * per γ phase against the paper's, τ against the noise of m — for the named runs (default: all), one line each.
 */
export function regimeText(runs: SectionRun[], only?: string[]): string {
  const n = (x: number) => x.toLocaleString('en');
  const picked = only ? only.map((m) => runOf(runs, m)) : runs;
  if (!picked.length) return 'skipped: no runs';
  return picked
    .map((r) => {
      const c = r.results[0].config;
      const d = c.derivation;
      if (!d) return `${r.experiment}: no derivation recorded (a run of an older version)`;
      const share = (d.paperStepsCovered / d.paperStepsTotal) * 100;
      return (
        `${r.experiment}: ${n(d.runSteps)} steps (${d.stepsPerEpoch} per epoch) cover ${n(d.paperStepsCovered)} of the paper's ${n(d.paperStepsTotal)} steps (${share >= 10 ? share.toFixed(0) : share.toPrecision(2)} %)` +
        (d.gammaT.length ? `; γ·T per phase ${d.gammaT.map(gt).join(', ')} (total ${gt(d.gammaT.reduce((a, b) => a + b, 0))}; the paper's run: ${paperGammaT(r.experiment).map(gt).join(', ')})` : '') +
        (d.tauRelative != null ? `; τ ${c.threshold!.toExponential(2)}, τ/σ_m ${Number(d.tauRelative.toPrecision(3))}× the paper's` : '')
      );
    })
    .join('\n');
}

/** One γ phase of a run as its history records it: the epochs that started with that γ, and their flips. */
export interface FlipPhase {
  gamma: number;
  epochs: [number, number];
  /** Mean flip ratio per step over the phase's epochs, binary layers and seeds. */
  flipRatio: number;
}

/**
 * The flip ratio per γ phase of a Bop run (epochs grouped by the γ they started with, mean over layers and seeds),
 * and whether it falls after every decay. A decay inside an epoch counts from the next epoch on.
 */
export function flipPhases(run: SectionRun): { phases: FlipPhase[]; fallsAfterEachDecay: boolean } {
  const h0 = run.results[0].history;
  const phases: FlipPhase[] = [];
  for (const rec of h0) {
    const last = phases[phases.length - 1];
    if (rec.gamma === null) continue;
    if (last && last.gamma === rec.gamma) last.epochs[1] = rec.epoch;
    else phases.push({ gamma: rec.gamma, epochs: [rec.epoch, rec.epoch], flipRatio: NaN });
  }
  const perEpoch = (rec: History[number]) => {
    const v = Object.values(rec.flipRatio);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
  };
  for (const p of phases) {
    const xs = run.results.flatMap((x) => x.history.filter((r) => r.epoch >= p.epochs[0] && r.epoch <= p.epochs[1]).map(perEpoch));
    p.flipRatio = xs.reduce((a, b) => a + b, 0) / xs.length;
  }
  return { phases, fallsAfterEachDecay: phases.length > 1 && phases.every((p, i) => i === 0 || p.flipRatio < phases[i - 1].flipRatio) };
}

/** `flipPhases` of the named Bop run as text: one line per phase, then whether flips fall after every γ decay. */
export function flipPhaseText(runs: SectionRun[], name: string): string {
  if (!runs.length) return 'skipped: no runs';
  const { phases, fallsAfterEachDecay } = flipPhases(runOf(runs, name));
  if (!phases.length) return `${name}: no γ recorded (not a Bop run)`;
  return [
    ...phases.map((p) => `${name}, γ ${p.gamma.toExponential(2)} (epochs ${p.epochs[0]}–${p.epochs[1]}): mean flip ratio ${p.flipRatio.toExponential(2)} per step (π = ${flipMetric(p.flipRatio).toFixed(2)})`),
    phases.length > 1 ? `flips fall after every γ decay: ${fallsAfterEachDecay ? 'yes' : 'no'}` : 'one γ phase in the recorded epochs: no decay to compare',
  ].join('\n');
}

/** Final train / validation / test values (and the raw test score) per seed of a notebook's runs, by experiment (and the one it reuses). */
export function finalsOf(runs: SectionRun[]): FinalValues {
  return finalsFromRuns(
    runs.flatMap((r) => {
      const same = getExperiment(r.experiment).sameAs;
      return r.results.flatMap((x) => [r.experiment, ...(same ? [same] : [])].map((experiment) => ({ experiment, seed: x.config.seed, history: x.history })));
    }),
  );
}

/**
 * The verdicts of `claims` with this notebook's runs in place of the stored results of the same experiments: every
 * claim of the catalog is judged as one family (Holm over the profile, ./verdict `profileVerdicts`, as `npm start`
 * does), the regimes from the runs' configs, the §5.1 claims on the stored grid; the claims asked for are returned.
 */
export function notebookVerdicts(claims: Claim[], runs: SectionRun[], profile: string, root = resultsRoot()): Verdict[] {
  const stored = collectResults(profile, root);
  const finals = { ...stored.finals, ...finalsOf(runs) };
  const configs = { ...stored.configs };
  for (const r of runs) {
    configs[r.experiment] = r.results.map((x) => x.config);
    const same = getExperiment(r.experiment).sameAs;
    if (same) configs[same] = configs[r.experiment];
  }
  const grid = readGrid(profile, root);
  const all = SECTIONS.flatMap((s) => s.claims);
  const wanted = new Set(claims.map((c) => c.id));
  return profileVerdicts(all, finals, { grid: grid ? grid.points.filter((p) => p.complete) : [], configs, profile }).filter((v) => wanted.has(v.claim.id));
}

/** The verdicts of a section's claims on this notebook's runs (`notebookVerdicts`), as a Markdown table with its notes. */
export function sectionVerdictMarkdown(sectionId: string, runs: SectionRun[], profile: string): string {
  const s = sectionOf(sectionId);
  const verdicts = notebookVerdicts(s.claims, runs, profile);
  const seeds = [...new Set(runs.map((r) => r.results.length))].sort((a, b) => a - b);
  return (
    verdictMarkdown(verdicts, profile) +
    `\n\n${seeds.length ? `${seeds.join(' to ')} seed(s) per run. ` : ''}The test accuracy is the whole test split, scored once after the last epoch with BN statistics settled on the training set.` +
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

/**
 * Runs (or reuses) every run of a calibration grid in this process and returns the grid (default: Bop's). The plan is
 * the one `npm run calibrate` runs (./calibrate `PLANS`: its axes, seeds, held-out split, exclusions and selection
 * rule); `axes` and `seeds` may shrink it (a notebook on smoke). With `train: false`, the grid `npm run calibrate`
 * stored (this machine's, else the one in src/experiments/calibration.json).
 */
export async function runCalibrationGrid(opts: {
  profile: string;
  experiment?: string;
  seeds?: number[];
  axes?: CalibrationPlan['axes'];
  holdoutPerClass?: number;
  verbose?: boolean;
  train?: boolean;
}): Promise<GridResult> {
  const experiment = opts.experiment ?? 'cifar10-bop';
  if (opts.train === false) {
    const g = readGrid(opts.profile, undefined, undefined, experiment);
    if (!g) throw new Error(`no calibration grid of ${experiment} stored for the ${opts.profile} profile: run \`npm run calibrate -- --profile ${opts.profile}\` (or set TRAIN_GRID = true)`);
    console.log(g.stored ? `the ${experiment} grid stored with the calibration (src/experiments/calibration.json), ${g.points.length} points; \`npm run calibrate\` retrains it` : `the ${experiment} grid of this machine's calibration runs (${g.points.length} points)`);
    return g;
  }
  const base = planFor(experiment, opts.profile);
  for (const k of Object.keys(opts.axes ?? {})) if (!(k in base.axes)) throw new Error(`runCalibrationGrid: ${experiment}'s grid has no ${k} axis (its axes: ${Object.keys(base.axes).join(', ')})`);
  const plan: CalibrationPlan = { ...base, axes: { ...base.axes, ...(opts.axes ?? {}) }, seeds: opts.seeds ?? base.seeds, holdoutPerClass: opts.holdoutPerClass ?? base.holdoutPerClass };
  for (const p of planPoints(plan))
    for (const seed of plan.seeds) {
      const r = await runExperiment({ experiment: plan.experiment, profile: plan.profile, seed, set: p.set, resume: true, log: opts.verbose === false ? null : (l) => console.log(l) });
      console.log(`${experiment}: ${factorText(p.factors)}, seed ${seed}: ${r.reused ? 'reused' : `trained in ${r.wallSeconds.toFixed(0)} s`}`);
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

/** The §5.1 verdicts on a grid, as a Markdown table: the count rules on its points, a claim whose regime the runs do not reach not testable. */
export function gridVerdictMarkdown(grid: GridResult, profile: string, root = resultsRoot()): string {
  const s = sectionOf('§5.1');
  const points = grid.points.filter((p) => p.complete);
  const k = grid.plan.seeds.length;
  // judged as `npm start` judges them (regimes included), on this grid
  const { finals, configs } = collectResults(profile, root);
  const verdicts = profileVerdicts(SECTIONS.flatMap((x) => x.claims), finals, { grid: points, configs, profile }).filter((v) => s.claims.some((c) => c.id === v.claim.id));
  return (
    verdictMarkdown(verdicts, profile) +
    `\n\n${k} seed${k === 1 ? '' : 's'} per grid point (${grid.plan.seeds.join(', ')}), curves and flips averaged over them: these verdicts count how many neighbouring points go the claimed way (src/experiments/verdict.ts), they carry no interval.`
  );
}

/**
 * The score of every grid point against one factor (the others at `at`): each seed's settled held-out accuracy and
 * their mean, excluded points drawn open, the chosen point ringed. The baseline's learning-rate grid, or one line
 * of Bop's γ × τ grid.
 */
export function gridScoreFigure(grid: GridResult, factor: keyof CalibrationFactors, opts: { at?: CalibrationFactors; title?: string } = {}): Figure {
  const at = opts.at ?? {};
  const keep = grid.points.filter((p) => p.factors[factor] !== undefined && (Object.entries(at) as [keyof CalibrationFactors, number][]).every(([k, v]) => p.factors[k] === v));
  const x = keep.map((p) => p.factors[factor]!);
  const name = factor === 'gamma' ? 'γ' : factor === 'tau' ? 'τ' : 'learning rate';
  const same = (a: CalibrationFactors, b: CalibrationFactors) => JSON.stringify(a) === JSON.stringify(b);
  const seeds = [...new Set(keep.flatMap((p) => p.seeds.map((s) => s.seed)))];
  const data: Trace[] = [
    ...seeds.map((seed, i) => ({
      type: 'scatter',
      mode: 'markers',
      name: `seed ${seed}`,
      x,
      y: keep.map((p) => p.seeds.find((s) => s.seed === seed)?.score ?? null),
      marker: { color: PALETTE[(i + 2) % PALETTE.length], size: 7, symbol: 'circle' },
    })),
    {
      type: 'scatter',
      mode: 'lines+markers',
      name: 'mean (the score)',
      x,
      y: keep.map((p) => (Number.isFinite(p.score) ? p.score : null)),
      line: { color: '#000', width: 2 },
      marker: { color: keep.map((p) => (p.excluded ? '#fff' : '#000')), size: 10, line: { color: '#000', width: 2 } },
      text: keep.map((p) => (p.excluded ? 'excluded by the plan' : 'candidate')),
      hovertemplate: `${name} ×%{x}: %{y:.2%} (%{text})<extra></extra>`,
    },
  ];
  const chosen = keep.find((p) => grid.chosen && same(grid.chosen.factors, p.factors));
  if (chosen) data.push({ type: 'scatter', mode: 'markers', name: 'chosen', x: [chosen.factors[factor]], y: [chosen.score], marker: { color: 'rgba(0,0,0,0)', size: 20, line: { color: PALETTE[0], width: 3 } } });
  const layout = baseLayout(opts.title ?? `${grid.plan.experiment}: held-out score against the ${name} factor`, { hovermode: 'closest' });
  layout.xaxis = axisStyle(`${name} factor (× the derived value)`, factor === 'tau' ? {} : { type: 'log' });
  layout.yaxis = axisStyle('Settled held-out accuracy', { tickformat: '.1%' });
  return { data, layout, config: { ...PLOT_CONFIG } };
}

/** Shows `gridScoreFigure`, or says why there is nothing to draw (no point of the grid varies that factor). */
export function showGridScores(grid: GridResult, factor: keyof CalibrationFactors, opts: { at?: CalibrationFactors; title?: string } = {}): void {
  const fig = gridScoreFigure(grid, factor, opts);
  if (!(fig.data[0]?.x as number[] | undefined)?.length) {
    console.log(`skipped: no point of the ${grid.plan.experiment} grid varies ${factor}${opts.at ? ` at ${factorText(opts.at)}` : ''}`);
    return;
  }
  showFigure(fig);
}

// ---------------------------------------------------------------------------------------------------------------
// Notebook 03: the dropout mechanism, measured (./mechanism).

/**
 * Measures the mechanism the report proposes for §4.2 on this notebook's final models (./mechanism: per BN layer,
 * training-mode statistics with dropout on against the statistics the model tests with; settled − raw test accuracy
 * per arm, paired by seed) and shows the tables and the figure; "skipped" without runs.
 */
export async function showDropoutMechanism(runs: SectionRun[], profile: string, opts: { batches?: number } = {}): Promise<void> {
  if (!runs.length) {
    console.log('skipped: no runs');
    return;
  }
  const rows = await mechanismRows(
    runs.flatMap((r) => r.results.map((x) => ({ experiment: r.experiment, seed: x.config.seed, dir: x.dir, config: x.config, history: x.history }))),
    opts,
  );
  showMarkdown(mechanismMarkdown(rows, profile));
  showFigure(mechanismFigure(rows, { title: `BN statistics, training (dropout on) vs test time, per layer (${profile})` }));
}

/** Every claim of every section, judged on the summary notebook's runs (and the stored γ × τ grid for §5.1), as one family. */
export function summaryVerdictMarkdown(runs: SectionRun[], profile: string): string {
  const verdicts = notebookVerdicts(SECTIONS.flatMap((s) => s.claims), runs, profile);
  const count = (w: string) => verdicts.filter((v) => v.verdict === w).length;
  return (
    verdictMarkdown(verdicts, profile) +
    `\n\n${count('consistent')} consistent, ${count('contradicted')} contradicted, ${count('inconclusive')} inconclusive, ${count('not testable at this scale')} not testable at this scale, ${count('not run')} not run (${profile} profile).`
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
  showHtml(toHtml(summaryTable(comparisonRows(runs)), `Final accuracy, ${profile} profile (test split, settled; train accuracy against published train numbers), vs the published numbers`));
  console.log(describeRuns(runs));
}

const ppOf = (d: number) => (Number.isFinite(d) ? `${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)} pp` : '— (no score)');

/** A published final validation accuracy of an experiment (catalog `references`) by whom: the paper or the report. */
function publishedValue(name: string, tag: 'paper' | 'report', metric: 'valAccuracy' | 'accuracy' = 'valAccuracy'): number {
  const r = getExperiment(name).references.find((x) => x.tag === tag && x.metric === metric);
  if (!r) throw new Error(`${name}: the catalog has no ${tag} number (${metric})`);
  return r.value;
}
const paperValue = (name: string) => publishedValue(name, 'paper');

/** Mean over seeds of the final score: the settled accuracy on the whole test split (`extra.testAccuracy`); NaN when a seed lacks it. */
export function finalScore(run: SectionRun): number {
  return run.results.reduce((s, x) => s + finalMetric(x.history, 'testAccuracy'), 0) / run.results.length;
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

const SCORE = 'final test accuracy (whole test split, BN statistics settled, mean over seeds)';

/**
 * The numbers each section's text talks about, computed from this notebook's runs: final scores are the settled test
 * accuracy (`finalScore`), train − validation gaps use the last epoch, differences are in percentage points; the
 * published numbers come from the catalog. The claims themselves are judged by `sectionVerdictMarkdown`.
 */
const FINDINGS: Record<string, Findings> = {
  // Two comparisons: the paper's (binary weights in both arms), tuned and untuned, and the report's (its baseline
  // keeps real-valued hidden kernels), both at the derived settings.
  '§3.1': (runs, profile) => {
    const score = (n: string) => finalScore(runOf(runs, n));
    const tuned = score('cifar10-bop') - score('cifar10-adam-baseline');
    const paper = paperValue('cifar10-bop') - paperValue('cifar10-adam-baseline');
    const report = publishedValue('cifar10-bop', 'report') - publishedValue('cifar10-report-baseline', 'report');
    return [
      `${SCORE}:`,
      `The paper's comparison, Bop − latent-weight Adam (binary weights in both arms):`,
      `  both tuned by the same calibration: ${ppOf(tuned)} here (${profile}) vs ${ppOf(paper)} in the paper`,
      `  both untuned (the settings the profile derives): ${ppOf(score('cifar10-bop-untuned') - score('cifar10-adam-baseline-untuned'))} here`,
      `The report's comparison, Bop − its code's baseline (binary activations, real-valued hidden kernels), both untuned: ${ppOf(score('cifar10-bop-untuned') - score('cifar10-report-baseline'))} here vs ${ppOf(report)} in the report`,
      `Same sign as the paper (tuned arms): ${Math.sign(tuned) === Math.sign(paper) ? 'yes' : 'no'}` + (profile === 'paper' ? '' : ` (the ${profile} profile is far too small for the sign alone to be evidence; the verdicts below carry the intervals).`),
    ];
  },
  // The BN betas' Adam learning rate constant (the original code, the report's run) against decayed with γ (this project's contrast).
  '§4.1': (runs, profile) => {
    const constant = runOf(runs, 'cifar10-bop-constant-lr');
    const decayed = runOf(runs, 'cifar10-bop-lr-decay');
    const published = publishedValue('cifar10-bop-constant-lr', 'report', 'accuracy') - publishedValue('cifar10-bop-constant-lr', 'report');
    return [
      `Adam lr at the end: ${finalLr(constant).toExponential(1)} (constant) vs ${finalLr(decayed).toExponential(1)} (decayed)`,
      `train − validation accuracy at the end, lr constant: ${ppOf(finalMean(constant, 'accuracy') - finalMean(constant))} here vs ${ppOf(published)} in the report`,
      `constant − decayed lr, ${SCORE}: ${ppOf(finalScore(constant) - finalScore(decayed))}; final training accuracy: ${ppOf(finalMean(constant, 'accuracy') - finalMean(decayed, 'accuracy'))}`,
      `The original (constant lr) against the paper's ${pctOf(paperValue('cifar10-bop'))}: ${ppOf(finalScore(constant) - paperValue('cifar10-bop'))} (${profile} profile).`,
    ];
  },
  // Overfitting = training above validation accuracy; dropout should shrink that gap.
  '§4.2': (runs, profile) => {
    const gap = (r: SectionRun) => finalMean(r, 'accuracy') - finalMean(r);
    const plain = runOf(runs, 'cifar10-bop');
    const drop = runOf(runs, 'cifar10-bop-dropout');
    return [
      ...runs.map((r) => `${r.experiment}: train − val accuracy at the end ${ppOf(gap(r))}`),
      ...runs.filter((r) => r !== plain).map((r) => `${r.experiment} − cifar10-bop, ${SCORE}: ${ppOf(finalScore(r) - finalScore(plain))}`),
      `gap shrinks with dropout: ${gap(drop) < gap(plain) ? 'yes' : 'no'} (${profile} profile)`,
    ];
  },
  // Flip ratio of the final epoch (mean over layers and seeds) and the paper's metric of it, πₜ = ln(ratio + e⁻⁹).
  '§4.3': (runs, profile) => {
    const decayed = runOf(runs, 'cifar10-bop');
    const constant = runOf(runs, 'cifar10-bop-constant-gamma');
    return [
      ...[decayed, constant].map((r) => `${r.experiment}: final-epoch flip ratio ${finalFlipRatio(r).toExponential(2)} (π = ${flipMetric(finalFlipRatio(r)).toFixed(2)}), ${SCORE} ${pctOf(finalScore(r))}`),
      `flips die out only with decayed γ: ${finalFlipRatio(constant) > finalFlipRatio(decayed) ? 'yes, constant γ still flips more' : 'no'}; ` +
        `constant − decayed γ, ${SCORE}: ${ppOf(finalScore(constant) - finalScore(decayed))} (${profile} profile)`,
    ];
  },
  '§4.4': (runs, profile) => {
    const bop = runOf(runs, 'svhn-bop');
    return runs
      .filter((r) => r !== bop)
      .map((r) => `Bop − ${r.experiment} on SVHN, ${SCORE}: ${ppOf(finalScore(bop) - finalScore(r))} (${profile} profile)`);
  },
  // Test pixel accuracy and mIoU per UNet, and what binarizing buys in bits.
  '§4.5': (runs, profile, extra) => {
    const bits = Object.fromEntries((extra.sizes ?? []).map((r) => [r.experiment, r.bits]));
    const fp = runOf(runs, 'pets-unet-fp-adam');
    const bop = runOf(runs, 'pets-unet-binary-bop');
    const lat = runOf(runs, 'pets-unet-binary-adam');
    const bitsText = (name: string) => (bits[name] ? `, ${bits[name].toLocaleString('en')} bits` : '');
    return [
      ...runs.map((r) => `${r.experiment}: final test pixel accuracy ${pctOf(finalScore(r))} (settled), last-epoch test mIoU ${pctOf(finalExtraMean(r, 'valMiou'))}${bitsText(r.experiment)}`),
      `binarized (Bop) vs full precision: ${ppOf(finalScore(bop) - finalScore(fp))} pixel accuracy` + (bits[fp.experiment] && bits[bop.experiment] ? ` at ${(bits[fp.experiment] / bits[bop.experiment]).toFixed(1)}× fewer bits` : ''),
      `Bop vs latent-weight Adam (both binarized): ${ppOf(finalScore(bop) - finalScore(lat))} pixel accuracy, ${ppOf(finalExtraMean(bop, 'valMiou') - finalExtraMean(lat, 'valMiou'))} mIoU (${profile} profile)`,
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

/** Summary rows labelled "<section> <experiment>": one per run and published number (a run without one: one row, no number); the final score as `comparisonRows`. */
export function summaryTableRows(runs: SectionRun[]): SummaryRow[] {
  return runs.flatMap((r) => {
    const refs = getExperiment(r.experiment).references;
    const series = { ...r.series, label: `${getExperiment(r.experiment).section} ${r.experiment}` };
    if (!refs.length) return summaryRows([{ ...series, reported: null, reportedSource: '' }], (rec) => metricOf(rec, 'testAccuracy'));
    return refs.flatMap((ref) => summaryRows([{ ...series, reported: ref.value, reportedSource: ref.source }], (rec) => metricOf(rec, measuredMetric(ref.metric))));
  });
}

/** Shows the summary table (final accuracy, mean / min / max over seeds, vs every published number) and returns it. */
export function showSummaryTable(runs: SectionRun[], profile: string): SummaryTableRow[] {
  const table = summaryTable(summaryTableRows(runs));
  showHtml(toHtml(table, `Final accuracy (${profile} profile, mean / min / max over seeds; test split, settled, against published validation numbers; train against train) vs published`));
  return table;
}

/** One marker per run (mean, min–max over seeds) with its first published number as an open diamond. */
export function showSummaryFigure(runs: SectionRun[], profile: string): void {
  const rows = runs.map((r) => {
    const ref = getExperiment(r.experiment).references[0];
    return summaryRows([{ ...r.series, label: r.experiment, reported: ref ? ref.value : null, reportedSource: ref?.source }], (rec) => metricOf(rec, measuredMetric(ref ? ref.metric : 'testAccuracy')))[0];
  });
  showFigure(summaryFigure(rows, { title: `Final accuracy, ${profile} profile, vs reported`, yTitle: 'Final test (pixel) accuracy, settled' }));
}

/** Computed, not quoted: how far each run with a published number is from it, and the largest gap. */
export function publishedGapText(table: SummaryTableRow[], profile: string): string {
  const withRef = table.filter((t) => t.delta !== null);
  const lines = withRef.map((t) => `${t.run}: ${t.mean} % vs ${t.reported} % (${t.source}): ${t.delta! >= 0 ? '+' : ''}${t.delta} pp`);
  if (withRef.length) lines.push(`largest gap: ${Math.max(...withRef.map((t) => Math.abs(t.delta!))).toFixed(2)} pp on the ${profile} profile`);
  return lines.join('\n') || 'no run with a published number';
}

/**
 * The final `cifar10-bop` model (first seed) on every inference engine this machine has (src/inference's
 * `engineComparison`: float tfjs, float32 oneDNN, packed wasm, packed native), on the first `images` test images: the
 * machine (CPU model and features), a Markdown table (size, ms per image at batch 1 and 50, accuracy) and the
 * engines' figure. `threads`: the float32 oneDNN and packed engines' threads (the float tfjs model uses its backend's).
 */
export async function showPackedInference(runs: SectionRun[], profile: string, opts: { images: number; threads: number }): Promise<void> {
  const bopRun = runs.find((r) => r.experiment === 'cifar10-bop');
  if (!bopRun) {
    console.log('skipped: cifar10-bop is not among the summarized runs');
    return;
  }
  const { engineComparison, comparisonEngines, comparisonMarkdown } = await import('../inference');
  const { loadModel } = await import('../models/io');
  const res = bopRun.results[0];
  const ds = await loadCifar10({ subset: { test: res.config.testPerClass ?? undefined } });
  const n = Math.min(opts.images, ds.test.n);
  const { x, y } = classificationSource(ds.test).batch(Int32Array.from({ length: n }, (_, i) => i), null);
  const model = await loadModel(path.join(res.dir, 'final'));
  try {
    const c = await engineComparison(model, { images: x as tf.Tensor4D, labels: y }, { threads: opts.threads });
    const lastVal = res.history[res.history.length - 1].valAccuracy;
    showMarkdown(
      comparisonMarkdown(c, `cifar10-bop seed ${res.config.seed} (${profile})`) +
        (n === ds.test.n ? ` The float accuracy on these images should equal the run's final validation accuracy: ${pctOf(lastVal)}.` : ` (First ${n} of the ${ds.test.n} test images.)`),
    );
    showFigure(inferenceComparison(comparisonEngines(c), { title: `Float vs packed XNOR inference, cifar10-bop (${profile}), ${c.machine.cpu}` }));
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
