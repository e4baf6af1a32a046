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
 * when they are missing, damaged, behind or ahead, and `writeHistoryFiles` (./history) rebuilds them.
 *
 * Also here: cleaning a run folder when it is opened (stale temp files and staging folders of dead
 * processes, an interrupted --force promotion) and the promotion of a --force staging folder itself.
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkpointHistory, CheckpointHeader, readCheckpointHeader } from './checkpoint';
import { checkFinalDir } from './final';
import { historyStaleness } from './history';
import { RUN_FILES, runPaths, stagingPid } from './paths';
import type { History } from '../train/history';
import { fsyncDir, pidAlive, removeStaleTemps } from '../util/fs';

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
}

/** Decides the state of run folder `dir` for a config (hash + epochs); see the module comment. */
export function runState(dir: string, expect: { configHash: string; epochs: number }): RunState {
  const p = runPaths(dir);
  const ck = p.checkpoint;
  const base = { dir, checkpoint: null, history: null, historyStale: null };
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
  const withCk = { dir, checkpoint: header, history, historyStale: historyStaleness(dir, history) };
  if (header.configHash !== expect.configHash) {
    return { ...withCk, kind: 'other-config', why: `${ck} is a checkpoint of another config (hash ${header.configHash}, this one ${expect.configHash})` };
  }
  if (header.epoch < expect.epochs) return { ...withCk, kind: 'interrupted', why: `training stopped after epoch ${header.epoch} of ${expect.epochs}` };
  const fin = checkFinalDir(dir);
  if (!fin.ok) return { ...withCk, kind: 'unfinalized', why: `training is complete (epoch ${header.epoch} of ${expect.epochs}) but the final model is not: ${fin.why}` };
  const m = fin.manifest!.meta ?? {};
  const ckRun = (header.meta?.runId as string | undefined) ?? null;
  if (m.configHash !== header.configHash || m.epoch !== header.epoch || ((m.runId as string | undefined) ?? null) !== ckRun) {
    return { ...withCk, kind: 'unfinalized', why: `training is complete (epoch ${header.epoch}) but ${p.final} belongs to another run` };
  }
  return { ...withCk, kind: 'finished', why: null };
}

/**
 * Moves a --force run's first files from `staging` into `dir`, replacing the previous run's: the checkpoint
 * first (from then on the new run is the run of this folder), then config and history, then the old final
 * model is removed. A marker file makes an interrupted promotion complete the next time the folder is opened.
 */
export function promoteStaging(staging: string, dir: string): void {
  fs.writeFileSync(runPaths(dir).promoting, path.basename(staging) + '\n');
  fsyncDir(dir);
  finishPromotion(dir, staging);
}

function finishPromotion(dir: string, staging: string): void {
  if (fs.existsSync(staging)) {
    for (const f of RUN_FILES) {
      const src = path.join(staging, f);
      if (fs.existsSync(src)) fs.renameSync(src, path.join(dir, f));
    }
    fs.rmSync(runPaths(dir).final, { recursive: true, force: true });
  }
  fsyncDir(dir);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.rmSync(runPaths(dir).promoting, { force: true });
  fsyncDir(dir);
}

/**
 * Cleans run folder `dir` when a writer opens it (call it holding the lock): completes an interrupted --force
 * promotion, removes staging folders of dead --force runs and stale temp files. Returns what it did.
 */
export function openRunDir(dir: string): string[] {
  const done: string[] = [];
  if (!fs.existsSync(dir)) return done;
  const marker = runPaths(dir).promoting;
  if (fs.existsSync(marker)) {
    const staging = path.join(dir, fs.readFileSync(marker, 'utf8').trim());
    if (stagingPid(path.basename(staging)) !== null) {
      finishPromotion(dir, staging);
      done.push(`completed the interrupted replacement of the previous results by ${path.basename(staging)}`);
    } else fs.rmSync(marker, { force: true });
  }
  for (const n of fs.readdirSync(dir)) {
    const pid = stagingPid(n);
    if (pid !== null && pid !== process.pid && !pidAlive(pid)) {
      fs.rmSync(path.join(dir, n), { recursive: true, force: true });
      done.push(`removed ${n} (an interrupted --force run that had not reached its first checkpoint)`);
    }
  }
  // The lock is held: no temp file here belongs to a live writer of this folder.
  for (const d of [dir, runPaths(dir).final]) {
    const r = removeStaleTemps(d, { all: true });
    if (r.length) done.push(`removed ${r.length} temp file(s) of interrupted writes in ${d}`);
  }
  return done;
}
