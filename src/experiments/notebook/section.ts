/**
 * A section's runs in a notebook: each experiment's seeds trained (or reused, or resumed) in the kernel with a live
 * chart, as `SectionRun`s that every other helper reads.
 */
import * as path from 'path';
import { accuracyCurves } from '../../figures/builders';
import { inKernel, liveChart, showMarkdown } from '../../figures/display';
import type { StoredRunData } from '../../figures/load';
import type { RunSeries } from '../../figures/types';
import type { History } from '../../train/history';
import { getExperiment, Profile } from '../registry';
import { runExperiment, RunResult } from '../run';
import { missingData } from './data';

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
    for (const m of missing)
      console.log(
        `skipped: ${m.dataset.toUpperCase()} is missing (${m.files.map((f) => path.basename(f)).join(', ')}); \`npm run data -- ${m.dataset}\` fetches it`,
      );
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
          live?.update(
            accuracyCurves(
              [
                ...done,
                {
                  label: `${name} (seed ${seed}, running)`,
                  optimizer: e.paper.optimizer,
                  histories: [...histories, h],
                },
              ],
              { title: `${name}: epoch ${h.length}` },
            ),
          );
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

/** A section run as the figures' StoredRunData (what `loadPredictions` and the report builders read). */
export function sectionRunData(run: SectionRun, profile: string): StoredRunData {
  return {
    experiment: run.experiment,
    profile,
    dir: path.dirname(run.results[0].dir),
    seeds: run.results.map((x) => ({
      seed: x.config.seed,
      dir: x.dir,
      history: x.history,
      config: x.config as unknown as Record<string, unknown>,
    })),
  };
}

/** The run of experiment `name` among a notebook's runs; throws naming the runs there are. */
export function runOf(runs: SectionRun[], name: string): SectionRun {
  const r = runs.find((x) => x.experiment === name);
  if (!r)
    throw new Error(
      `${name} is not among this notebook's runs (${runs.map((x) => x.experiment).join(', ') || 'none'})`,
    );
  return r;
}
