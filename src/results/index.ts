/**
 * The results folders (src/results/paths.ts has the layout): written by src/experiments/run.ts through this
 * package (config.json, history files, checkpoint, final/), read here through one verified reader
 * (./verify: `inspectRun`): one run, all seeds of an experiment, summaries over seeds, and a danfojs DataFrame
 * for notebooks. A run's numbers are final only when it is finished and every derived file agrees with its
 * checkpoint (`RunRecord.complete`).
 */
import type { History } from '../train/history';
import type { StoredConfig } from './config';
import { readRunHistory } from './history';
import { listExperimentNames, listProfileFolders, listSeedDirs, resultsRoot } from './paths';
import { stats } from './stats';
import { inspectRun, type RunStatus } from './verify';
import { DEFAULT_PROFILE } from '../util/env';

export * from './paths';
export * from './stats';
export { parseHistory, readHistoryFile, readRunHistory, historyCsv, writeHistoryFiles, historyStaleness, historyProblems, firstNonFiniteField } from './history';
export { readRunMeta, writeRunMeta, checkRunMeta, type RunMeta, type StoredConfig } from './config';
export { finalMetric, metricOf, type MetricName } from './metrics';
export { acquireRunLock, withRunLock, readRunLock, lockOwnerState, RunLockedError, LOCK_STALE_MS, type RunLock, type LockOwner } from './lock';
export { checkFinalDir, checkModelDir, MODEL_MANIFEST, type ModelDirCheck, type ModelManifest } from './final';
export { inspectRun, inspectRuns, isFinal, statusLine, type RunStatus, type RunStatusKind, type FileProblem } from './verify';

export interface RunRecord {
  experiment: string;
  /** Folder name of the profile ('quick', or 'quick-<hash>' for overridden configs). */
  profile: string;
  seed: number;
  dir: string;
  /** The resolved config stored in config.json (the whole ExperimentConfig of src/experiments). */
  config: StoredConfig;
  /** config.json as written (backend, versions, data source, …); the checkpoint's copy when config.json is damaged. */
  meta: Record<string, unknown>;
  /**
   * The checkpoint's history (the authority; equal to history.json and history.csv when `complete`). When the
   * checkpoint is missing or fails its checks, history.json as it reads ([] if it does not), for progress displays
   * only: such a run is never `complete` and `status` says what is wrong.
   */
  history: History;
  /**
   * True only when the run is finished and verified (`inspectRun` says 'finished'): the checkpoint holds the
   * configured epochs, final/ matches its manifest and the checkpoint, config.json and both history files agree
   * with the checkpoint. Only complete runs have final numbers.
   */
  complete: boolean;
  /** The verified state: for an incomplete run, what it is, why and the command that fixes it. */
  status: RunStatus;
}

/** history.json of a run folder whose checkpoint cannot be verified, as it reads ([] when missing or damaged). */
function unverifiedProgress(dir: string): History {
  try {
    return readRunHistory(dir) ?? [];
  } catch {
    return [];
  }
}

function toRecord(s: RunStatus): RunRecord | null {
  const config = s.meta?.config as StoredConfig | undefined;
  if (!config || typeof config !== 'object' || s.kind === 'unverified') return null; // no runner config: nothing to identify the run by
  return {
    experiment: typeof config.experiment === 'string' ? config.experiment : s.experiment,
    profile: s.profile,
    seed: Number.isInteger(config.seed) ? config.seed : s.seed,
    dir: s.dir,
    config,
    meta: s.meta!,
    history: s.history ?? unverifiedProgress(s.dir),
    complete: s.kind === 'finished',
    status: s,
  };
}

/**
 * Loads one run folder written by src/experiments/run.ts, verified (`inspectRun`); null when it holds no run
 * config (nothing written yet, a hand-made history, a config.json damaged with no copy in a checkpoint). Damage is
 * reported in `status`, never thrown.
 */
export function loadRunDir(dir: string): RunRecord | null {
  return toRecord(inspectRun(dir));
}

/** Every run of an experiment in a profile folder (all seeds), sorted by seed, verified (see `loadRunDir`). */
export function loadRuns(experiment: string, profile: string = DEFAULT_PROFILE, root = resultsRoot()): RunRecord[] {
  return listSeedDirs(experiment, profile, root)
    .map((s) => loadRunDir(s.dir))
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

/** Final accuracies over the complete (verified, finished) runs among `runs` (sample standard deviation); null when none is. */
export function summarizeRuns(runs: RunRecord[]): SeedSummary | null {
  const done = runs.filter((r) => r.complete && r.history.length > 0);
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
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- danfojs is large: loaded on first use
  const dfd = require('danfojs');
  return new dfd.DataFrame(historyRows(runs));
}
