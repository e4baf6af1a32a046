/**
 * The one verified reader of a run folder: what the figures, the summary, the notebooks and the verdicts take a
 * run's numbers from. The checkpoint is the authority (it is sealed with a SHA-256 and holds the whole history);
 * every other file is derived from it and must agree with it before a number counts:
 *
 *   finished     the checkpoint verifies and holds the configured number of epochs; config.json names the same
 *                config hash (and config, when the checkpoint keeps a copy of config.json); final/ matches its
 *                manifest, which names the same config hash, epoch and run id; history.json and history.csv equal
 *                what the checkpoint's history gives. Only these runs have final numbers.
 *   interrupted  a verified checkpoint before the last epoch (or a started run without one yet): `--resume`
 *   unfinalized  training complete, final/ missing, damaged or another run's: `--repair` rewrites it
 *   damaged      a checkpoint that fails its checks or is missing beside results (`--force` trains again), or a
 *                derived file that differs from the checkpoint: which file and why (`--repair` rewrites it)
 *   empty        nothing written yet
 *   unverified   a history.json with no trace of the runner (no checkpoint, no final/, a config.json without a
 *                config hash): hand-made or imported histories, shown as they are and never used for a verdict
 *
 * Every state other than `finished` carries `why` (one line) and `fix` (the command that fixes it). A live writer
 * of the folder (its lock's owner) is named in `writer`. Readers take no lock and write nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { History } from '../train/history';
import { checkpointHistory, checkpointRunId, checkpointRunMeta, readCheckpointHeader, type CheckpointHeader } from './checkpoint';
import { checkRunMeta, readRunMeta } from './config';
import { checkFinalDir } from './final';
import { historyProblems, parseHistory, type FileProblem } from './history';
import { lockOwnerState, readRunLock, type LockOwner } from './lock';
import { fixCommand, listSeedDirs, resultsRoot, runOfDir, runPaths, type FixAction } from './paths';

export type { FileProblem } from './history';

export type RunStatusKind = 'finished' | 'interrupted' | 'unfinalized' | 'damaged' | 'empty' | 'unverified';

/** What a run folder holds, verified (see the module comment). */
export interface RunStatus {
  kind: RunStatusKind;
  dir: string;
  experiment: string;
  /** The profile folder ('quick', or 'quick-<hash>' for overridden configs). */
  profile: string;
  seed: number;
  /** Epochs the verified checkpoint holds (null without one). */
  epoch: number | null;
  /** Epochs the run is configured for (null when neither config.json nor the checkpoint can tell). */
  epochs: number | null;
  /** The checkpoint's history (the authority) when the checkpoint verifies; a hand-made history when `unverified`; else null. */
  history: History | null;
  /** config.json when it agrees with the checkpoint, else the checkpoint's copy of it, else what config.json holds (null if nothing). */
  meta: Record<string, any> | null;
  /** Each file that is damaged or does not match the checkpoint, and why. */
  problems: FileProblem[];
  /** The live process writing this folder now (from its lock), or null. */
  writer: LockOwner | null;
  /** What the state is, in one line (null when finished). */
  why: string | null;
  /** The command that fixes it (null when finished, empty or unverified). */
  fix: string | null;
}

/** True when `s` is a finished, verified run: the only state whose numbers are final. */
export function isFinal(s: RunStatus): boolean {
  return s.kind === 'finished';
}

function liveWriter(dir: string): LockOwner | null {
  const o = readRunLock(dir);
  return o && o !== 'unreadable' && lockOwnerState(o) !== 'dead' ? o : null;
}

const positiveInt = (v: unknown): number | null => (Number.isInteger(v) && (v as number) >= 1 ? (v as number) : null);

/** A status of the run folder being inspected: `kind`, the fields known, and the action that fixes it. */
type Make = (kind: RunStatusKind, o: Partial<RunStatus> & { action?: FixAction | null }) => RunStatus;

/**
 * The status of a run folder without a checkpoint: empty; a history written by something else (unverified); started
 * but stopped before its first epoch ended (interrupted); or files that cannot be verified (damaged).
 */
function withoutCheckpoint(dir: string, make: Make): RunStatus {
  const p = runPaths(dir);
  const present = [p.historyJson, p.historyCsv, p.final, p.config].filter((f) => fs.existsSync(f));
  if (!present.length) return make('empty', {});
  const meta = readRunMeta(dir, { lenient: true });
  const runnerConfig = meta !== null && ('configHash' in meta || 'config' in meta);
  const configUnreadable = fs.existsSync(p.config) && meta === null;
  if (!runnerConfig && !configUnreadable && !fs.existsSync(p.final) && fs.existsSync(p.historyJson)) {
    try {
      const history = parseHistory(fs.readFileSync(p.historyJson, 'utf8'), p.historyJson);
      return make('unverified', { history, meta, why: 'a history without a checkpoint (not written by npm run experiment): shown as it is, never used for a verdict' });
    } catch (e) {
      return make('damaged', { meta, problems: [{ file: p.historyJson, why: (e as Error).message }], why: (e as Error).message });
    }
  }
  if (runnerConfig && present.length === 1 && present[0] === p.config) {
    return make('interrupted', { meta, epoch: 0, epochs: positiveInt(meta!.config?.epochs), why: 'started, stopped before its first epoch ended (no checkpoint yet)', action: 'resume' });
  }
  const why = `${p.checkpoint} is missing but ${present.map((f) => path.basename(f)).join(', ')} exist: the results cannot be verified`;
  return make('damaged', { meta, problems: [{ file: p.checkpoint, why }], why, action: 'force' });
}

