/**
 * What the notebooks call: run (or reuse) the runs of a report section with a live chart, and hand back
 * series for the figure builders. Keeps every notebook to a config cell and a few calls.
 *
 *   const runs = await runSection(['cifar10-adam-baseline', 'cifar10-bop'], { profile: PROFILE });
 *   showFigure(accuracyCurves(runs.map((r) => r.series)));
 */
import * as path from 'path';
import { accuracyCurves, summaryRows, type SegmentationSample, type SummaryRow } from '../figures/builders';
import type { RunData } from '../figures/load';
import { loadPredictions } from '../figures/report';
import { inKernel, liveChart } from '../figures/display';
import type { RunSeries } from '../figures/types';
import type { History } from '../train/history';
import { metricOf } from '../results/metrics';
import { loadRunDir } from '../results';
import { finalMetric } from '../results/metrics';
import { SECTIONS, sectionOf } from './catalog';
import { collectGrid, DEFAULT_PLAN, planPoints, readGrid, saveGrid, type CalibrationPlan, type GridResult } from './calibrate';
import { calibrationOf, derivationNotes, getExperiment, Profile } from './registry';
import { verdictMarkdown } from './report';
import { runExperiment, RunResult } from './run';
import { claimVerdict, meanFlipRatio, sensitivityVerdict, type FinalValues, type Verdict } from './verdict';

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

/** Runs each experiment's seeds (reusing finished results, resuming interrupted runs). */
export async function runSection(experiments: string[], opts: SectionOptions): Promise<SectionRun[]> {
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

const pct = (v: number) => `${(v * 100).toFixed(2)} %`;

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
          `    ${h.length} epochs: final train ${pct(last.accuracy)}, final val ${pct(last.valAccuracy)}, best val ${pct(best.valAccuracy)} (epoch ${best.epoch}); ` +
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

const pctOf = (v: number) => `${(v * 100).toFixed(2)} %`;
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
    const cal = calibrationOf(profile);
    if (profile !== 'paper' && getExperiment(s.experiments[0])[profile as 'quick' | 'smoke'].calibrated) {
      lines.push(`Calibration (notebook 08): γ ×${cal.gammaFactor}, τ ×${cal.tauFactor} of the derived values${cal.chosenBy ? ` — ${cal.chosenBy}` : ' (no calibration written: factors 1)'}.`);
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

/** Runs (or reuses) every point of the calibration grid in this process and returns the stored grid. */
export async function runCalibrationGrid(opts: { profile: string; gammaFactors?: number[]; tauFactors?: number[]; holdoutPerClass?: number; verbose?: boolean; train?: boolean }): Promise<GridResult> {
  if (opts.train === false) {
    const g = readGrid(opts.profile);
    if (!g) throw new Error(`no γ × τ grid stored for the ${opts.profile} profile: run \`npm run calibrate -- --profile ${opts.profile}\` (or set TRAIN_GRID = true)`);
    console.log(g.stored ? `the grid stored with the calibration (src/experiments/calibration.json), ${g.points.length} points; \`npm run calibrate\` retrains it` : `the grid of this machine's calibration runs (${g.points.length} points)`);
    return g;
  }
  const plan: CalibrationPlan = {
    ...DEFAULT_PLAN,
    profile: opts.profile,
    gammaFactors: opts.gammaFactors ?? DEFAULT_PLAN.gammaFactors,
    tauFactors: opts.tauFactors ?? DEFAULT_PLAN.tauFactors,
    holdoutPerClass: opts.holdoutPerClass ?? (opts.profile === 'smoke' ? 5 : DEFAULT_PLAN.holdoutPerClass),
  };
  for (const p of planPoints(plan)) {
    const r = await runExperiment({ experiment: plan.experiment, profile: plan.profile, seed: plan.seed, set: p.set, resume: true, log: opts.verbose === false ? null : (l) => console.log(l) });
    console.log(`γ ×${p.gammaFactor} (${p.gamma.toExponential(2)}), τ ×${p.tauFactor} (${p.tau.toExponential(2)}): ${r.reused ? 'reused' : `trained in ${r.wallSeconds.toFixed(0)} s`}`);
  }
  const grid = collectGrid(plan);
  saveGrid(grid);
  return grid;
}

/** Series of the grid points for the figure builders: held-out accuracy and flips per epoch, one curve per point. */
export function gridSeries(grid: GridResult, filter: (p: GridResult['points'][number]) => boolean = () => true): RunSeries[] {
  return grid.points.filter(filter).map((p) => {
    const run = p.dir ? loadRunDir(p.dir) : null;
    const history = run ? run.history : ((p.history ?? []).map((e) => ({ ...e, step: 0, gamma: p.gamma, threshold: p.tau, lr: NaN, seconds: 0 })) as History);
    return { label: `γ ×${p.gammaFactor} (${p.gamma.toExponential(1)}), τ ×${p.tauFactor} (${p.tau.toExponential(1)})`, optimizer: 'bop', histories: [history], seeds: [grid.plan.seed] };
  });
}

/** The grid as a Markdown table: held-out accuracy, mean flips per step, the chosen point. */
export function gridMarkdown(grid: GridResult): string {
  const head = '| γ factor | γ | τ factor | τ | held-out accuracy (mean of last 2 epochs) | best epoch | mean flips / step |\n|---:|---:|---:|---:|---:|---:|---:|';
  const rows = grid.points.map((p) => {
    const f = meanFlipRatio(p);
    const best = Math.max(...p.valAccuracy);
    const chosen = grid.chosen && grid.chosen.gammaFactor === p.gammaFactor && grid.chosen.tauFactor === p.tauFactor;
    return `| ${p.gammaFactor} | ${p.gamma.toExponential(2)} | ${p.tauFactor} | ${p.tau.toExponential(2)} | ${chosen ? '**' : ''}${pctOf(p.score)}${chosen ? '** (chosen)' : ''} | ${pctOf(best)} | ${f.toExponential(2)} |`;
  });
  return [head, ...rows].join('\n') + `\n\nHeld out: ${grid.plan.holdoutPerClass} images per class of the training split, after the training subset; the test split is never scored.`;
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
