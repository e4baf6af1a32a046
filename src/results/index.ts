/**
 * Reads what runs wrote (src/experiments/run.ts): one run, all seeds of an experiment, summaries over
 * seeds, and a danfojs DataFrame for notebooks.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ExperimentConfig } from '../experiments/config';
import type { EpochRecord, History } from '../train/history';
import { resultsRoot } from './paths';

export { resultsRoot } from './paths';
export { finalMetric, metricOf, type MetricName } from './metrics';
export { acquireRunLock, withRunLock, readRunLock, lockOwnerState, RunLockedError, LOCK_FILE, type RunLock, type LockOwner } from './lock';
export { checkModelDir, MODEL_MANIFEST, type ModelManifest } from './final';
import { checkModelDir } from './final';

export interface RunRecord {
  experiment: string;
  /** Folder name of the profile ('quick', or 'quick-<hash>' for overridden configs). */
  profile: string;
  seed: number;
  dir: string;
  config: ExperimentConfig;
  /** config.json as written (backend, versions, data source, …). */
  meta: Record<string, unknown>;
  history: History;
  /** True when the run reached its configured number of epochs and final/ matches its manifest. */
  complete: boolean;
}

const REQUIRED_NUMBERS: (keyof EpochRecord)[] = ['epoch', 'accuracy', 'valAccuracy'];

/**
 * Parses and checks a history.json: an array of objects with numeric epoch/accuracy/valAccuracy
 * (other fields are passed through; missing flipRatio becomes {}). Throws an error naming the file.
 */
export function parseHistory(text: string, file: string): History {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); re-run the experiment or delete the file`);
  }
  if (!Array.isArray(raw)) throw new Error(`${file}: expected a JSON array of epoch records (EpochRecord[]), got ${typeof raw}`);
  return raw.map((r, i) => {
    if (r === null || typeof r !== 'object') throw new Error(`${file}: record ${i} is not an object`);
    for (const k of REQUIRED_NUMBERS) {
      if (typeof (r as any)[k] !== 'number') {
        throw new Error(`${file}: record ${i} has no numeric "${String(k)}" (got ${JSON.stringify((r as any)[k])}); is this an EpochRecord[] history?`);
      }
    }
    const rec = r as EpochRecord;
    return { ...rec, flipRatio: rec.flipRatio ?? {}, gamma: rec.gamma ?? null, threshold: rec.threshold ?? null };
  });
}

/** One stored seed folder as found on disk: its history (checked) and its config.json (null when absent). */
export interface SeedFolder {
  seed: number;
  dir: string;
  history: History;
  meta: Record<string, any> | null;
}

/** Reads one seed folder; null when it has no history.json yet. Bad JSON throws an error naming the file. */
export function readSeedFolder(dir: string): SeedFolder | null {
  const m = /^seed-(\d+)$/.exec(path.basename(dir));
  const histFile = path.join(dir, 'history.json');
  if (!m || !fs.existsSync(histFile)) return null;
  const history = parseHistory(fs.readFileSync(histFile, 'utf8'), histFile);
  const cfgFile = path.join(dir, 'config.json');
  let meta: Record<string, any> | null = null;
  if (fs.existsSync(cfgFile)) {
    try {
      meta = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    } catch (e) {
      throw new Error(`${cfgFile}: not valid JSON (${(e as Error).message}); re-run the experiment or delete the folder`);
    }
  }
  return { seed: Number(m[1]), dir, history, meta };
}

/** Every seed folder with a history under <root>/<experiment>/<profile>, sorted by seed ([] when none). */
export function readSeedFolders(experiment: string, profile: string, root = resultsRoot()): SeedFolder[] {
  const base = path.join(root, experiment, profile);
  if (!fs.existsSync(base)) return [];
  return fs
    .readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^seed-\d+$/.test(d.name))
    .map((d) => readSeedFolder(path.join(base, d.name)))
    .filter((r): r is SeedFolder => r !== null)
    .sort((a, b) => a.seed - b.seed);
}

function toRecord(f: SeedFolder, profile: string): RunRecord | null {
  const config = f.meta?.config as ExperimentConfig | undefined;
  if (!config) return null; // not written by src/experiments/run.ts (e.g. a hand-made history)
  return {
    experiment: config.experiment,
    profile,
    seed: config.seed,
    dir: f.dir,
    config,
    meta: f.meta!,
    history: f.history,
    complete: f.history.length >= config.epochs && checkModelDir(path.join(f.dir, 'final')).ok,
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
  if (!fs.existsSync(root)) return [];
  const out: RunRecord[] = [];
  for (const e of fs.readdirSync(root)) {
    const ed = path.join(root, e);
    if (!fs.statSync(ed).isDirectory()) continue;
    for (const p of fs.readdirSync(ed)) out.push(...loadRuns(e, p, root));
  }
  return out;
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

function stats(xs: number[]) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs) };
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
    accuracy: stats(last.map((r) => r.accuracy)),
    valAccuracy: stats(last.map((r) => r.valAccuracy)),
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
