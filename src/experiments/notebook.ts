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
import { getExperiment, Profile } from './registry';
import { runExperiment, RunResult } from './run';

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
