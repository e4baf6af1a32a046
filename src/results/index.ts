/**
 * The results folders (src/results/paths.ts has the layout): written by src/experiments/run.ts through this
 * package (config.json, history files, checkpoint, final/), read here: one run, all seeds of an experiment,
 * summaries over seeds, and a danfojs DataFrame for notebooks.
 */
import * as path from 'path';
import type { History } from '../train/history';
import { readRunMeta, type StoredConfig } from './config';
import { checkFinalDir } from './final';
import { readRunHistory } from './history';
import { listExperimentNames, listProfileFolders, listSeedDirs, resultsRoot, seedOfFolder } from './paths';
import { stats } from './stats';

export * from './paths';
export * from './stats';
export { parseHistory, readHistoryFile, readRunHistory, historyCsv, writeHistoryFiles, historyStaleness } from './history';
export { readRunMeta, writeRunMeta, type RunMeta, type StoredConfig } from './config';
export { finalMetric, metricOf, type MetricName } from './metrics';
export { acquireRunLock, withRunLock, readRunLock, lockOwnerState, RunLockedError, type RunLock, type LockOwner } from './lock';
export { checkFinalDir, checkModelDir, MODEL_MANIFEST, type ModelDirCheck, type ModelManifest } from './final';

export interface RunRecord {
  experiment: string;
  /** Folder name of the profile ('quick', or 'quick-<hash>' for overridden configs). */
  profile: string;
  seed: number;
  dir: string;
  /** The resolved config stored in config.json (the whole ExperimentConfig of src/experiments). */
  config: StoredConfig;
  /** config.json as written (backend, versions, data source, …). */
  meta: Record<string, unknown>;
  history: History;
  /** True when the run reached its configured number of epochs and final/ matches its manifest. */
  complete: boolean;
}

/** One stored seed folder as found on disk: its history (checked) and its config.json (null when absent). */
export interface SeedFolder {
  seed: number;
  dir: string;
  history: History;
  meta: Record<string, any> | null;
}

/** Reads one seed folder; null when it is no `seed-<n>` folder or has no history.json yet. Bad JSON throws an error naming the file. */
export function readSeedFolder(dir: string): SeedFolder | null {
  const seed = seedOfFolder(path.basename(dir));
  if (seed === null) return null;
  const history = readRunHistory(dir);
  if (!history) return null;
  return { seed, dir, history, meta: readRunMeta(dir) };
}

/** Every seed folder with a history under <root>/<experiment>/<profile>, sorted by seed ([] when none). */
export function readSeedFolders(experiment: string, profile: string, root = resultsRoot()): SeedFolder[] {
  return listSeedDirs(experiment, profile, root)
    .map((s) => readSeedFolder(s.dir))
    .filter((r): r is SeedFolder => r !== null);
}

function toRecord(f: SeedFolder, profile: string): RunRecord | null {
  const config = f.meta?.config as StoredConfig | undefined;
  if (!config) return null; // not written by src/experiments/run.ts (e.g. a hand-made history)
  return {
    experiment: config.experiment,
    profile,
    seed: config.seed,
    dir: f.dir,
    config,
    meta: f.meta!,
    history: f.history,
    complete: f.history.length >= config.epochs && checkFinalDir(f.dir).ok,
  };
}

/** Loads one run folder written by src/experiments/run.ts; null when it has no history or config yet. */
export function loadRunDir(dir: string): RunRecord | null {
  const f = readSeedFolder(dir);
  return f ? toRecord(f, path.basename(path.dirname(dir))) : null;
}

/** Every run of an experiment in a profile folder (all seeds), sorted by seed. */
export function loadRuns(experiment: string, profile = 'quick', root = resultsRoot()): RunRecord[] {
  return readSeedFolders(experiment, profile, root)
    .map((f) => toRecord(f, profile))
    .filter((r): r is RunRecord => r !== null);
}

/** Every run under the results root. */
export function listRuns(root = resultsRoot()): RunRecord[] {
  return listExperimentNames(root).flatMap((e) => listProfileFolders(e, root).flatMap((p) => loadRuns(e, p, root)));
}

export interface SeedSummary {
  experiment: string;
  profile: string;
  seeds: number[];
  epochs: number;
  /** Final-epoch values over seeds. */
  accuracy: { mean: number; std: number; min: number; max: number };
  valAccuracy: { mean: number; std: number; min: number; max: number };
  /** Training seconds summed over epochs, mean over seeds. */
  seconds: number;
  backend: string;
}

/** Mean, sample standard deviation (0 for a single seed), min and max, for a SeedSummary. */
function seedStats(xs: number[]): { mean: number; std: number; min: number; max: number } {
  const s = stats(xs);
  return { mean: s.mean, std: s.n > 1 ? s.sd : 0, min: s.min, max: s.max };
}

/** Final accuracies over the seeds of a set of runs (sample standard deviation). */
export function summarizeRuns(runs: RunRecord[]): SeedSummary | null {
  const done = runs.filter((r) => r.history.length > 0);
  if (!done.length) return null;
  const last = done.map((r) => r.history[r.history.length - 1]);
  return {
    experiment: done[0].experiment,
    profile: done[0].profile,
    seeds: done.map((r) => r.seed),
    epochs: Math.min(...last.map((r) => r.epoch)),
    accuracy: seedStats(last.map((r) => r.accuracy)),
    valAccuracy: seedStats(last.map((r) => r.valAccuracy)),
    seconds: stats(done.map((r) => r.history.reduce((a, h) => a + h.seconds, 0))).mean,
    backend: String(done[0].meta.backend ?? '?'),
  };
}

/** Per-epoch rows of runs as plain objects (one row per run and epoch), flip ratios flattened. */
export function historyRows(runs: RunRecord[]): Record<string, number | string | null>[] {
  return runs.flatMap((r) =>
    r.history.map((h) => ({
      experiment: r.experiment,
      seed: r.seed,
      epoch: h.epoch,
      loss: h.loss,
      accuracy: h.accuracy,
      valLoss: h.valLoss,
      valAccuracy: h.valAccuracy,
      gamma: h.gamma,
      lr: h.lr,
      seconds: h.seconds,
      ...Object.fromEntries(Object.entries(h.flipRatio).map(([k, v]) => [`flip_${k}`, v])),
      ...(h.extra ?? {}),
    })),
  );
}

/** The runs' histories as a danfojs DataFrame (danfojs is loaded only when this is called). */
export function historyFrame(runs: RunRecord[]): unknown {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const dfd = require('danfojs');
  return new dfd.DataFrame(historyRows(runs));
}
