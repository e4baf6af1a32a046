/**
 * Minimal reader of stored results for the figures (the lead's src/results may replace it; keep this
 * interface small so it can be swapped):
 *
 *   results/<experiment>/<profile>/seed-<n>/history.json   (EpochRecord[], required)
 *   results/<experiment>/<profile>/seed-<n>/config.json    (any JSON object, optional)
 *   results/<experiment>/<profile>/seed-<n>/predictions.json (optional, segmentation samples for the grid)
 *
 * The results root is `<project>/results`, or env BNN_RESULTS_DIR, or an explicit `root` argument.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { EpochRecord, History } from '../train/history';
import { inferOptimizer } from './builders';
import type { RunSeries } from './types';

/** Project root: env BNN_PROJECT_ROOT (set by the kernel wrapper), else two folders above this file. */
export function projectRoot(): string {
  return process.env.BNN_PROJECT_ROOT || path.resolve(__dirname, '..', '..');
}

/** Results root: explicit > env BNN_RESULTS_DIR > <project>/results. */
export function resultsRoot(root?: string): string {
  return path.resolve(root ?? process.env.BNN_RESULTS_DIR ?? path.join(projectRoot(), 'results'));
}

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

/** Experiments present under the results root (folder names), sorted. */
export function listExperiments(root?: string): string[] {
  const dir = resultsRoot(root);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** Profiles stored for an experiment, sorted. */
export function listProfiles(experiment: string, root?: string): string[] {
  const dir = path.join(resultsRoot(root), experiment);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/**
 * Loads every `seed-<n>` folder of results/<experiment>/<profile> that has a history.json.
 * Returns null when the experiment/profile folder or all histories are missing.
 */
export function loadRun(experiment: string, profile: string, root?: string): RunData | null {
  const dir = path.join(resultsRoot(root), experiment, profile);
  if (!fs.existsSync(dir)) return null;
  const seeds: SeedResult[] = [];
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const m = /^seed-(\d+)$/.exec(d.name);
    if (!d.isDirectory() || !m) continue;
    const sdir = path.join(dir, d.name);
    const hfile = path.join(sdir, 'history.json');
    if (!fs.existsSync(hfile)) continue;
    const history = parseHistory(fs.readFileSync(hfile, 'utf8'), hfile);
    const cfile = path.join(sdir, 'config.json');
    let config: Record<string, any> | null = null;
    if (fs.existsSync(cfile)) {
      try {
        config = JSON.parse(fs.readFileSync(cfile, 'utf8'));
      } catch (e) {
        throw new Error(`${cfile}: not valid JSON (${(e as Error).message})`);
      }
    }
    seeds.push({ seed: Number(m[1]), dir: sdir, history, config });
  }
  if (seeds.length === 0) return null;
  seeds.sort((a, b) => a.seed - b.seed);
  return { experiment, profile, dir, seeds };
}

/** Optimizer family from a run's config.json (`optimizer` string or `{name|type}`), if stated. */
export function configOptimizer(config: Record<string, any> | null): string | undefined {
  if (!config) return undefined;
  const o = config.optimizer;
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

/** Loads a history file directly (fixtures, ad-hoc notebooks). */
export function loadHistoryFile(file: string): History {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such history file`);
  return parseHistory(fs.readFileSync(file, 'utf8'), file);
}
