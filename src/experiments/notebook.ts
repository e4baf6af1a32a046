/**
 * What the notebooks call: run (or reuse) the runs of a report section with a live chart, and hand back
 * series for the figure builders. Keeps every notebook to a config cell and a few calls.
 *
 *   const runs = await runSection(['cifar10-adam-baseline', 'cifar10-bop'], { profile: PROFILE });
 *   showFigure(accuracyCurves(runs.map((r) => r.series)));
 */
import { accuracyCurves } from '../figures/builders';
import { inKernel, liveChart } from '../figures/display';
import type { RunSeries } from '../figures/types';
import type { History } from '../train/history';
import { getExperiment, Profile } from './registry';
import { runExperiment, RunResult } from './run';
import './unet';

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
