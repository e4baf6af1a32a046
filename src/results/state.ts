/**
 * The state of a run folder, decided from what can be verified (the checkpoint's checksum and epoch, final/'s
 * manifest) rather than from which files exist:
 *
 *   empty        nothing trained yet (no checkpoint, no final model)
 *   interrupted  a valid checkpoint before the last epoch: --resume continues it
 *   unfinalized  a valid checkpoint at the last epoch, final/ missing or not matching: --resume rewrites final/
 *   finished     a valid checkpoint at the last epoch and final/ matching its manifest and that checkpoint
 *   corrupt      a checkpoint that fails its checks, or results without a checkpoint
 *   other-config a valid checkpoint of another config
 *
 * history.json/history.csv and config.json are derived from the checkpoint (which holds the history and a copy
 * of config.json): `derived` lists each that is missing, damaged, behind or another's, and the runner rewrites
 * them from the checkpoint (`--resume`, `--repair`). This is the writer's view (it knows the config it expects);
 * readers use ./verify.
 *
 * Also here: cleaning a run folder when a writer opens it (stale temp files, staging folders of --force runs that
 * did not commit, a dead lock's leftovers) and the commit of a --force run: `commitStaging` moves the staged
 * checkpoint over the folder's in ONE rename (the commit point: before it the previous run is intact, after it
 * the new run is the folder's run), then its derived files. Nothing ever promotes a staging folder later: a
 * staging folder that did not commit is deleted by the next writer (the --force is rolled back).
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkpointHistory, checkpointRunId, checkpointRunMeta, CheckpointHeader, readCheckpointHeader } from './checkpoint';
import { checkRunMeta } from './config';
import { checkFinalDir } from './final';
import { historyProblems, type FileProblem } from './history';
import { CHECKPOINT_FILE, CONFIG_FILE, HISTORY_CSV, HISTORY_JSON, LOCK_FILE, runPaths, stagingPid } from './paths';
import type { History } from '../train/history';
import { fsyncDir, isTempName, removeStaleTemps, writeError } from '../util/fs';
import { lockOwnerState, readRunLock } from './lock';

export { CHECKPOINT_FILE, FINAL_DIR, RUN_FILES, stagingDir } from './paths';

export type RunStateKind = 'empty' | 'interrupted' | 'unfinalized' | 'finished' | 'corrupt' | 'other-config';

export interface RunState {
  kind: RunStateKind;
  dir: string;
  /** The checkpoint's header when it verified. */
  checkpoint: CheckpointHeader | null;
  /** The history stored in the checkpoint (the authority), or null. */
  history: History | null;
  /** Why the state is not 'finished' / why something is damaged (one line), or null. */
  why: string | null;
  /** Why history.json/history.csv do not match the checkpoint's history, or null when they do. */
  historyStale: string | null;
  /** config.json and the history files that do not match the checkpoint (each rewritable from it), with why. */
  derived: FileProblem[];
}

/** Decides the state of run folder `dir` for a config (hash + epochs); see the module comment. */
export function runState(dir: string, expect: { configHash: string; epochs: number }): RunState {
  const p = runPaths(dir);
  const ck = p.checkpoint;
  const base = { dir, checkpoint: null, history: null, historyStale: null, derived: [] };
  if (!fs.existsSync(ck)) {
    const leftovers = [p.historyJson, p.final].filter((f) => fs.existsSync(f)).map((f) => path.basename(f));
    if (leftovers.length) return { ...base, kind: 'corrupt', why: `${ck} is missing but ${leftovers.join(' and ')} exist` };
    return { ...base, kind: 'empty', why: null };
  }
  let header: CheckpointHeader;
  try {
    header = readCheckpointHeader(ck);
  } catch (e) {
    return { ...base, kind: 'corrupt', why: (e as Error).message };
  }
  const history = checkpointHistory(header);
  const hist = historyProblems(dir, history);
  const cfg = checkRunMeta(dir, { configHash: header.configHash, runMeta: checkpointRunMeta(header) });
  const derived = [...(cfg.problem ? [{ file: p.config, why: cfg.problem }] : []), ...hist];
  const withCk = { dir, checkpoint: header, history, historyStale: hist.length ? hist.map((x) => x.why).join('; ') : null, derived };
  if (header.configHash !== expect.configHash) {
    return { ...withCk, kind: 'other-config', why: `${ck} is a checkpoint of another config (hash ${header.configHash}, this one ${expect.configHash})` };
  }
  if (header.epoch < expect.epochs) return { ...withCk, kind: 'interrupted', why: `training stopped after epoch ${header.epoch} of ${expect.epochs}` };
  const fin = checkFinalDir(dir);
  if (!fin.ok) return { ...withCk, kind: 'unfinalized', why: `training is complete (epoch ${header.epoch} of ${expect.epochs}) but the final model is not: ${fin.why}` };
  const m = fin.manifest!.meta ?? {};
  const ckRun = checkpointRunId(header);
  if (m.configHash !== header.configHash || m.epoch !== header.epoch || ((m.runId as string | undefined) ?? null) !== ckRun) {
    return { ...withCk, kind: 'unfinalized', why: `training is complete (epoch ${header.epoch}) but ${p.final} belongs to another run` };
  }
  return { ...withCk, kind: 'finished', why: null };
}

