/**
 * Stored results for the figures: a thin adapter over src/results (the owner of the results folders, their
 * layout in src/results/paths.ts and the one verified reader in src/results/verify.ts), giving the figure builders
 * what they take (RunSeries).
 *
 * Only finished runs whose every file agrees with their checkpoint are drawn; a seed that is interrupted,
 * unfinalized or damaged is left out and listed in `StoredRunData.left` with what it is, why and the command that fixes
 * it (`leftOutRuns` collects them for the summary). Hand-made histories (no checkpoint, no runner config) are drawn
 * as they are, marked `verified: false`.
 *
 * The results root is an explicit `root` argument, or env BNN_RESULTS_DIR, or `<project>/results`.
 */
import { inspectRuns, listExperimentNames, profileDir, resultsRoot, type RunStatus, type RunStatusKind } from '../results';
import type { History } from '../train/history';
import { inferOptimizer } from './builders';
import type { RunSeries } from './types';

export interface SeedResult {
  seed: number;
  dir: string;
  history: History;
  config: Record<string, any> | null;
  /** True for a finished run verified against its checkpoint; false for a hand-made history (no checkpoint); absent when built elsewhere. */
  verified?: boolean;
}

/** A seed folder the figures and the summary left out: what it is, why, and the command that fixes it. */
export interface LeftOutRun {
  experiment: string;
  profile: string;
  seed: number;
  dir: string;
  kind: Exclude<RunStatusKind, 'finished' | 'unverified' | 'empty'>;
  why: string;
  fix: string | null;
}

/** All seeds of one experiment × profile. */
export interface StoredRunData {
  experiment: string;
  profile: string;
  dir: string;
  /** The seeds whose numbers count (finished and verified, or hand-made histories). */
  seeds: SeedResult[];
  /** The seeds left out (interrupted, unfinalized, damaged), with why (absent when built elsewhere). */
  left?: LeftOutRun[];
}

/** Experiments present under the results root (folder names), sorted. */
export function listExperiments(root?: string): string[] {
  return listExperimentNames(resultsRoot(root));
}

function leftOut(s: RunStatus): LeftOutRun {
  return { experiment: s.experiment, profile: s.profile, seed: s.seed, dir: s.dir, kind: s.kind as LeftOutRun['kind'], why: s.why ?? s.kind, fix: s.fix };
}

/** Every seed folder of results/<experiment>/<profile>, verified, split into usable seeds and left-out ones. */
function readSeeds(experiment: string, profile: string, root: string): { seeds: SeedResult[]; left: LeftOutRun[] } {
  const seeds: SeedResult[] = [];
  const left: LeftOutRun[] = [];
  for (const s of inspectRuns(experiment, profile, root)) {
    if (s.kind === 'empty') continue;
    if (s.kind === 'finished' || s.kind === 'unverified') seeds.push({ seed: s.seed, dir: s.dir, history: s.history!, config: s.meta, verified: s.kind === 'finished' });
    else left.push(leftOut(s));
  }
  return { seeds, left };
}

/**
 * Loads the seeds of results/<experiment>/<profile> whose numbers count: finished runs verified against their
 * checkpoint (and hand-made histories, unverified); the others are in `left`. Returns null when no seed counts
 * (the experiment/profile folder is missing, empty, or every seed is left out: see `leftOutRuns`).
 */
export function loadRun(experiment: string, profile: string, root?: string): StoredRunData | null {
  const r = resultsRoot(root);
  const { seeds, left } = readSeeds(experiment, profile, r);
  return seeds.length ? { experiment, profile, dir: profileDir(experiment, profile, r), seeds, left } : null;
}

/**
 * The seed folders the figures and the summary leave out, for the experiments matching `patterns` (names or `*`
 * globs, as figure refs; default: every experiment) in `profile`: interrupted, unfinalized or damaged runs, each
 * with why and the command that fixes it.
 */
export function leftOutRuns(profile: string, root?: string, patterns?: string[]): LeftOutRun[] {
  const r = resultsRoot(root);
  const available = listExperimentNames(r);
  const names = patterns ? matchExperiments(patterns, available) : available;
  return names.flatMap((e) => readSeeds(e, profile, r).left);
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
export function toSeries(run: StoredRunData, label?: string, optimizer?: string): RunSeries {
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
