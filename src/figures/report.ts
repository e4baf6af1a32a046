/**
 * Registry of the report's figures: name → (experiments it needs, builder). Used by `npm run figures`
 * and by notebooks (`reportFigure('fig1-baseline-vs-bop', { profile })`).
 *
 * Experiment names are folder names under results/ (see load.ts); `*` globs pick up sweeps, e.g.
 * `cifar10-lr-*`. Each run's legend label is the ref's `label`, else config.json's `label`, else the
 * experiment name. Edit EXPERIMENT names here if the experiment registry names them differently.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  accuracyCurves,
  flipRatioCurves,
  hyperparameterCurves,
  lossCurves,
  miouCurves,
  segmentationGrid,
  summaryFigure,
  summaryRows,
  type SegmentationSample,
  type SummaryRow,
} from './builders';
import { listExperiments, loadRun, matchExperiments, toSeries, type RunData } from './load';
import { summaryTable, type SummaryTableRow } from './tables';
import type { Figure, RunSeries } from './types';

/** A run a figure needs: an experiment name (or glob) and optional legend label / optimizer. */
export interface RunRef {
  experiment: string;
  label?: string;
  optimizer?: string;
  /** Reported final accuracy (fraction) for the summary, and where it comes from. */
  reported?: number;
  reportedSource?: string;
}

export interface BuildContext {
  profile: string;
  /** Results root (default: see load.ts). */
  root?: string;
  /** Published final accuracy per experiment (fraction) and its source, for the summary (the CLI passes the catalog's). */
  reported?: Record<string, { value: number; source: string }>;
}

export interface LoadedRun {
  ref: RunRef;
  data: RunData;
  series: RunSeries;
}

export interface ReportFigure {
  name: string;
  title: string;
  description: string;
  runs: RunRef[];
  /** Minimum number of matched runs to build (default: every non-glob ref must be present, and ≥ 1 run). */
  minRuns?: number;
  build(runs: LoadedRun[], ctx: BuildContext): Figure;
  /** Optional table written next to the figure (CSV / Markdown). */
  table?(runs: LoadedRun[], ctx: BuildContext): SummaryTableRow[];
}

/** Experiment names of the catalog (src/experiments/catalog.ts) the figures draw; a test checks they exist there. */
export const EXPERIMENTS = {
  baseline: 'cifar10-adam-baseline',
  bop: 'cifar10-bop',
  lrDecay: 'cifar10-bop-lr-decay',
  dropout: 'cifar10-bop-dropout',
  constantGamma: 'cifar10-bop-constant-gamma',
  svhnBaseline: 'svhn-adam-baseline',
  svhnBop: 'svhn-bop',
  unetFp: 'pets-unet-fp-adam',
  unetBaseline: 'pets-unet-binary-adam',
  unetBop: 'pets-unet-binary-bop',
};

const series = (runs: LoadedRun[]) => runs.map((r) => r.series);

