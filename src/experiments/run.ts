/**
 * Runs one experiment (one config, one seed): resolves its config, loads its data, builds its model and
 * optimizers, trains with the loop in src/train, and hands what lasts to src/results, which owns the folder
 * layout and the file formats (src/results/paths.ts):
 *
 *   results/<experiment>/<profile>[-<overrides hash>]/seed-<n>/
 *     config.json         resolved config + its hash, package version, git commit, backend, versions
 *     history.json/.csv   one record per epoch (written after every epoch)
 *     checkpoint.bin      weights + optimizer states + RNG states + history, after every epoch (atomic)
 *     final/              model.json + weights.bin (tf.io format) + manifest.json when the run is complete
 *
 * A complete run with the same config is reused (not recomputed) unless `force`; `resume` continues from the
 * checkpoint; a different config never overwrites another's results. The checkpoint is the authority: config.json,
 * history.json, history.csv and final/ are derived from it, and `resume` or `repair` rewrites each that differs
 * from it, saying which and why. `force` is a transaction: it trains in a staging folder whose first checkpoint
 * replaces the folder's in one rename (src/results/state.ts `commitStaging`); a --force that dies before that
 * rename is rolled back by the next writer, and nothing promotes its staging folder later.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { execSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { BackendInfo, describeBackend, initBackend } from '../backend';
import { modelVariables } from '../layers';
import { AdamOptimizer, BopOptimizer, CaseOptimizer, Optimizer, Schedule, xavierLrMultipliers } from '../optimizers';
import { Rng } from '../random';
import { EpochRecord, History } from '../train/history';
import { repoRoot } from '../util/paths';
import { DEFAULT_PROFILE } from '../util/env';
import { DecaySchedule, ExperimentConfig, validateConfig } from './config';
import { applyOverrides } from './overrides';
import { readRunMeta, writeRunMeta, type RunMeta } from '../results/config';
import { fixCommand, resultsRoot, runDirOf } from '../results/paths';
import { type Held, type Kept, type Log, lockRun, type Plan, type Target } from './runFolder';
import { type Resolved, restoreCheckpoint, trainRun } from './runTrain';
import { getExperiment, type ExperimentEntry, Profile, profileConfig, rederive, SIZING_KEYS } from './registry';
import { datasetLoader, RunData } from './datasets';
import { modelComponent } from './components';

export type { RunData } from './datasets';

/** A decay schedule of the config as an optimizer schedule in steps. */
export function toSchedule(s: DecaySchedule, stepsPerEpoch: number): Schedule {
  const steps =
    s.everySteps != null
      ? s.everySteps
      : s.everyEpochs === null
        ? null
        : Math.max(1, Math.round(s.everyEpochs * stepsPerEpoch));
  if (steps === null || s.decay === 1) return { kind: 'constant', value: s.initial };
  return { kind: 'staircase', initial: s.initial, decayRate: s.decay, decaySteps: steps };
}