/**
 * Commits a --force run staged in `staging` (its first checkpoint, config.json and history files) to run folder
 * `dir`, replacing the previous run's results. The commit point is one rename: the staged checkpoint over the
 * folder's. Before it the previous run is whole; after it the folder's state is the new run's (at its first
 * epoch), and the previous run's final model, predictions, config and history files are removed or replaced; a
 * crash in between leaves derived files that no longer match the checkpoint, which readers report and
 * `--resume`/`--repair` rewrite from it. Errors name the file.
 */
export function commitStaging(staging: string, dir: string): void {
  const p = runPaths(dir);
  const from = (f: string) => path.join(staging, f);
  if (!fs.existsSync(from(CHECKPOINT_FILE))) throw new Error(`${staging} holds no checkpoint to commit`);
  try {
    fs.renameSync(from(CHECKPOINT_FILE), p.checkpoint); // the commit point
  } catch (e) {
    throw writeError(p.checkpoint, e);
  }
  fsyncDir(dir);
  fs.rmSync(p.final, { recursive: true, force: true });
  fs.rmSync(p.predictions, { force: true });
  for (const f of [CONFIG_FILE, HISTORY_JSON, HISTORY_CSV]) {
    if (!fs.existsSync(from(f))) continue;
    try {
      fs.renameSync(from(f), path.join(dir, f));
    } catch (e) {
      throw writeError(path.join(dir, f), e);
    }
  }
  fsyncDir(dir);
  fs.rmSync(staging, { recursive: true, force: true });
}

/**
 * Cleans run folder `dir` when a writer opens it (call it holding the lock): rolls back every --force that did
 * not commit (its staging folder is deleted, never promoted; so is the marker an older version left for a
 * promotion), and removes temp files of interrupted writes and aside-moved stale locks. `keep` is this
 * process's own staging folder, if any. Returns what it did, one line each.
 */
export function openRunDir(dir: string, keep: string | null = null): string[] {
  const done: string[] = [];
  if (!fs.existsSync(dir)) return done;
  const marker = runPaths(dir).promoting;
  if (fs.existsSync(marker)) {
    fs.rmSync(marker, { force: true });
    done.push(`removed ${path.basename(marker)} (left by an interrupted --force of an older version; its staged run is not used)`);
  }
  for (const n of fs.readdirSync(dir)) {
    const full = path.join(dir, n);
    if (stagingPid(n) !== null && full !== keep) {
      const ck = fs.existsSync(path.join(full, CHECKPOINT_FILE));
      fs.rmSync(full, { recursive: true, force: true });
      done.push(ck ? `rolled back an interrupted --force: removed ${n}, whose run never committed; the folder keeps its previous results` : `removed ${n}, the staging folder of an interrupted --force`);
    } else if (n.startsWith(`${LOCK_FILE}.stale-`)) {
      fs.rmSync(full, { force: true });
    }
  }
  // The lock is held: no temp file here belongs to a live writer of this folder (a lock being taken by another
  // process writes its temp file again if it vanishes).
  for (const d of [dir, runPaths(dir).final]) {
    const r = removeStaleTemps(d, { all: true });
    if (r.length) done.push(`removed ${r.length} temp file(s) of interrupted writes in ${d}`);
  }
  return done;
}

/**
 * What an interrupted writer left in run folder `dir` for the next writer to clean (see `openRunDir`): staging
 * folders of --force runs, an older version's promotion marker, temp files, aside-moved locks, a lock whose
 * owner is dead. [] when there is nothing (a live writer's lock is not a leftover).
 */
export function leftovers(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out = names.filter((n) => stagingPid(n) !== null || n === path.basename(runPaths(dir).promoting) || isTempName(n) || n.startsWith(`${LOCK_FILE}.stale-`));
  const lock = readRunLock(dir);
  if (lock === 'unreadable' || (lock && lockOwnerState(lock) === 'dead')) out.push(LOCK_FILE);
  return out;
}
