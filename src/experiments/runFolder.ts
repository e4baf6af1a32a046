/**
 * The run folder's side of one run (./run): what the folder holds decides what a call does. `lockRun` reuses
 * finished results, repairs derived files from the checkpoint, refuses what it must not overwrite, or takes the
 * writer's lock (src/results/lock.ts) and says where training writes: the folder itself, continuing its checkpoint
 * or from scratch, or, for a --force over existing results, a staging folder that replaces them once it holds its
 * first checkpoint (src/results/state.ts `commitStaging`). The checkpoint is the authority: `rewriteDerived`
 * rewrites config.json, history.json and history.csv from it.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ExperimentConfig } from './config';
import { checkpointRunMeta } from '../results/checkpoint';
import { readRunMeta, writeRunMeta } from '../results/config';
import { writeHistoryFiles } from '../results/history';
import { runPaths, stagingDir, type FixAction } from '../results/paths';
import { acquireRunLock, RunLock, RunLockedError } from '../results/lock';
import { leftovers, openRunDir, RunState, runState } from '../results/state';

/** The options of a run that decide what happens to its folder (./run `RunOptions`). */
export interface FolderOptions {
  resume?: boolean;
  force?: boolean;
  repair?: boolean;
}

/** What a run holds while it writes its folder; ./run `runExperiment` releases it whatever happens. */
export interface Held {
  lock: RunLock | null;
  /** The --force staging folder while it has not replaced the previous results. */
  staging: string | null;
  /** Folders created for the lock, deepest first (removed again when left empty). */
  created: string[];
}

export type Log = ((line: string) => void) | null;

/** What one run is: its config and hash, its folder, how it is named in messages. */
export interface Target {
  config: ExperimentConfig;
  hash: string;
  dir: string;
  label: string;
  set: string[];
  log: Log;
  /** What the run folder's state is checked against. */
  expect: { configHash: string; epochs: number };
  /** The command that fixes the folder by action `a`. */
  fix: (a: FixAction) => string;
}

/** A run folder that this process writes: its state under the lock, whether training continues a checkpoint, where it writes. */
export interface Plan {
  st: RunState;
  continuing: boolean;
  /** The run folder, or a --force run's staging folder until its first checkpoint replaces the folder. */
  writeDir: string;
}

/**
 * A run folder this call trains nothing in: finished results to reuse (`reuse`, after rewriting `repaired`), or an
 * interrupted run whose files were repaired (`--repair`; `--resume` continues it).
 */
export interface Kept {
  kept: RunState;
  repaired: string[];
  reuse: boolean;
}

/** Rewrites the files of `t.dir` that differ from its checkpoint (`rewriteDerived`), logging each. */
export function rewriteLogged(t: Target, st: RunState, files: { config: boolean }): string[] {
  const lines = rewriteDerived(t.dir, st, t.config, t.hash, t.set, files);
  for (const l of lines) t.log?.(`${t.label}: ${l}`);
  return lines;
}

/**
 * The lock step: reuses finished results (cleaning what an interrupted writer left), or takes the folder's
 * writer's lock and decides from its state what this call does: reuse or repair it, refuse (another config, damage,
 * an unfinished run without --resume), or train, continuing a checkpoint or from scratch (--force: in staging).
 */
