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
import { dropoutLayers, modelVariables } from '../layers';
import { saveModel } from '../models/io';
import { AdamOptimizer, BopOptimizer, CaseOptimizer, Optimizer, Schedule, xavierLrMultipliers } from '../optimizers';
import { Rng } from '../random';
import { EpochRecord, History } from '../train/history';
import { train } from '../train/loop';
import { repoRoot } from '../util/paths';
import { DEFAULT_PROFILE } from '../util/env';
import { applyOverrides, DecaySchedule, ExperimentConfig, validateConfig } from './config';
import { checkpointRunMeta, readRunCheckpoint, writeRunCheckpoint } from '../results/checkpoint';
import { readRunMeta, writeRunMeta } from '../results/config';
import { writeHistoryFiles } from '../results/history';
import { fixCommand, resultsRoot, runDirOf, runPaths, stagingDir, type FixAction } from '../results/paths';
import { acquireRunLock, RunLock, RunLockedError } from '../results/lock';
import { commitStaging, leftovers, openRunDir, RunState, runState } from '../results/state';
import { getExperiment, Profile, profileConfig, rederive, SIZING_KEYS } from './registry';
import { datasetLoader, RunData } from './datasets';
import { modelComponent } from './components';

export type { RunData } from './datasets';

/** A decay schedule of the config as an optimizer schedule in steps. */
export function toSchedule(s: DecaySchedule, stepsPerEpoch: number): Schedule {
  const steps = s.everySteps != null ? s.everySteps : s.everyEpochs === null ? null : Math.max(1, Math.round(s.everyEpochs * stepsPerEpoch));
  if (steps === null || s.decay === 1) return { kind: 'constant', value: s.initial };
  return { kind: 'staircase', initial: s.initial, decayRate: s.decay, decaySteps: steps };
}

