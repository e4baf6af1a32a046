/**
 * The config and set-up cells: the profile a notebook runs on (`BNN_PROFILE`), the experiments of its section, and
 * the backend and exact configs its runs train with.
 */
import { describeBackend, initBackend } from '../../backend';
import { DEFAULT_PROFILE, envProfile } from '../../util/env';
import { resultsRoot } from '../../results';
import { runState } from '../../results/state';
import { PROFILES, sectionOf } from '../catalog';
import { getExperiment, Profile } from '../registry';
import { configHash, resolveConfig, runDir } from '../run';

/**
 * The profile a notebook runs on: `BNN_PROFILE` (set by `npm run notebooks -- --profile X`), default `DEFAULT_PROFILE`,
 * one of `allowed`. Throws naming the allowed profiles otherwise.
 */
export function notebookProfile(allowed: readonly Profile[] = PROFILES, env: NodeJS.ProcessEnv = process.env): Profile {
  const p = (envProfile(env) ?? DEFAULT_PROFILE) as Profile;
  if (!allowed.includes(p)) throw new Error(`BNN_PROFILE must be ${allowed.join(', ')} here (got "${p}")`);
  return p;
}

export interface NotebookConfigOptions {
  seeds?: number[];
  overrides?: string[];
  /** Profiles this notebook accepts (default: every profile). */
  profiles?: readonly Profile[];
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/**
 * The config cell's call: the profile (`notebookProfile`) and the experiments of the report section `section` (none
 * when `section` is null: the setup and summary notebooks choose theirs), printed with the seeds and overrides.
 */
export function notebookConfig(
  section: string | null,
  opts: NotebookConfigOptions = {},
): { PROFILE: Profile; EXPERIMENTS: string[] } {
  const PROFILE = notebookProfile(opts.profiles, opts.env);
  const log = opts.log ?? console.log;
  const all = section === null ? [] : [...sectionOf(section).experiments];
  // a named variant (catalog `optional`) is shown when it has finished runs of this config, and never trained here
  const variants = all.filter((n) => getExperiment(n).optional);
  const shown = variants.filter((n) => hasFinishedRuns(n, PROFILE, opts.seeds, opts.overrides));
  const EXPERIMENTS = all.filter((n) => !variants.includes(n) || shown.includes(n));
  const seeds = opts.seeds ? opts.seeds.join(', ') : '(registry default)';
  const overrides = opts.overrides?.length ? opts.overrides.join(' ') : '(none)';
  log(
    `profile ${PROFILE}, seeds ${seeds}, overrides ${overrides}${section === null ? '' : `, section ${section}: ${EXPERIMENTS.join(', ') || 'no runs of its own'}`}`,
  );
  for (const n of variants)
    log(
      shown.includes(n)
        ? `${n}: a named variant with finished runs on ${PROFILE}; shown here`
        : `${n}: a named variant without finished runs on ${PROFILE}; left out (\`npm run experiment -- ${n} --profile ${PROFILE}\` runs it, then it is shown here)`,
    );
  return { PROFILE, EXPERIMENTS };
}

/** True when every seed of `name` (default: the catalog's for the profile) has finished results of the config it would run with now. */
export function hasFinishedRuns(
  name: string,
  profile: string,
  seeds?: number[],
  set: string[] = [],
  root = resultsRoot(),
): boolean {
  const list = seeds ?? getExperiment(name).seeds[profile as Profile] ?? [0];
  return (
    list.length > 0 &&
    list.every((seed) => {
      const c = resolveConfig(name, profile, seed, set);
      return runState(runDir(c, set, root), { configHash: configHash(c), epochs: c.epochs }).kind === 'finished';
    })
  );
}

/**
 * The set-up cell's call: initialises the backend (tfjs-node-gpu > tfjs-node > wasm > cpu; env BNN_BACKEND /
 * BNN_THREADS override), prints Node's version and the backend, then the exact config every run will train with
 * (profile + overrides + seed).
 */
export async function notebookSetup(opts: {
  profile: string;
  experiments?: string[];
  seeds?: number[];
  set?: string[];
  log?: (line: string) => void;
}): Promise<void> {
  const log = opts.log ?? console.log;
  await initBackend();
  log(`node ${process.version} · ${describeBackend()}`);
  for (const line of runConfigLines(opts.experiments ?? [], opts.profile, opts.seeds, opts.set)) log(line);
}

/** One line per run: `<experiment> seed <n>: <resolved config as JSON>`. */
export function runConfigLines(experiments: string[], profile: string, seeds?: number[], set: string[] = []): string[] {
  return experiments.flatMap((name) =>
    (seeds ?? getExperiment(name).seeds[profile as Profile] ?? [0]).map(
      (seed) => `${name} seed ${seed}: ${JSON.stringify(resolveConfig(name, profile, seed, set))}`,
    ),
  );
}