/** The figures of the report, in order. */
export const REPORT_FIGURES: ReportFigure[] = [
  {
    name: 'fig1-baseline-vs-bop',
    title: 'CIFAR-10 BinaryNet: Adam baseline vs Bop',
    description: 'Training and validation accuracy per epoch, latent-weight Adam baseline vs Bop (report Fig. 1).',
    runs: [
      { experiment: EXPERIMENTS.baseline, label: 'Adam baseline (latent weights)', optimizer: 'adam' },
      { experiment: EXPERIMENTS.bop, label: 'Bop', optimizer: 'bop' },
    ],
    build: (runs) => accuracyCurves(series(runs), { title: 'CIFAR-10 BinaryNet: Adam baseline vs Bop' }),
  },
  {
    name: 'fig1-loss-baseline-vs-bop',
    title: 'CIFAR-10 BinaryNet: loss, Adam baseline vs Bop',
    description: 'Training and validation loss per epoch of the two arms of Fig. 1.',
    runs: [
      { experiment: EXPERIMENTS.baseline, label: 'Adam baseline (latent weights)', optimizer: 'adam' },
      { experiment: EXPERIMENTS.bop, label: 'Bop', optimizer: 'bop' },
    ],
    minRuns: 1,
    build: (runs) => lossCurves(series(runs), { title: 'CIFAR-10 BinaryNet: loss, Adam baseline vs Bop' }),
  },
  {
    name: 'fig2-learning-rate-loss',
    title: 'Effect of the learning rate: loss',
    description: 'Training and validation loss with the BN betas\' Adam lr constant or decayed (report Fig. 2 is a loss plot).',
    runs: [
      { experiment: EXPERIMENTS.bop, label: 'Bop, Adam lr 0.01 constant (original)', optimizer: 'bop' },
      { experiment: EXPERIMENTS.lrDecay, label: 'Bop, Adam lr ×0.1 with γ', optimizer: 'bop-lr-decay' },
    ],
    minRuns: 1,
    build: (runs) => lossCurves(series(runs), { title: 'Effect of the learning rate: loss' }),
  },
  {
    name: 'fig2-3-learning-rate',
    title: 'Effect of the learning rate',
    description: 'Training and validation accuracy with the BN betas\' Adam lr constant or decayed (report Fig. 3).',
    runs: [
      { experiment: EXPERIMENTS.bop, label: 'Bop, Adam lr 0.01 constant (original)', optimizer: 'bop' },
      { experiment: EXPERIMENTS.lrDecay, label: 'Bop, Adam lr ×0.1 with γ', optimizer: 'bop-lr-decay' },
    ],
    minRuns: 1,
    build: (runs) => accuracyCurves(series(runs), { title: 'Effect of the learning rate' }),
  },
  {
    name: 'fig4-dropout-loss',
    title: 'Effect of dropout: loss',
    description: 'Training and validation loss with and without dropout (report Fig. 4 is a loss plot).',
    runs: [
      { experiment: EXPERIMENTS.bop, label: 'Bop, no dropout', optimizer: 'bop' },
      { experiment: EXPERIMENTS.dropout, label: 'Bop, dropout 0.25', optimizer: 'bop-dropout' },
    ],
    minRuns: 1,
    build: (runs) => lossCurves(series(runs), { title: 'Effect of dropout: loss' }),
  },
  {
    name: 'fig4-5-dropout',
    title: 'Effect of dropout',
    description: 'Training and validation accuracy with and without dropout (report Fig. 5).',
    runs: [
      { experiment: EXPERIMENTS.bop, label: 'Bop, no dropout', optimizer: 'bop' },
      { experiment: EXPERIMENTS.dropout, label: 'Bop, dropout 0.25', optimizer: 'bop-dropout' },
    ],
    minRuns: 1,
    build: (runs) => accuracyCurves(series(runs), { title: 'Effect of dropout' }),
  },
  {
    name: 'fig6-constant-gamma-loss',
    title: 'Constant vs decayed γ: loss',
    description: 'Training and validation loss of Bop with γ constant or decayed (report Fig. 6 is a loss plot).',
    runs: [{ experiment: EXPERIMENTS.constantGamma, label: 'Bop, γ constant', optimizer: 'bop-constant-gamma' }, { experiment: EXPERIMENTS.bop, label: 'Bop, γ decayed', optimizer: 'bop' }],
    minRuns: 1,
    build: (runs) => lossCurves(series(runs), { title: 'Constant vs decayed γ: loss' }),
  },
  {
    name: 'fig6-7-constant-gamma',
    title: 'Constant vs decayed γ',
    description: 'Training and validation accuracy of Bop with γ constant or decayed (report Fig. 7).',
    runs: [{ experiment: EXPERIMENTS.constantGamma, label: 'Bop, γ constant', optimizer: 'bop-constant-gamma' }, { experiment: EXPERIMENTS.bop, label: 'Bop, γ decayed', optimizer: 'bop' }],
    minRuns: 1,
    build: (runs) => accuracyCurves(series(runs), { title: 'Constant vs decayed γ' }),
  },
  {
    name: 'fig8-svhn',
    title: 'SVHN: Adam baseline vs Bop',
    description: 'Training and validation accuracy on SVHN (report Fig. 8).',
    runs: [
      { experiment: EXPERIMENTS.svhnBaseline, label: 'Adam baseline (latent weights)', optimizer: 'adam' },
      { experiment: EXPERIMENTS.svhnBop, label: 'Bop', optimizer: 'bop' },
    ],
    build: (runs) => accuracyCurves(series(runs), { title: 'SVHN: Adam baseline vs Bop' }),
  },
  {
    name: 'fig9-unet',
    title: 'Binary U-Net on Oxford-IIIT Pet: pixel accuracy',
    description: 'Train and test pixel accuracy of the binary U-Net (report Fig. 9).',
    runs: [
      { experiment: EXPERIMENTS.unetFp, label: 'Full-precision U-Net (Adam)', optimizer: 'fp' },
      { experiment: EXPERIMENTS.unetBaseline, label: 'Binary U-Net, Adam (latent weights)', optimizer: 'adam' },
      { experiment: EXPERIMENTS.unetBop, label: 'Binary U-Net, Bop', optimizer: 'bop' },
    ],
    minRuns: 1,
    build: (runs) => accuracyCurves(series(runs), { title: 'Binary U-Net: pixel accuracy', yTitle: 'Pixel accuracy', trainName: 'Train', valName: 'Test' }),
  },
  {
    name: 'unet-miou',
    title: 'Binary U-Net: mean IoU',
    description: 'Mean IoU per epoch (record.extra.miou / extra.valMiou).',
    runs: [
      { experiment: EXPERIMENTS.unetFp, label: 'Full-precision U-Net (Adam)', optimizer: 'fp' },
      { experiment: EXPERIMENTS.unetBaseline, label: 'Binary U-Net, Adam (latent weights)', optimizer: 'adam' },
      { experiment: EXPERIMENTS.unetBop, label: 'Binary U-Net, Bop', optimizer: 'bop' },
    ],
    minRuns: 1,
    build: (runs) => miouCurves(series(runs), { title: 'Binary U-Net: mean IoU', valName: 'Test' }),
  },
  {
    name: 'flip-ratio',
    title: 'Bop flip ratio per layer',
    description: 'πₜ = ln(flips/weights + e⁻⁹) per binary layer of the CIFAR-10 Bop run (paper Eq. 7).',
    runs: [{ experiment: EXPERIMENTS.bop, label: 'Bop', optimizer: 'bop' }],
    build: (runs) => flipRatioCurves(series(runs), { title: 'Bop: flip ratio per layer', layers: 'all' }),
  },
  {
    name: 'hyperparameters',
    title: 'γ and learning rate over training',
    description: 'Bop adaptivity rate γ and Adam learning rate per epoch.',
    runs: [
      { experiment: EXPERIMENTS.baseline, label: 'Adam baseline (latent weights)', optimizer: 'adam' },
      { experiment: EXPERIMENTS.bop, label: 'Bop', optimizer: 'bop' },
    ],
    minRuns: 1,
    build: (runs) => hyperparameterCurves(series(runs), { title: 'Schedules: γ and learning rate' }),
  },
  {
    name: 'summary',
    title: 'Final accuracies vs reported',
    description: 'Final validation/test accuracy (mean, min–max over seeds) of every stored run, next to the reported numbers.',
    runs: [{ experiment: '*' }],
    build: (runs, ctx) => summaryFigure(summaryFromRuns(runs, ctx.reported), { title: 'Final accuracy: this reproduction vs reported' }),
    table: (runs, ctx) => summaryTable(summaryFromRuns(runs, ctx.reported)),
  },
  {
    name: 'segmentation-grid',
    title: 'Binary U-Net predictions',
    description: 'Images, ground-truth trimaps and predictions (predictions.json of the first seed).',
    runs: [{ experiment: EXPERIMENTS.unetBop, label: 'Bop', optimizer: 'bop' }],
    build: (runs) => {
      const samples = loadPredictions(runs[0].data);
      return segmentationGrid(samples.samples, { title: `Binary U-Net (${runs[0].series.label}) predictions`, classNames: samples.classNames });
    },
  },
];