/** The optimizer(s) of a config: Bop on binary kernels + Adam on the rest, or Adam on everything. */
export function buildOptimizer(c: ExperimentConfig, model: tf.LayersModel, stepsPerEpoch: number): Optimizer {
  const vars = modelVariables(model);
  if (c.optimizer === 'bop') {
    const opt = new CaseOptimizer(
      [
        {
          name: 'bop',
          claims: (v) => v.binary,
          optimizer: new BopOptimizer({ gamma: toSchedule(c.gamma!, stepsPerEpoch), threshold: c.threshold! }),
        },
      ],
      { name: 'adam', optimizer: new AdamOptimizer({ lr: toSchedule(c.lr, stepsPerEpoch) }) },
    );
    opt.assign(vars);
    return opt;
  }
  return new AdamOptimizer({
    lr: toSchedule(c.lr, stepsPerEpoch),
    lrMultipliers: c.xavierLrScaling ? xavierLrMultipliers(vars) : undefined,
  });
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export function configHash(c: ExperimentConfig): string {
  return crypto.createHash('sha256').update(canonicalJson(c)).digest('hex').slice(0, 16);
}

/** Where a run's results go (src/results/paths): overridden configs get their own folder, named by the overrides' hash. */
export function runDir(c: ExperimentConfig, overrides: string[] = [], root = resultsRoot()): string {
  return runDirOf(c, overrides, root);
}

export interface RunOptions {
  experiment: string;
  profile?: string;
  seed?: number;
  /** `key=value` overrides of the profile. */
  set?: string[];
  /** Continue from the last checkpoint. */
  resume?: boolean;
  /** Recompute even if complete results with the same config exist; start over instead of resuming. */
  force?: boolean;
  /**
   * Rewrite config.json, history.json, history.csv and final/ from the checkpoint where they differ from it, and
   * train nothing (an interrupted run stays interrupted: `resume` continues it).
   */
  repair?: boolean;
  /** Progress output (default console.log; null: silent). */
  log?: ((line: string) => void) | null;
  onEpoch?: (record: EpochRecord, history: History) => void | Promise<void>;
  resultsRoot?: string;
}

export interface RunResult {
  config: ExperimentConfig;
  dir: string;
  history: History;
  /** True when finished results were found and reused. */
  reused: boolean;
  /** What was rewritten from the checkpoint (one line per file: which and why); absent or [] when nothing. */
  repaired?: string[];
  /** Seconds of training in this call (0 when reused). */
  wallSeconds: number;
  backend: string;
}

/** Resolves the config of a run (profile + overrides + seed), validated; throws one-line errors. */
export function resolveConfig(
  experiment: string,
  profile: string = DEFAULT_PROFILE,
  seed?: number,
  set: string[] = [],
): ExperimentConfig {
  const e = getExperiment(experiment);
  const s = seed ?? (e.seeds[profile as Profile] ?? [0])[0];
  // Sizing overrides (epochs, width, subset sizes…) go in before the profile is derived, so its schedules, γ and τ
  // follow them by the profile's own rule; the rest (γ, τ, lr…) replace the derived values afterwards.
  const sizingKeys = new Set<string>(SIZING_KEYS);
  const isSizing = (x: string) => sizingKeys.has(x.slice(0, x.indexOf('=')).trim());
  const sized = applyOverrides(profileConfig(experiment, profile, s), set.filter(isSizing));
  validateConfig(sized);
  const sizing = Object.fromEntries(SIZING_KEYS.map((k) => [k, (sized as unknown as Record<string, unknown>)[k]]));
  const c = rederive(
    applyOverrides(
      profileConfig(experiment, profile, s, sizing),
      set.filter((x) => !isSizing(x)),
    ),
  );
  validateConfig(c);
  return c;
}

function gitCommit(): string | null {
  try {
    return execSync('git rev-parse HEAD', { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

function packageVersion(): string | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')).version ?? null;
  } catch {
    return null;
  }
}

/** The backend recorded in run folder `dir`'s config.json ('?' when unknown). */
function recordedBackend(dir: string): string {
  return String(readRunMeta(dir, { lenient: true })?.backend ?? '?');
}

const dataCache = new Map<string, Promise<RunData>>();

function loadData(c: ExperimentConfig): Promise<RunData> {
  const key = canonicalJson([
    c.dataset,
    c.trainPerClass,
    c.testPerClass,
    c.holdoutPerClass ?? null,
    c.trainLimit,
    c.testLimit,
    c.imageSize,
    c.augment,
  ]);
  let p = dataCache.get(key);
  if (!p) {
    p = datasetLoader(c.dataset)(c);
    p.catch(() => dataCache.delete(key));
    dataCache.set(key, p);
  }
  return p;
}

/**
 * Runs (or reuses, or resumes) one experiment; see the module comment for what it writes. Only one process
 * writes a run folder at a time (src/results/lock.ts); the folder's state comes from its checkpoint and
 * final/ manifest (src/results/state.ts); --force trains into a staging folder that replaces the previous
 * results only once it holds its first checkpoint.
 */
export async function runExperiment(opts: RunOptions): Promise<RunResult> {
  const held: Held = { lock: null, staging: null, created: [] };
  try {
    return await runExperimentLocked(opts, held);
  } finally {
    if (held.staging) fs.rmSync(held.staging, { recursive: true, force: true });
    held.lock?.release();
    // A run that failed before writing anything (bad data, …) leaves no empty folders behind.
    for (const d of held.created) {
      try {
        fs.rmdirSync(d);
      } catch {
        break;
      }
    }
  }
}

/**
 * One run, in four named steps: `lockRun` (./runFolder: the config and folder, reuse or repair of what is there, the
 * writer's lock), `resolveRun` (backend, data, model, optimizers, the checkpoint restored, config.json), `trainRun`
 * (./runTrain: the training loop, a checkpoint after every epoch) and `finalizeRun` (final/ and what the model adds
 * after a run).
 */
async function runExperimentLocked(opts: RunOptions, held: Held): Promise<RunResult> {
  const log = opts.log === undefined ? (l: string) => console.log(l) : opts.log;
  const entry = getExperiment(opts.experiment);
  const profile = opts.profile ?? DEFAULT_PROFILE;
  if ([opts.resume, opts.force, opts.repair].filter(Boolean).length > 1)
    throw new Error(
      '--resume, --force and --repair exclude each other: --resume continues the stored run, --repair rewrites its files from its checkpoint, --force replaces it',
    );
  const same = sameAsRun(entry, opts, profile, log);
  if (same) return runExperiment({ ...opts, experiment: same });
  const t = runTarget(opts, profile, log);
  const plan = lockRun(t, opts, held);
  if ('kept' in plan) return keptRun(t, plan);
  const run = await resolveRun(t, plan, opts);
  const t0 = Date.now();
  const history = await trainRun(t, plan, run, opts, held);
  return finalizeRun(t, plan, run, history, (Date.now() - t0) / 1000);
}

/** The experiment whose runs this one uses (`sameAs` in the catalog) when both resolve to the same config, else null. */
function sameAsRun(entry: ExperimentEntry, opts: RunOptions, profile: string, log: Log): string | null {
  if (!entry.sameAs) return null;
  const own = resolveConfig(opts.experiment, profile, opts.seed, opts.set);
  const other = resolveConfig(entry.sameAs, profile, opts.seed, opts.set);
  const strip = (c: ExperimentConfig) => ({ ...c, experiment: '', section: '' });
  if (canonicalJson(strip(own)) !== canonicalJson(strip(other))) return null;
  log?.(
    `${opts.experiment}: same config as ${entry.sameAs} (the original's Adam lr is already constant): using its run`,
  );
  return entry.sameAs;
}

function runTarget(opts: RunOptions, profile: string, log: Log): Target {
  const config = resolveConfig(opts.experiment, profile, opts.seed, opts.set);
  const hash = configHash(config);
  const set = opts.set ?? [];
  const dir = runDir(config, set, opts.resultsRoot ?? resultsRoot());
  return {
    config,
    hash,
    dir,
    set,
    log,
    label: `${config.experiment}/${config.profile}/seed-${config.seed}`,
    expect: { configHash: hash, epochs: config.epochs },
    fix: (a) => fixCommand(dir, a, { config, set }),
  };
}

/**
 * The result of a run that trains nothing: finished results reused (`repaired`: the files rewritten first), or an
 * interrupted run whose files --repair rewrote.
 */
function keptRun(t: Target, k: Kept): RunResult {
  if (k.reuse) {
    for (const d of k.kept.derived)
      t.log?.(`${t.label}: ${d.why}; the checkpoint holds the run (\`${t.fix('repair')}\` rewrites the file from it)`);
    t.log?.(`${t.label}: complete results with the same config found in ${t.dir}; reusing them (--force to recompute)`);
  }
  return {
    config: t.config,
    dir: t.dir,
    history: k.kept.history!,
    reused: true,
    repaired: k.repaired,
    wallSeconds: 0,
    backend: recordedBackend(t.dir),
  };
}

/**
 * The resolve step: starts the backend, loads the data, builds the model and its optimizers, restores the
 * checkpoint a continuing run resumes from (rewriting the derived files that differ from it), and writes config.json.
 */
async function resolveRun(t: Target, plan: Plan, opts: RunOptions): Promise<Resolved> {
  const { config, label, log } = t;
  const backendInfo: BackendInfo = await initBackend();
  const data = await loadData(config);
  const stepsPerEpoch = Math.floor(data.nTrain / config.batchSize);
  if (stepsPerEpoch < 1)
    throw new Error(
      `${config.experiment}: batchSize=${config.batchSize} is larger than the training split (${data.nTrain} examples)`,
    );
  const component = modelComponent(config.model);
  const model = component.build(config, data);
  const optimizer = buildOptimizer(config, model, stepsPerEpoch);
  const meta: RunMeta = {
    config,
    configHash: t.hash,
    package: packageVersion(),
    gitCommit: gitCommit(),
    backend: describeBackend(),
    backendInfo,
    versions: { node: process.version, tfjs: tf.version.tfjs },
    data: {
      source: data.source,
      selection: data.selection ?? null,
      nTrain: data.nTrain,
      nVal: data.val.n,
      nTest: data.test?.n ?? null,
    },
    stepsPerEpoch,
    set: opts.set ?? [],
    createdAt: new Date().toISOString(),
  };
  const r: Resolved = {
    data,
    stepsPerEpoch,
    component,
    model,
    optimizer,
    rng: new Rng(config.seed),
    history: [],
    runId: crypto.randomUUID(),
    repaired: [],
    meta,
  };
  if (plan.continuing) restoreCheckpoint(t, plan.st, r);
  fs.mkdirSync(plan.writeDir, { recursive: true });
  if (!(plan.continuing && plan.st.kind === 'unfinalized')) {
    writeRunMeta(plan.writeDir, r.meta);
    const cfgLine = r.repaired.find((l) => l.startsWith('rewrote config.json ('));
    if (cfgLine) log?.(`${label}: ${cfgLine}`);
  }
  log?.(
    `${label}: ${describeBackend()}; ${data.nTrain} train / ${data.val.n} val${data.test ? ` / ${data.test.n} test (after the last epoch)` : ''} images (${data.source}); ${stepsPerEpoch} steps/epoch`,
  );
  log?.(`${label}: config ${JSON.stringify(config)}`);
  return r;
}

/** The finalize step: what the model adds after a run (the UNets' sample predictions), and the run's result. */
async function finalizeRun(
  t: Target,
  plan: Plan,
  r: Resolved,
  history: History,
  wallSeconds: number,
): Promise<RunResult> {
  if (plan.st.kind === 'unfinalized' && plan.continuing) t.log?.(`${t.label}: rewrote final/ from the checkpoint`);
  await r.component.afterRun?.(t.dir, t.config);
  return {
    config: t.config,
    dir: t.dir,
    history,
    reused: false,
    repaired: r.repaired,
    wallSeconds,
    backend: describeBackend(),
  };
}
