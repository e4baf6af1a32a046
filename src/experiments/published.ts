/**
 * Which published number a run is compared with: the one answer read by the section notebooks' comparison tables,
 * the summary notebook's table and figure, `npm run figures -- summary` (figures/summary.md, summary.csv) and
 * `npm start`'s findings table, so that none of them can pick another number or set it against another metric.
 *
 * The numbers are the catalog's `references` of the experiment. What of the run each is set against follows the
 * original code: a published final validation accuracy is the accuracy on the test split (the paper's and the
 * report's code validate on it), so it is compared with the run's final score, the settled accuracy on the whole
 * test split (`extra.testAccuracy`); a published train accuracy with the last epoch's train accuracy.
 */
import { summaryFigure, summaryRows, type SummaryRow } from '../figures/summary';
import { summaryTable, type SummaryTableRow } from '../figures/tables';
import type { Figure, RunSeries } from '../figures/types';
import { metricOf } from '../results/metrics';
import { EXPERIMENTS, experimentEntry, type Metric, type Reference, type SourceTag } from './catalog';

/** A published number of a run and the run's metric it is compared with. */
export interface PublishedComparison {
  /** The published number, or null for a run the catalog gives none (its final score is shown alone). */
  reference: Reference | null;
  /** The run's metric set against it: the settled test accuracy, or the last epoch's train accuracy. */
  measured: 'testAccuracy' | 'accuracy';
}

/** What a published metric is compared with: a train accuracy with the last epoch's, anything else with the final score. */
export function measuredMetric(published: Metric): 'testAccuracy' | 'accuracy' {
  return published === 'accuracy' ? 'accuracy' : 'testAccuracy';
}

/** Whose number comes first: the paper's, then the reproducibility report's, another reproduction's, this project's. */
const SOURCE_ORDER: SourceTag[] = ['paper', 'report', 'reproduction', 'project'];

/**
 * The published numbers run `name` is compared with, the headline first: every catalog `references` entry of the
 * experiment, validation (test-split) accuracies before train accuracies, each group by source (the paper, the
 * report, another reproduction, this project) and then in catalog order. A run without a published number (or a
 * results folder that is not a catalog experiment) gets one comparison with `reference: null`.
 */
export function publishedComparisons(name: string): PublishedComparison[] {
  const refs = experimentEntry(name)?.references ?? [];
  if (!refs.length) return [{ reference: null, measured: 'testAccuracy' }];
  const rank = (r: Reference) => (r.metric === 'accuracy' ? SOURCE_ORDER.length : 0) + SOURCE_ORDER.indexOf(r.tag);
  return refs
    .map((r, i) => ({ r, i }))
    .sort((a, b) => rank(a.r) - rank(b.r) || a.i - b.i)
    .map(({ r }) => ({ reference: r, measured: measuredMetric(r.metric) }));
}

/**
 * The published number of `name` by `tag` for `metric` (default: the final validation accuracy); throws when the
 * catalog has none (a finding that quotes it would otherwise print nonsense).
 */
export function publishedValue(name: string, tag: SourceTag, metric: Metric = 'valAccuracy'): number {
  const c = publishedComparisons(name).find((x) => x.reference?.tag === tag && x.reference.metric === metric);
  if (!c?.reference) throw new Error(`${name}: the catalog has no ${tag} number (${metric})`);
  return c.reference.value;
}

/** A run to set against its published numbers: its catalog experiment (or results folder) and its seeds' histories. */
export interface PublishedRun {
  experiment: string;
  series: RunSeries;
}

/** The summary's label of a run: "<section> <experiment>" for a catalog experiment, else the folder name. */
export function summaryLabel(experiment: string): string {
  const e = experimentEntry(experiment);
  return e ? `${e.section} ${experiment}` : experiment;
}

/** The colour key of a catalog experiment's optimizer ('fp' for a full-precision model); else the series'. */
function optimizerOf(r: PublishedRun): string | undefined {
  const e = experimentEntry(r.experiment);
  return e ? (e.paper.binary === false ? 'fp' : e.paper.optimizer) : r.series.optimizer;
}

/** The rows of one comparison: the measured metric's final value per seed beside the published number. */
function rowOf(r: PublishedRun, c: PublishedComparison, label: string): SummaryRow {
  const series = {
    ...r.series,
    label,
    optimizer: optimizerOf(r),
    reported: c.reference?.value ?? null,
    reportedSource: c.reference?.source ?? 'no published number',
  };
  return summaryRows([series], (rec) => metricOf(rec, c.measured))[0];
}

/** Table rows: one per run and published number (`publishedComparisons`), labelled `label(experiment)` (default `summaryLabel`). */
export function publishedRows(
  runs: PublishedRun[],
  label: (experiment: string, run: PublishedRun) => string = summaryLabel,
): SummaryRow[] {
  return runs.flatMap((r) => publishedComparisons(r.experiment).map((c) => rowOf(r, c, label(r.experiment, r))));
}

/** Figure rows: one per run, against its headline number (the first of `publishedComparisons`). */
export function headlineRows(
  runs: PublishedRun[],
  label: (experiment: string, run: PublishedRun) => string = summaryLabel,
): SummaryRow[] {
  return runs.map((r) => rowOf(r, publishedComparisons(r.experiment)[0], label(r.experiment, r)));
}

/** Runs in catalog order (folders that are not catalog experiments last, by name): the summary's row order. */
export function inCatalogOrder<T extends { experiment: string }>(runs: T[]): T[] {
  const at = (name: string) => {
    const i = EXPERIMENTS.findIndex((e) => e.name === name);
    return i < 0 ? EXPERIMENTS.length : i;
  };
  return [...runs].sort((a, b) => at(a.experiment) - at(b.experiment) || a.experiment.localeCompare(b.experiment));
}

/** The summary table (summary.md, summary.csv, the summary notebook): every run in catalog order against every published number. */
export function publishedTable(runs: PublishedRun[]): SummaryTableRow[] {
  return summaryTable(publishedRows(inCatalogOrder(runs)));
}

/** The summary figure: one marker per run (mean, min–max over seeds) with its headline number as an open diamond. */
export function publishedFigure(runs: PublishedRun[], title: string): Figure {
  return summaryFigure(headlineRows(inCatalogOrder(runs)), { title, yTitle: 'Final test (pixel) accuracy, settled' });
}
