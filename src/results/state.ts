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
 * history.json/history.csv are derived from the checkpoint (which holds the history): `historyStale` says
 * when they are missing, damaged, behind or ahead, and `writeRunHistory` in run.ts rebuilds them.
 *
 * Also here: cleaning a run folder when it is opened (stale temp files and staging folders of dead
 * processes, an interrupted --force promotion) and the promotion of a --force staging folder itself.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointHeader, readCheckpointHeader } from '../experiments/checkpoint';
import { checkModelDir } from './final';
import type { History } from '../train/history';
import { fsyncDir, pidAlive, removeStaleTemps } from '../util/fs';

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
}

export const CHECKPOINT_FILE = 'checkpoint.bin';
export const FINAL_DIR = 'final';
/** Files a run writes that are derived from, or belong to, one checkpoint. */
export const RUN_FILES = [CHECKPOINT_FILE, 'config.json', 'history.json', 'history.csv'];
const STAGING_RE = /^\.force-(\d+)$/;
const PROMOTING = '.promoting';

function historyStaleness(dir: string, history: History): string | null {
  const hf = path.join(dir, 'history.json');
  let text: string;
  try {
    text = fs.readFileSync(hf, 'utf8');
  } catch {
    return `${hf} is missing`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `${hf} is not valid JSON (truncated or damaged)`;
  }
  if (!Array.isArray(parsed)) return `${hf} is not an array of epoch records`;
  if (parsed.length !== history.length) return `${hf} has ${parsed.length} epochs, the checkpoint ${history.length}`;
  if (JSON.stringify(parsed) !== JSON.stringify(history)) return `${hf} differs from the history in the checkpoint`;
  const cf = path.join(dir, 'history.csv');
  try {
    const lines = fs.readFileSync(cf, 'utf8').split('\n').filter((l) => l.length);
    if (lines.length !== history.length + 1) return `${cf} has ${lines.length - 1} rows, the checkpoint ${history.length} epochs`;
  } catch {
    return `${cf} is missing`;
  }
  return null;
}

/** Decides the state of run folder `dir` for a config (hash + epochs); see the module comment. */
export function runState(dir: string, expect: { configHash: string; epochs: number }): RunState {
  const ck = path.join(dir, CHECKPOINT_FILE);
  const base = { dir, checkpoint: null, history: null, historyStale: null };
  if (!fs.existsSync(ck)) {
    const leftovers = ['history.json', FINAL_DIR].filter((f) => fs.existsSync(path.join(dir, f)));
    if (leftovers.length) return { ...base, kind: 'corrupt', why: `${ck} is missing but ${leftovers.join(' and ')} exist` };
    return { ...base, kind: 'empty', why: null };
  }
  let header: CheckpointHeader;
  try {
    header = readCheckpointHeader(ck);
  } catch (e) {
    return { ...base, kind: 'corrupt', why: (e as Error).message };
  }
  const history = (Array.isArray(header.meta?.history) ? header.meta.history : []) as History;
  const withCk = { dir, checkpoint: header, history, historyStale: historyStaleness(dir, history) };
  if (header.configHash !== expect.configHash) {
    return { ...withCk, kind: 'other-config', why: `${ck} is a checkpoint of another config (hash ${header.configHash}, this one ${expect.configHash})` };
  }
  if (header.epoch < expect.epochs) return { ...withCk, kind: 'interrupted', why: `training stopped after epoch ${header.epoch} of ${expect.epochs}` };
  const fin = checkModelDir(path.join(dir, FINAL_DIR));
  if (!fin.ok) return { ...withCk, kind: 'unfinalized', why: `training is complete (epoch ${header.epoch} of ${expect.epochs}) but the final model is not: ${fin.why}` };
  const m = fin.manifest!.meta ?? {};
  const ckRun = (header.meta?.runId as string | undefined) ?? null;
  if (m.configHash !== header.configHash || m.epoch !== header.epoch || ((m.runId as string | undefined) ?? null) !== ckRun) {
    return { ...withCk, kind: 'unfinalized', why: `training is complete (epoch ${header.epoch}) but ${path.join(dir, FINAL_DIR)} belongs to another run` };
  }
  return { ...withCk, kind: 'finished', why: null };
}

/** The --force staging folder of this process inside run folder `dir`. */
export function stagingDir(dir: string): string {
  return path.join(dir, `.force-${process.pid}`);
}

/**
 * Moves a --force run's first files from `staging` into `dir`, replacing the previous run's: the checkpoint
 * first (from then on the new run is the run of this folder), then config and history, then the old final
 * model is removed. A marker file makes an interrupted promotion complete the next time the folder is opened.
 */
export function promoteStaging(staging: string, dir: string): void {
  fs.writeFileSync(path.join(dir, PROMOTING), path.basename(staging) + '\n');
  fsyncDir(dir);
  finishPromotion(dir, staging);
}

function finishPromotion(dir: string, staging: string): void {
  if (fs.existsSync(staging)) {
    for (const f of RUN_FILES) {
      const src = path.join(staging, f);
      if (fs.existsSync(src)) fs.renameSync(src, path.join(dir, f));
    }
    fs.rmSync(path.join(dir, FINAL_DIR), { recursive: true, force: true });
  }
  fsyncDir(dir);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.rmSync(path.join(dir, PROMOTING), { force: true });
  fsyncDir(dir);
}

/**
 * Cleans run folder `dir` when a writer opens it (call it holding the lock): completes an interrupted --force
 * promotion, removes staging folders of dead --force runs and stale temp files. Returns what it did.
 */
export function openRunDir(dir: string): string[] {
  const done: string[] = [];
  if (!fs.existsSync(dir)) return done;
  const marker = path.join(dir, PROMOTING);
  if (fs.existsSync(marker)) {
    const staging = path.join(dir, fs.readFileSync(marker, 'utf8').trim());
    if (STAGING_RE.test(path.basename(staging))) {
      finishPromotion(dir, staging);
      done.push(`completed the interrupted replacement of the previous results by ${path.basename(staging)}`);
    } else fs.rmSync(marker, { force: true });
  }
  for (const n of fs.readdirSync(dir)) {
    const m = STAGING_RE.exec(n);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
      fs.rmSync(path.join(dir, n), { recursive: true, force: true });
      done.push(`removed ${n} (an interrupted --force run that had not reached its first checkpoint)`);
    }
  }
  // The lock is held: no temp file here belongs to a live writer of this folder.
  for (const d of [dir, path.join(dir, FINAL_DIR)]) {
    const r = removeStaleTemps(d, { all: true });
    if (r.length) done.push(`removed ${r.length} temp file(s) of interrupted writes in ${d}`);
  }
  return done;
}