/** Summary rows (final valAccuracy per seed) with the published numbers (`reported`, by experiment) attached. */
export function summaryFromRuns(runs: LoadedRun[], reported: BuildContext['reported'] = {}): SummaryRow[] {
  const rows = summaryRows(
    runs.map((r) => ({
      ...r.series,
      reported: r.ref.reported ?? reported[r.data.experiment]?.value ?? null,
      reportedSource: r.ref.reportedSource ?? reported[r.data.experiment]?.source,
    })),
  );
  return rows;
}

/**
 * Reads `predictions.json` ({classNames?, samples: SegmentationSample[]}) from the first seed folder
 * of a run that has one. Throws a clear error when none does.
 */
export function loadPredictions(run: RunData): { classNames?: string[]; samples: SegmentationSample[] } {
  for (const s of run.seeds) {
    const f = path.join(s.dir, 'predictions.json');
    if (!fs.existsSync(f)) continue;
    const j = JSON.parse(fs.readFileSync(f, 'utf8'));
    const samples = Array.isArray(j) ? j : j.samples;
    if (!Array.isArray(samples) || samples.length === 0) throw new Error(`${f}: expected {samples: [{image, truth, prediction}]} with at least one sample`);
    return { classNames: Array.isArray(j.classNames) ? j.classNames : undefined, samples };
  }
  throw new Error(`${run.dir}: no seed-*/predictions.json (the segmentation run must save sample predictions for the grid)`);
}