/** Why final/ of `dir` is not the model of the checkpoint `header` (missing, damaged, or another run's), or null. */
function finalProblem(dir: string, header: CheckpointHeader): string | null {
  const fin = checkFinalDir(dir);
  if (!fin.ok) return `final model: ${fin.why}`;
  const m = fin.manifest!.meta ?? {};
  const ckRun = checkpointRunId(header);
  if (m.configHash !== header.configHash || m.epoch !== header.epoch || ((m.runId as string | undefined) ?? null) !== ckRun) {
    return `${runPaths(dir).final} belongs to another run than the checkpoint (config ${m.configHash ?? '?'}, epoch ${m.epoch ?? '?'}, run ${m.runId ?? '?'})`;
  }
  return null;
}

/** Reads and verifies run folder `dir` (see the module comment). Never throws for damage: it reports it. */
export function inspectRun(dir: string): RunStatus {
  const p = runPaths(dir);
  const at = runOfDir(dir) ?? { experiment: path.basename(path.dirname(path.dirname(dir))), profile: path.basename(path.dirname(dir)), seed: NaN };
  const writer = liveWriter(dir);
  const base = { dir, ...at, writer };
  const make: Make = (kind, o) => {
    const { action, ...rest } = o;
    const meta = rest.meta ?? null;
    let why = rest.why ?? null;
    if (why && writer) why += ` (being written now by pid ${writer.pid} on ${writer.host})`;
    return { kind, epoch: null, epochs: null, history: null, problems: [], ...base, ...rest, meta, why, fix: action ? fixCommand(dir, action, meta) : null };
  };

  if (!fs.existsSync(p.checkpoint)) return withoutCheckpoint(dir, make);

  let header: CheckpointHeader;
  try {
    header = readCheckpointHeader(p.checkpoint);
  } catch (e) {
    const why = (e as Error).message;
    return make('damaged', { meta: readRunMeta(dir, { lenient: true }), problems: [{ file: p.checkpoint, why }], why, action: 'force' });
  }
  const history = checkpointHistory(header);
  const epoch = header.epoch;
  const runMeta = checkpointRunMeta(header);
  if (history.length !== epoch || history.some((r, i) => r?.epoch !== i + 1)) {
    const why = `${p.checkpoint} holds ${history.length} history records for epoch ${epoch}: it cannot be trusted`;
    return make('damaged', { epoch, meta: runMeta, problems: [{ file: p.checkpoint, why }], why, action: 'force' });
  }
  const cfg = checkRunMeta(dir, { configHash: header.configHash, runMeta });
  const meta = cfg.problem ? runMeta ?? cfg.meta : cfg.meta;
  const epochs = cfg.problem ? positiveInt((runMeta as any)?.config?.epochs) : positiveInt(cfg.meta!.config.epochs);
  const problems: FileProblem[] = [];
  if (cfg.problem) problems.push({ file: p.config, why: cfg.problem });
  problems.push(...historyProblems(dir, history));
  const common = { epoch, epochs, history, meta };

  if (epochs === null) {
    const why = `${problems.map((x) => x.why).join('; ')}; so the configured number of epochs is unknown (the checkpoint holds ${epoch})`;
    return make('damaged', { ...common, problems, why, action: 'repair' });
  }
  if (epoch < epochs) {
    return make('interrupted', { ...common, problems, why: `interrupted after epoch ${epoch} of ${epochs}`, action: 'resume' });
  }
  if (epoch > epochs) {
    const why = `${p.checkpoint} holds ${epoch} epochs, the config ${epochs}`;
    return make('damaged', { ...common, problems: [...problems, { file: p.checkpoint, why }], why, action: 'force' });
  }
  const finalWhy = finalProblem(dir, header);
  if (finalWhy) problems.push({ file: p.final, why: finalWhy });
  if (!problems.length) return make('finished', common);
  const why = `training complete (epoch ${epoch} of ${epochs}) but ${problems.map((x) => x.why).join('; ')}`;
  return make(problems.length === 1 && finalWhy ? 'unfinalized' : 'damaged', { ...common, problems, why, action: 'repair' });
}

/** `inspectRun` of every `seed-<n>` folder of <root>/<experiment>/<profile>, sorted by seed ([] when none). */
export function inspectRuns(experiment: string, profile: string, root = resultsRoot()): RunStatus[] {
  return listSeedDirs(experiment, profile, root).map((s) => inspectRun(s.dir));
}

/** One line for a run that is not final: `<experiment>/<profile>/seed-<n>: <kind>: <why> → <fix>`. */
export function statusLine(s: RunStatus): string {
  return `${s.experiment}/${s.profile}/seed-${s.seed}: ${s.kind}${s.why ? `: ${s.why}` : ''}${s.fix ? ` (fix: ${s.fix})` : ''}`;
}
