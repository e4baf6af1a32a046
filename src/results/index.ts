/**
 * Reads what runs wrote (src/experiments/run.ts): one run, all seeds of an experiment, summaries over
 * seeds, and a danfojs DataFrame for notebooks.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ExperimentConfig } from '../experiments/config';
import { resultsRoot } from '../experiments/run';
import type { History } from '../train/history';

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
  /** True when the run reached its configured number of epochs. */
  complete: boolean;
}

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Loads one run folder; null when it has no history yet. */
export function loadRunDir(dir: string): RunRecord | null {
  const cfgFile = path.join(dir, 'config.json');
  const histFile = path.join(dir, 'history.json');
  if (!fs.existsSync(cfgFile) || !fs.existsSync(histFile)) return null;
  const meta = readJson(cfgFile) as Record<string, unknown> & { config: ExperimentConfig };
  const history = readJson(histFile) as History;
  const parts = dir.split(path.sep);
  return {
    experiment: meta.config.experiment,
    profile: parts[parts.length - 2],
    seed: meta.config.seed,
    dir,
    config: meta.config,
    meta,
    history,
    complete: history.length >= meta.config.epochs && fs.existsSync(path.join(dir, 'final', 'model.json')),
  };
}

/** Every run of an experiment in a profile folder (all seeds), sorted by seed. */
export function loadRuns(experiment: string, profile = 'quick', root = resultsRoot()): RunRecord[] {
  const base = path.join(root, experiment, profile);
  if (!fs.existsSync(base)) return [];
  return fs
    .readdirSync(base)
    .filter((d) => /^seed-\d+$/.test(d))
    .map((d) => loadRunDir(path.join(base, d)))
    .filter((r): r is RunRecord => r !== null)
    .sort((a, b) => a.seed - b.seed);
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