/** Looks up a registry entry; throws listing the valid names. */
export function getReportFigure(name: string): ReportFigure {
  const f = REPORT_FIGURES.find((x) => x.name === name);
  if (!f) throw new Error(`unknown figure "${name}"; known figures: ${REPORT_FIGURES.map((x) => x.name).join(', ')}`);
  return f;
}

/** Result of resolving a figure's runs against stored results. */
export interface Resolved {
  runs: LoadedRun[];
  /** Refs (experiment names/globs) with no stored results for the profile. */
  missing: string[];
}

/** Loads the runs of a registry entry for a profile. */
export function resolveRuns(fig: ReportFigure, ctx: BuildContext): Resolved {
  const available = listExperiments(ctx.root);
  const runs: LoadedRun[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  for (const ref of fig.runs) {
    const names = matchExperiments([ref.experiment], available);
    let found = 0;
    for (const name of names) {
      if (seen.has(name)) continue;
      const data = loadRun(name, ctx.profile, ctx.root);
      if (!data) continue;
      seen.add(name);
      found++;
      const glob = ref.experiment.includes('*');
      runs.push({ ref, data, series: toSeries(data, glob ? undefined : ref.label, glob ? undefined : ref.optimizer) });
    }
    if (found === 0) missing.push(ref.experiment);
  }
  return { runs, missing };
}

/**
 * Builds a registry figure from stored results. Returns `{figure: null, missing}` when required runs are
 * absent (all refs needed unless `minRuns` is set, in which case that many runs suffice).
 */
export function buildReportFigure(name: string, ctx: BuildContext): { figure: Figure | null; table: SummaryTableRow[] | null; runs: LoadedRun[]; missing: string[] } {
  const fig = getReportFigure(name);
  const { runs, missing } = resolveRuns(fig, ctx);
  const enough = fig.minRuns !== undefined ? runs.length >= fig.minRuns : missing.length === 0 && runs.length > 0;
  if (!enough) return { figure: null, table: null, runs, missing: missing.length ? missing : fig.runs.map((r) => r.experiment) };
  return { figure: fig.build(runs, ctx), table: fig.table ? fig.table(runs, ctx) : null, runs, missing };
}

/** Notebook helper: the figure of a registry entry, or an Error naming the missing experiments. */
export function reportFigure(name: string, ctx: BuildContext): Figure {
  const r = buildReportFigure(name, ctx);
  if (!r.figure) {
    throw new Error(`figure "${name}": no stored results for ${r.missing.join(', ')} (profile "${ctx.profile}"); run \`npm run experiment\` for them first`);
  }
  return r.figure;
}
