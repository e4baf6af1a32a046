/**
 * The layout of the results folder, the one place its paths are built (the runner, the readers, sweeps, the
 * figures and notebooks call it):
 *
 *   <results root>/<experiment>/<profile folder>/seed-<n>/
 *     config.json        resolved config + hash, versions, backend, data source   (./config)
 *     history.json/.csv  one record per epoch                                       (./history)
 *     checkpoint.bin     weights, optimizer and RNG states, history                 (./checkpoint)
 *     final/             the trained model with its manifest.json                   (./final)
 *     predictions.json   segmentation samples for the figure grid (UNet runs)
 *     .lock              the writer's lock                                          (./lock)
 *     .force-<pid>/      a --force run's staging folder, .promoting its marker     (./state)
 *
 * The results root is an explicit folder, else env BNN_RESULTS_DIR, else <project>/results. The profile folder
 * is the profile's name, or `<profile>-<hash of the --set overrides>` so that a different config never
 * overwrites another's results.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../util/paths';
import { envResultsDir } from '../util/env';

/** Results root: explicit `root` > env BNN_RESULTS_DIR > <project>/results. */
export function resultsRoot(root?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (root) return path.resolve(root);
  return envResultsDir(env) ?? path.join(repoRoot(), 'results');
}

export const CONFIG_FILE = 'config.json';
export const HISTORY_JSON = 'history.json';
export const HISTORY_CSV = 'history.csv';
export const CHECKPOINT_FILE = 'checkpoint.bin';
export const FINAL_DIR = 'final';
export const PREDICTIONS_FILE = 'predictions.json';
export const LOCK_FILE = '.lock';
/** The marker of a --force promotion in progress (names the staging folder). */
export const PROMOTING_FILE = '.promoting';
/** Files a run writes that are derived from, or belong to, one checkpoint (moved together by a promotion). */
export const RUN_FILES = [CHECKPOINT_FILE, CONFIG_FILE, HISTORY_JSON, HISTORY_CSV];

/** Every path inside one run folder. */
export interface RunPaths {
  dir: string;
  config: string;
  historyJson: string;
  historyCsv: string;
  checkpoint: string;
  final: string;
  predictions: string;
  lock: string;
  promoting: string;
}

/** The paths of the files of run folder `dir`. */
export function runPaths(dir: string): RunPaths {
  return {
    dir,
    config: path.join(dir, CONFIG_FILE),
    historyJson: path.join(dir, HISTORY_JSON),
    historyCsv: path.join(dir, HISTORY_CSV),
    checkpoint: path.join(dir, CHECKPOINT_FILE),
    final: path.join(dir, FINAL_DIR),
    predictions: path.join(dir, PREDICTIONS_FILE),
    lock: path.join(dir, LOCK_FILE),
    promoting: path.join(dir, PROMOTING_FILE),
  };
}

const SEED_RE = /^seed-(\d+)$/;
const STAGING_RE = /^\.force-(\d+)$/;

