/**
 * How a figure of the report is built from stored results: the runs it needs (`RunRef`, experiment folder names
 * under results/, see load.ts; `*` globs pick up sweeps, e.g. `cifar10-lr-*`), a builder, and an optional table.
 * Which figures the report has, and which experiments each draws, is catalog data: the registry is
 * src/experiments/figures.ts (REPORT_FIGURES, buildReportFigure), built on `buildFigure` here.
 *
 * Each run's legend label is the ref's `label`, else config.json's `label`, else the experiment name.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { SegmentationSample } from './segmentation';
import { listExperiments, loadRun, matchExperiments, toSeries, type StoredRunData } from './load';
import type { SummaryTableRow } from './tables';
import type { Figure, RunSeries } from './types';

/** A run a figure needs: an experiment name (or glob) and optional legend label / optimizer. */
export interface RunRef {
  experiment: string;
  label?: string;
  optimizer?: string;
}

export interface BuildContext {
  profile: string;
  /** Results root (default: see load.ts). */
  root?: string;
}

export interface LoadedRun {
  ref: RunRef;
  data: StoredRunData;
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

/**
 * Reads `predictions.json` ({classNames?, samples: SegmentationSample[]}) from the first seed folder
 * of a run that has one. Throws a clear error when none does.
 */
export function loadPredictions(run: StoredRunData): { classNames?: string[]; samples: SegmentationSample[] } {
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
 * Builds a figure from stored results. Returns `{figure: null, missing}` when required runs are absent (all refs
 * needed unless `minRuns` is set, in which case that many runs suffice).
 */
export function buildFigure(fig: ReportFigure, ctx: BuildContext): BuiltFigure {
  const { runs, missing } = resolveRuns(fig, ctx);
  const enough = fig.minRuns !== undefined ? runs.length >= fig.minRuns : missing.length === 0 && runs.length > 0;
  if (!enough) return { figure: null, table: null, runs, missing: missing.length ? missing : fig.runs.map((r) => r.experiment) };
  return { figure: fig.build(runs, ctx), table: fig.table ? fig.table(runs, ctx) : null, runs, missing };
}

/** A built figure, or `figure: null` with the experiments that have no stored results. */
export interface BuiltFigure {
  figure: Figure | null;
  table: SummaryTableRow[] | null;
  runs: LoadedRun[];
  missing: string[];
}
