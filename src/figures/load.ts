/**
 * Stored results for the figures: a thin adapter over src/results (the owner of the results folders, their
 * layout in src/results/paths.ts and the history schema in src/results/history.ts), giving the figure builders
 * what they take (RunSeries).
 *
 * The results root is an explicit `root` argument, or env BNN_RESULTS_DIR, or `<project>/results`.
 */
import { listExperimentNames, listProfileFolders, parseHistory, profileDir, readHistoryFile, readSeedFolders, resultsRoot } from '../results';
import type { History } from '../train/history';
import { inferOptimizer } from './builders';
import type { RunSeries } from './types';

export { parseHistory, resultsRoot };

export interface SeedResult {
  seed: number;
  dir: string;
  history: History;
  config: Record<string, any> | null;
}

/** All seeds of one experiment × profile. */
export interface RunData {
  experiment: string;
  profile: string;
  dir: string;
  seeds: SeedResult[];
}

/** Experiments present under the results root (folder names), sorted. */
export function listExperiments(root?: string): string[] {
  return listExperimentNames(resultsRoot(root));
}

/** Profiles stored for an experiment, sorted. */
export function listProfiles(experiment: string, root?: string): string[] {
  return listProfileFolders(experiment, resultsRoot(root));
}

/**
 * Loads every `seed-<n>` folder of results/<experiment>/<profile> that has a history.json.
 * Returns null when the experiment/profile folder or all histories are missing.
 */
export function loadRun(experiment: string, profile: string, root?: string): RunData | null {
  const r = resultsRoot(root);
  const seeds = readSeedFolders(experiment, profile, r).map((f) => ({ seed: f.seed, dir: f.dir, history: f.history, config: f.meta }));
  return seeds.length ? { experiment, profile, dir: profileDir(experiment, profile, r), seeds } : null;
}

/** Optimizer family from a run's config.json (`optimizer` string or `{name|type}`), if stated. */
export function configOptimizer(config: Record<string, any> | null): string | undefined {
  if (!config) return undefined;
  // hand-written configs state `optimizer`; runs of src/experiments/run.ts nest it under `config`
  const o = config.optimizer ?? config.config?.optimizer;
  if (typeof o === 'string') return o.toLowerCase();
  if (o && typeof o === 'object') {
    const n = o.name ?? o.type ?? o.kind;
    if (typeof n === 'string') return n.toLowerCase();
  }
  return undefined;
}

/**
 * A RunSeries (what the builders take) from loaded results. Label: `label` > config.label > experiment name.
 * Optimizer: config.json's optimizer, else inferred from the histories (γ recorded ⇒ bop).
 */
export function toSeries(run: RunData, label?: string, optimizer?: string): RunSeries {
  const cfg = run.seeds[0]?.config ?? null;
  const histories = run.seeds.map((s) => s.history);
  const series: RunSeries = {
    label: label ?? (typeof cfg?.label === 'string' ? cfg.label : run.experiment),
    histories,
    seeds: run.seeds.map((s) => s.seed),
  };
  series.optimizer = optimizer ?? configOptimizer(cfg) ?? inferOptimizer(series);
  return series;
}

/** Matches experiment names against exact names or `*` globs (e.g. `cifar10-lr-*`). */
export function matchExperiments(patterns: string[], available: string[]): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    if (!p.includes('*')) {
      if (available.includes(p) && !out.includes(p)) out.push(p);
      continue;
    }
    const re = new RegExp('^' + p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
    for (const a of available) if (re.test(a) && !out.includes(a)) out.push(a);
  }
  return out;
}

/** Loads a history file directly (fixtures, ad-hoc notebooks); errors name the file. */
export function loadHistoryFile(file: string): History {
  return readHistoryFile(file);
}