/** The seed of a `seed-<n>` folder name, or null for any other name. */
export function seedOfFolder(name: string): number | null {
  const m = SEED_RE.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * The profile folder of a config: the profile's name, or `<profile>-<h>` with h the first 8 hex digits of the
 * SHA-256 of the sorted `key=value` overrides joined by newlines.
 */
export function profileFolder(profile: string, overrides: readonly string[] = []): string {
  if (!overrides.length) return profile;
  return `${profile}-${crypto.createHash('sha256').update(overrides.slice().sort().join('\n')).digest('hex').slice(0, 8)}`;
}

/** <root>/<experiment>. */
export function experimentDir(experiment: string, root = resultsRoot()): string {
  return path.join(root, experiment);
}

/** <root>/<experiment>/<profile folder>. */
export function profileDir(experiment: string, profile: string, root = resultsRoot()): string {
  return path.join(root, experiment, profile);
}

/** <root>/<experiment>/<profile folder>/seed-<seed>. */
export function seedDir(experiment: string, profile: string, seed: number, root = resultsRoot()): string {
  return path.join(root, experiment, profile, `seed-${seed}`);
}

/** The run folder of a run (experiment, profile, seed) with `overrides` (`--set key=value`). */
export function runDirOf(run: { experiment: string; profile: string; seed: number }, overrides: readonly string[] = [], root = resultsRoot()): string {
  return seedDir(run.experiment, profileFolder(run.profile, overrides), run.seed, root);
}

/** The experiment / profile folder / seed a run folder belongs to (from its path), or null if it is no seed folder. */
export function runOfDir(dir: string): { experiment: string; profile: string; seed: number } | null {
  const seed = seedOfFolder(path.basename(dir));
  if (seed === null) return null;
  const profile = path.basename(path.dirname(dir));
  return { experiment: path.basename(path.dirname(path.dirname(dir))), profile, seed };
}

/** The --force staging folder of this process inside run folder `dir`. */
export function stagingDir(dir: string, pid = process.pid): string {
  return path.join(dir, `.force-${pid}`);
}

/** The pid of a staging folder name (`.force-<pid>`), or null for any other name. */
export function stagingPid(name: string): number | null {
  const m = STAGING_RE.exec(name);
  return m ? Number(m[1]) : null;
}

function subfolders(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** The folder of the results root that holds calibration grids, not an experiment. */
export const CALIBRATION_DIR = 'calibration';

/** Where the calibration grid of an experiment in a profile is stored: <root>/calibration/<profile>/<experiment>-grid.json. */
export function calibrationGridFile(profile: string, root = resultsRoot(), experiment = 'cifar10-bop'): string {
  return path.join(root, CALIBRATION_DIR, profile, `${experiment}-grid.json`);
}

/** Experiments present under the results root (folder names, not the calibration folder or hidden caches), sorted; [] when the root does not exist. */
export function listExperimentNames(root = resultsRoot()): string[] {
  return subfolders(root).filter((n) => n !== CALIBRATION_DIR && !n.startsWith(".")); // .probes and other hidden caches are not experiments
}

/** Profile folders stored for an experiment, sorted. */
export function listProfileFolders(experiment: string, root = resultsRoot()): string[] {
  return subfolders(experimentDir(experiment, root));
}

/** The `seed-<n>` folders of an experiment's profile folder, sorted by seed. */
export function listSeedDirs(experiment: string, profile: string, root = resultsRoot()): { seed: number; dir: string }[] {
  const base = profileDir(experiment, profile, root);
  return subfolders(base)
    .map((n) => ({ seed: seedOfFolder(n), dir: path.join(base, n) }))
    .filter((s): s is { seed: number; dir: string } => s.seed !== null)
    .sort((a, b) => a.seed - b.seed);
}

/** What a fix command does: rewrite derived files from the checkpoint, continue training, or train anew. */
export type FixAction = 'repair' | 'resume' | 'force';

const quoteArg = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/**
 * The command line that applies `action` to run folder `dir`: `npm run experiment -- <experiment> --profile
 * <profile> --seed <n> [--set k=v]… --repair|--resume|--force`, prefixed with `BNN_RESULTS_DIR=<root>` when the
 * folder is not under the default results root. The profile and `--set` values come from `meta` (config.json or
 * the checkpoint's copy of it) when known, else from the folder's name (a `<profile>-<hash>` folder then shows
 * `--set …` for the overrides that made it).
 */
export function fixCommand(dir: string, action: FixAction, meta?: Record<string, any> | null): string {
  const run = runOfDir(dir);
  if (!run) return `npm run experiment -- <experiment> --${action} (for ${dir})`;
  const root = path.dirname(path.dirname(path.dirname(path.resolve(dir))));
  const folder = run.profile;
  const set: string[] | null = Array.isArray(meta?.set) ? meta!.set.map(String) : null;
  const hashed = /^(.+)-[0-9a-f]{8}$/.exec(folder);
  const profile = typeof meta?.config?.profile === 'string' ? meta!.config.profile : hashed ? hashed[1] : folder;
  const experiment = typeof meta?.config?.experiment === 'string' ? meta!.config.experiment : run.experiment;
  const sets = set ? set.flatMap((s) => ['--set', quoteArg(s)]) : hashed && profile !== folder ? ['--set', '…'] : [];
  const env = root !== resultsRoot() ? `BNN_RESULTS_DIR=${quoteArg(root)} ` : '';
  return `${env}npm run experiment -- ${[experiment, '--profile', profile, '--seed', String(run.seed), ...sets, `--${action}`].join(' ')}`;
}