export function lockRun(t: Target, opts: FolderOptions, held: Held): Plan | Kept {
  const { dir, label, log } = t;
  const before = runState(dir, t.expect);
  if (before.checkpoint === null && !opts.force) {
    const existing = readRunMeta(dir, { lenient: true }) as { configHash?: string } | null;
    if (existing?.configHash && existing.configHash !== t.hash) {
      throw new Error(
        `${dir} holds results of another config (hash ${existing.configHash}, this one ${t.hash}); pass --force to replace them or change --set to write elsewhere`,
      );
    }
  }
  const wantsRepair = opts.resume || opts.repair;
  if (before.kind === 'finished' && !opts.force && (!before.derived.length || !wantsRepair)) {
    cleanLeftovers(t, held);
    if (opts.repair)
      log?.(`${label}: nothing to repair: the run is finished and every file agrees with its checkpoint`);
    return { kept: before, repaired: [], reuse: true };
  }
  // From here on this process writes the folder: one writer at a time.
  for (let d = dir; !fs.existsSync(d) && path.dirname(d) !== d; d = path.dirname(d)) held.created.push(d);
  held.lock = acquireRunLock(dir, {
    purpose: `${label}${opts.force ? ' --force' : opts.resume ? ' --resume' : opts.repair ? ' --repair' : ''}`,
  });
  for (const line of openRunDir(dir)) log?.(`${label}: ${line}`);
  const st = runState(dir, t.expect);
  if (st.kind === 'finished' && !opts.force) {
    if (st.derived.length && wantsRepair)
      return {
        kept: { ...st, derived: [], historyStale: null },
        repaired: rewriteLogged(t, st, { config: true }),
        reuse: true,
      };
    return { kept: st, repaired: [], reuse: true };
  }
  if (st.kind === 'other-config' && !opts.force)
    throw new Error(`${st.why}; rerun with the same --set values, or \`${t.fix('force')}\` to replace it`);
  if (st.kind === 'corrupt' && !opts.force) {
    throw new Error(
      `${label}: ${st.why}. \`${t.fix('force')}\` trains this run again (the damaged results are replaced only once the new run has written its first checkpoint)`,
    );
  }
  if (opts.repair) {
    if (st.kind === 'empty')
      throw new Error(`${label}: nothing to repair: ${dir} holds no run yet (\`${t.fix('resume')}\` trains it)`);
    if (st.kind === 'interrupted') {
      const repaired = rewriteLogged(t, st, { config: true });
      if (!repaired.length) log?.(`${label}: nothing to repair`);
      log?.(`${label}: ${st.why}; \`${t.fix('resume')}\` continues it`);
      return { kept: st, repaired, reuse: false };
    }
    // unfinalized: rewrite final/ from the checkpoint (the training loop has no epoch left to run).
  }
  const hasCkpt = st.kind === 'interrupted' || st.kind === 'unfinalized';
  const continuing = hasCkpt && !!(opts.resume || opts.repair) && !opts.force;
  if (hasCkpt && !continuing && !opts.force) {
    const a: FixAction = st.kind === 'unfinalized' ? 'repair' : 'resume';
    throw new Error(
      `${label}: an unfinished run is in ${dir} (${st.why}); pass ${a === 'repair' ? '--repair to rewrite it from the checkpoint' : '--resume to continue it'} or --force to start over: \`${t.fix(a)}\``,
    );
  }
  // --force over existing results: train into a staging folder that replaces them after its first checkpoint.
  let writeDir = dir;
  if (opts.force && st.kind !== 'empty') {
    writeDir = held.staging = stagingDir(dir);
    fs.rmSync(writeDir, { recursive: true, force: true });
    fs.mkdirSync(writeDir, { recursive: true });
  }
  return { st, continuing, writeDir };
}

/** Cleans what an interrupted writer left in a finished run's folder (a --force that did not commit is rolled back), unless someone writes it now. */
function cleanLeftovers(t: Target, held: Held): void {
  const left = leftovers(t.dir);
  if (!left.length) return;
  try {
    held.lock = acquireRunLock(t.dir, { purpose: `${t.label} (cleaning)` });
    for (const line of openRunDir(t.dir)) t.log?.(`${t.label}: ${line}`);
  } catch (e) {
    // Someone writes it now (their leftovers are theirs), or it cannot be written (read-only): reuse as is.
    if (!(e instanceof RunLockedError))
      t.log?.(`${t.label}: could not clean ${left.join(', ')} (${(e as Error).message})`);
  }
}

/**
 * Rewrites the derived files of run folder `dir` that differ from its checkpoint (`st.derived`): history.json and
 * history.csv from the checkpoint's history, and (with `files.config`) config.json from the copy the checkpoint
 * keeps (checkpoints written before it kept one: from `config`, the config the command line resolves to, whose
 * hash is the checkpoint's). Returns one line per file rewritten.
 */
function rewriteDerived(
  dir: string,
  st: RunState,
  config: ExperimentConfig,
  hash: string,
  set: string[],
  files: { config: boolean },
): string[] {
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
    writeRunMeta(
      dir,
      usable
        ? (kept as never)
        : {
            config,
            configHash: hash,
            set,
            rewritten:
              'from the config the command line resolves to (the checkpoint predates keeping a copy of config.json)',
            rewrittenAt: new Date().toISOString(),
          },
    );
    lines.push(
      `rewrote config.json from the ${usable ? "checkpoint's copy" : 'resolved config (same hash as the checkpoint)'} (${cfg.why})`,
    );
  }
  return lines;
}