/** The optimizer(s) of a config: Bop on binary kernels + Adam on the rest, or Adam on everything. */
export function buildOptimizer(c: ExperimentConfig, model: tf.LayersModel, stepsPerEpoch: number): Optimizer {
  const vars = modelVariables(model);
  if (c.optimizer === 'bop') {
    const opt = new CaseOptimizer(
      [{ name: 'bop', claims: (v) => v.binary, optimizer: new BopOptimizer({ gamma: toSchedule(c.gamma!, stepsPerEpoch), threshold: c.threshold! }) }],
      { name: 'adam', optimizer: new AdamOptimizer({ lr: toSchedule(c.lr, stepsPerEpoch) }) },
    );
    opt.assign(vars);
    return opt;
  }
  return new AdamOptimizer({ lr: toSchedule(c.lr, stepsPerEpoch), lrMultipliers: c.xavierLrScaling ? xavierLrMultipliers(vars) : undefined });
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
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
export function resolveConfig(experiment: string, profile: string = DEFAULT_PROFILE, seed?: number, set: string[] = []): ExperimentConfig {
  const e = getExperiment(experiment);
  const s = seed ?? (e.seeds[profile as Profile] ?? [0])[0];
  // Sizing overrides (epochs, width, subset sizes…) go in before the profile is derived, so its schedules, γ and τ
  // follow them by the profile's own rule; the rest (γ, τ, lr…) replace the derived values afterwards.
  const sizingKeys = new Set<string>(SIZING_KEYS);
  const isSizing = (x: string) => sizingKeys.has(x.slice(0, x.indexOf('=')).trim());
  const sized = applyOverrides(profileConfig(experiment, profile, s), set.filter(isSizing));
  validateConfig(sized);
  const sizing = Object.fromEntries(SIZING_KEYS.map((k) => [k, (sized as unknown as Record<string, unknown>)[k]]));
  const c = rederive(applyOverrides(profileConfig(experiment, profile, s, sizing), set.filter((x) => !isSizing(x))));
  validateConfig(c);
  return c;
}

function gitCommit(): string | null {
  try {
    return execSync('git rev-parse HEAD', { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
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
  const key = canonicalJson([c.dataset, c.trainPerClass, c.testPerClass, c.holdoutPerClass ?? null, c.trainLimit, c.testLimit, c.imageSize, c.augment]);
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

interface Held {
  lock: RunLock | null;
  /** The --force staging folder while it has not replaced the previous results. */
  staging: string | null;
  /** Folders created for the lock, deepest first (removed again when left empty). */
  created: string[];
}

async function runExperimentLocked(opts: RunOptions, held: Held): Promise<RunResult> {
  const log = opts.log === undefined ? (l: string) => console.log(l) : opts.log;
  const entry = getExperiment(opts.experiment);
  const profile = opts.profile ?? DEFAULT_PROFILE;
  if ([opts.resume, opts.force, opts.repair].filter(Boolean).length > 1) throw new Error('--resume, --force and --repair exclude each other: --resume continues the stored run, --repair rewrites its files from its checkpoint, --force replaces it');
  if (entry.sameAs) {
    const own = resolveConfig(opts.experiment, profile, opts.seed, opts.set);
    const other = resolveConfig(entry.sameAs, profile, opts.seed, opts.set);
    const strip = (c: ExperimentConfig) => ({ ...c, experiment: '', section: '' });
    if (canonicalJson(strip(own)) === canonicalJson(strip(other))) {
      log?.(`${opts.experiment}: same config as ${entry.sameAs} (the original's Adam lr is already constant): using its run`);
      return runExperiment({ ...opts, experiment: entry.sameAs });
    }
  }
  const config = resolveConfig(opts.experiment, profile, opts.seed, opts.set);
  const hash = configHash(config);
  const dir = runDir(config, opts.set ?? [], opts.resultsRoot ?? resultsRoot());
  const label = `${config.experiment}/${config.profile}/seed-${config.seed}`;
  const fix = (a: FixAction) => fixCommand(dir, a, { config, set: opts.set ?? [] });
  const expect = { configHash: hash, epochs: config.epochs };
  const before = runState(dir, expect);
  if (before.checkpoint === null && !opts.force) {
    const existing = readRunMeta(dir, { lenient: true }) as { configHash?: string } | null;
    if (existing?.configHash && existing.configHash !== hash) {
      throw new Error(`${dir} holds results of another config (hash ${existing.configHash}, this one ${hash}); pass --force to replace them or change --set to write elsewhere`);
    }
  }
  const reuse = (st: RunState, repaired: string[] = []): RunResult => {
    for (const d of st.derived) log?.(`${label}: ${d.why}; the checkpoint holds the run (\`${fix('repair')}\` rewrites the file from it)`);
    log?.(`${label}: complete results with the same config found in ${dir}; reusing them (--force to recompute)`);
    return { config, dir, history: st.history!, reused: true, repaired, wallSeconds: 0, backend: recordedBackend(dir) };
  };
  const wantsRepair = opts.resume || opts.repair;
  if (before.kind === 'finished' && !opts.force && (!before.derived.length || !wantsRepair)) {
    const left = leftovers(dir);
    if (left.length) {
      // Clean what an interrupted writer left (a --force that did not commit is rolled back), unless someone writes now.
      try {
        held.lock = acquireRunLock(dir, { purpose: `${label} (cleaning)` });
        for (const line of openRunDir(dir)) log?.(`${label}: ${line}`);
      } catch (e) {
        // Someone writes it now (their leftovers are theirs), or it cannot be written (read-only): reuse as is.
        if (!(e instanceof RunLockedError)) log?.(`${label}: could not clean ${left.join(', ')} (${(e as Error).message})`);
      }
    }
    if (opts.repair) log?.(`${label}: nothing to repair: the run is finished and every file agrees with its checkpoint`);
    return reuse(before);
  }
  // From here on this process writes the folder: one writer at a time.
  for (let d = dir; !fs.existsSync(d) && path.dirname(d) !== d; d = path.dirname(d)) held.created.push(d);
  held.lock = acquireRunLock(dir, { purpose: `${label}${opts.force ? ' --force' : opts.resume ? ' --resume' : opts.repair ? ' --repair' : ''}` });
  for (const line of openRunDir(dir)) log?.(`${label}: ${line}`);
  const st = runState(dir, expect);
  const rewrite = (what: RunState, files: { config: boolean }): string[] => {
    const lines = rewriteDerived(dir, what, config, hash, opts.set ?? [], files);
    for (const l of lines) log?.(`${label}: ${l}`);
    return lines;
  };
  if (st.kind === 'finished' && !opts.force) {
    if (st.derived.length && wantsRepair) {
      const repaired = rewrite(st, { config: true });
      return reuse({ ...st, derived: [], historyStale: null }, repaired);
    }
    return reuse(st);
  }
  if (st.kind === 'other-config' && !opts.force) throw new Error(`${st.why}; rerun with the same --set values, or \`${fix('force')}\` to replace it`);
  if (st.kind === 'corrupt' && !opts.force) {
    throw new Error(`${label}: ${st.why}. \`${fix('force')}\` trains this run again (the damaged results are replaced only once the new run has written its first checkpoint)`);
  }
  if (opts.repair) {
    if (st.kind === 'empty') throw new Error(`${label}: nothing to repair: ${dir} holds no run yet (\`${fix('resume')}\` trains it)`);
    if (st.kind === 'interrupted') {
      const repaired = rewrite(st, { config: true });
      if (!repaired.length) log?.(`${label}: nothing to repair`);
      log?.(`${label}: ${st.why}; \`${fix('resume')}\` continues it`);
      return { config, dir, history: st.history!, reused: true, repaired, wallSeconds: 0, backend: recordedBackend(dir) };
    }
    // unfinalized: rewrite final/ from the checkpoint below (the training loop has no epoch left to run).
  }
  const ckptFile = runPaths(dir).checkpoint;
  const hasCkpt = st.kind === 'interrupted' || st.kind === 'unfinalized';
  const continuing = hasCkpt && (opts.resume || opts.repair) && !opts.force;
  if (hasCkpt && !continuing && !opts.force) {
    const a: FixAction = st.kind === 'unfinalized' ? 'repair' : 'resume';
    throw new Error(`${label}: an unfinished run is in ${dir} (${st.why}); pass ${a === 'repair' ? '--repair to rewrite it from the checkpoint' : '--resume to continue it'} or --force to start over: \`${fix(a)}\``);
  }
  // --force over existing results: train into a staging folder that replaces them after its first checkpoint.
  let writeDir = dir;
  if (opts.force && st.kind !== 'empty') {
    writeDir = held.staging = stagingDir(dir);
    fs.rmSync(writeDir, { recursive: true, force: true });
    fs.mkdirSync(writeDir, { recursive: true });
  }
  let runId: string | null = crypto.randomUUID();

  const backendInfo: BackendInfo = await initBackend();
  const data = await loadData(config);
  const stepsPerEpoch = Math.floor(data.nTrain / config.batchSize);
  if (stepsPerEpoch < 1) throw new Error(`${config.experiment}: batchSize=${config.batchSize} is larger than the training split (${data.nTrain} examples)`);
  const component = modelComponent(config.model);
  const task = component.task;

  const model = component.build(config, data);
  const optimizer = buildOptimizer(config, model, stepsPerEpoch);
  const rng = new Rng(config.seed);
  let history: History = [];

  let repaired: string[] = [];
  if (continuing) {
    const ck = readRunCheckpoint(ckptFile, model.weights.map((w) => w.originalName));
    try {
      if (ck.configHash !== hash) {
        throw new Error(`${ckptFile} is a checkpoint of another config (hash ${ck.configHash}, this one ${hash}); rerun with the same --set values or --force`);
      }
      model.setWeights(ck.weights);
      optimizer.setState(ck.optimizer);
      rng.setState(ck.rng);
      for (const d of dropoutLayers(model)) if (ck.dropout[d.name]) d.rng.setState(ck.dropout[d.name]);
      history = ck.history;
      runId = ck.runId;
    } finally {
      ck.dispose();
    }
    // A run that trains on writes config.json anew below (same config, this process's backend); one with no epoch
    // left gets it back from the checkpoint's copy. The history files are rewritten here.
    repaired = rewrite(st, { config: st.kind === 'unfinalized' });
    const cfgProblem = st.derived.find((d) => d.file === runPaths(dir).config);
    if (cfgProblem && st.kind !== 'unfinalized') repaired.push(`rewrote config.json (${cfgProblem.why})`);
    if (st.kind === 'unfinalized') {
      log?.(`${label}: ${st.why}; rewriting it from ${ckptFile}`);
      repaired.push(`rewrote final/ from the checkpoint (${st.why})`);
    } else log?.(`${label}: resuming after epoch ${ck.epoch} from ${ckptFile}`);
  }

  const meta = {
    config,
    configHash: hash,
    package: packageVersion(),
    gitCommit: gitCommit(),
    backend: describeBackend(),
    backendInfo,
    versions: { node: process.version, tfjs: tf.version.tfjs },
    data: { source: data.source, selection: data.selection ?? null, nTrain: data.nTrain, nVal: data.val.n, nTest: data.test?.n ?? null },
    stepsPerEpoch,
    set: opts.set ?? [],
    createdAt: new Date().toISOString(),
  };
  fs.mkdirSync(writeDir, { recursive: true });
  if (!(continuing && st.kind === 'unfinalized')) {
    writeRunMeta(writeDir, meta);
    const cfgLine = repaired.find((l) => l.startsWith('rewrote config.json ('));
    if (cfgLine) log?.(`${label}: ${cfgLine}`);
  }
  log?.(`${label}: ${describeBackend()}; ${data.nTrain} train / ${data.val.n} val${data.test ? ` / ${data.test.n} test (after the last epoch)` : ''} images (${data.source}); ${stepsPerEpoch} steps/epoch`);
  log?.(`${label}: config ${JSON.stringify(config)}`);

  const t0 = Date.now();
  try {
    history = await train({
      model,
      optimizer,
      train: data.train,
      val: data.val,
      test: data.test,
      epochs: config.epochs,
      batchSize: config.batchSize,
      rng,
      task,
      history,
      log,
      label,
      onEpoch: async (record, h) => {
        // The checkpoint first: it is the authority (history files lagging behind it are rebuilt on --resume).
        const state = optimizer.getState();
        try {
          writeRunCheckpoint(writeDir, {
            configHash: hash,
            epoch: record.epoch,
            weights: model.weights.map((w) => ({ name: w.originalName, tensor: w.read() })),
            optimizer: state,
            rng: rng.getState(),
            dropout: Object.fromEntries(dropoutLayers(model).map((d) => [d.name, d.rng.getState()])),
            history: h,
            runId,
            runMeta: meta,
          });
        } finally {
          tf.dispose(Object.values(state.tensors));
        }
        writeHistoryFiles(writeDir, h);
        if (writeDir !== dir) {
          commitStaging(writeDir, dir);
          writeDir = dir;
          held.staging = null;
          log?.(`${label}: the new run has its first checkpoint; it now replaces the previous results in ${dir}`);
        }
        await opts.onEpoch?.(record, h);
      },
    });
    await saveModel(model, runPaths(writeDir).final, { runId, configHash: hash, epoch: history.length ? history[history.length - 1].epoch : 0 });
  } finally {
    optimizer.dispose();
    model.dispose();
  }
  if (st.kind === 'unfinalized' && continuing) log?.(`${label}: rewrote final/ from the checkpoint`);
  await component.afterRun?.(dir, config);
  return { config, dir, history, reused: false, repaired, wallSeconds: (Date.now() - t0) / 1000, backend: describeBackend() };
}

/**
 * Rewrites the derived files of run folder `dir` that differ from its checkpoint (`st.derived`): history.json and
 * history.csv from the checkpoint's history, and (with `files.config`) config.json from the copy the checkpoint
 * keeps (checkpoints written before it kept one: from `config`, the config the command line resolves to, whose
 * hash is the checkpoint's). Returns one line per file rewritten.
 */
function rewriteDerived(dir: string, st: RunState, config: ExperimentConfig, hash: string, set: string[], files: { config: boolean }): string[] {
  const p = runPaths(dir);
  const lines: string[] = [];
  const hist = st.derived.filter((d) => d.file === p.historyJson || d.file === p.historyCsv);
  if (hist.length && st.history) {
    writeHistoryFiles(dir, st.history);
    for (const d of hist) lines.push(`rewrote ${path.basename(d.file)} from the checkpoint (${d.why})`);
  }
  const cfg = st.derived.find((d) => d.file === p.config);
  if (cfg && files.config && st.checkpoint) {
    const kept = checkpointRunMeta(st.checkpoint);
    const usable = kept && (kept as { configHash?: string }).configHash === hash;
    writeRunMeta(dir, usable ? (kept as never) : { config, configHash: hash, set, rewritten: 'from the config the command line resolves to (the checkpoint predates keeping a copy of config.json)', rewrittenAt: new Date().toISOString() });
    lines.push(`rewrote config.json from the ${usable ? "checkpoint's copy" : 'resolved config (same hash as the checkpoint)'} (${cfg.why})`);
  }
  return lines;
}
