/**
 * Sweeps: every experiment × seed of a profile as the tasks of one Slurm array job.
 *
 *   sweeps/<id>/tasks.tsv     task, experiment, profile, seed, run folder (one line per task)
 *   sweeps/<id>/job.sbatch    the array job; task i runs line i as `npm run experiment -- … --resume`
 *   sweeps/<id>/sweep.json    what the sweep was made with, and the job id(s) it was submitted as
 *   sweeps/<id>/logs/task-<i>.log   one log per task (a requeued task appends to it)
 *
 * Results go to the usual run folders under the results root (BNN_RESULTS_DIR): the figures, notebooks and
 * `status` read them with src/results, the one reader of results folders.
 */
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../util/paths';
import { envSbatch, envSweepsDir } from '../util/env';
import { resolveConfig } from '../experiments/run';
import { loadRunDir, lockOwnerState, readRunLock, runPaths } from '../results';
import { atomicWrite, atomicWriteJson } from '../util/fs';
import { planSweep, type PlanOptions, type SweepTask } from './plan';
import {
  checkPath,
  jobScript,
  logFile,
  parseTasksTsv,
  sbatchOptions,
  shQuote,
  type SlurmOptions,
  type SweepSpec,
  tasksTsv,
} from './sbatch';
import { queryTaskStates, submit, type TaskStates } from './slurm';

export { planSweep, type SweepTask } from './plan';
export * from './sbatch';
export { expandArrayTasks, parseTaskStates, queryTaskStates } from './slurm';

/** Where sweep folders go: explicit > env BNN_SWEEPS_DIR > <project>/sweeps. */
export function sweepsRoot(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return path.resolve(explicit);
  return envSweepsDir(env) ?? path.join(repoRoot(), 'sweeps');
}

export interface SweepMeta {
  id: string;
  profile: string;
  set: string[];
  resultsRoot: string;
  dataDir: string | null;
  backend: string | null;
  repo: string;
  createdAt: string;
  tasks: number;
  sbatchOptions: string[];
  /** Array jobs this sweep was submitted as, oldest first. */
  jobs: { id: string; submittedAt: string }[];
}

export interface CreateOptions extends PlanOptions {
  id?: string;
  sweepsDir?: string;
  dataDir?: string;
  backend?: string;
  slurm: SlurmOptions;
  nodeBinDir?: string;
}

export interface CreatedSweep {
  dir: string;
  spec: SweepSpec;
  tasks: SweepTask[];
  notes: string[];
  /** The command that submits it. */
  sbatchLine: string;
}

function defaultId(profile: string, now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${profile}-${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
}

/** Plans a sweep and writes its folder (tasks.tsv, job.sbatch, sweep.json, logs/); submits nothing. */
export function createSweep(o: CreateOptions): CreatedSweep {
  const id = o.id ?? defaultId(o.profile);
  if (!/^[^/\\\t\n\r]+$/.test(id) || id === '.' || id === '..')
    throw new Error(`--id ${JSON.stringify(id)}: a sweep id is one folder name`);
  const dir = path.join(sweepsRoot(o.sweepsDir), id);
  checkPath('sweep folder', dir);
  if (fs.existsSync(path.join(dir, 'sweep.json'))) {
    throw new Error(
      `sweep ${id} exists (${dir}); pick another --id, or submit it again with: npm run sweep -- submit ${shQuote(id)}`,
    );
  }
  const { tasks, notes, set } = planSweep(o);
  const spec: SweepSpec = {
    id,
    dir,
    repo: repoRoot(),
    profile: o.profile,
    set,
    resultsRoot: path.resolve(o.resultsRoot),
    dataDir: o.dataDir ? path.resolve(o.dataDir) : undefined,
    backend: o.backend,
    nodeBinDir: o.nodeBinDir,
    slurm: o.slurm,
  };
  const script = jobScript(spec, tasks); // validates everything before anything is written
  const tsv = tasksTsv(tasks);
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  atomicWrite(path.join(dir, 'tasks.tsv'), tsv);
  atomicWrite(path.join(dir, 'job.sbatch'), script);
  fs.chmodSync(path.join(dir, 'job.sbatch'), 0o755);
  const meta: SweepMeta = {
    id,
    profile: o.profile,
    set: spec.set,
    resultsRoot: spec.resultsRoot,
    dataDir: spec.dataDir ?? null,
    backend: spec.backend ?? null,
    repo: spec.repo,
    createdAt: new Date().toISOString(),
    tasks: tasks.length,
    sbatchOptions: sbatchOptions(spec, tasks.length),
    jobs: [],
  };
  atomicWriteJson(path.join(dir, 'sweep.json'), meta);
  return { dir, spec, tasks, notes, sbatchLine: `sbatch ${shQuote(path.join(dir, 'job.sbatch'))}` };
}

export interface LoadedSweep {
  dir: string;
  meta: SweepMeta;
  tasks: SweepTask[];
}

/** Reads a sweep folder by id (or path). */
export function loadSweep(idOrDir: string, sweepsDir?: string): LoadedSweep {
  const byId = path.join(sweepsRoot(sweepsDir), idOrDir);
  const dir = fs.existsSync(path.join(byId, 'sweep.json'))
    ? byId
    : fs.existsSync(path.join(idOrDir, 'sweep.json'))
      ? path.resolve(idOrDir)
      : byId;
  const metaFile = path.join(dir, 'sweep.json');
  if (!fs.existsSync(metaFile)) {
    const root = path.dirname(dir);
    const known = fs.existsSync(root)
      ? fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, 'sweep.json')))
      : [];
    throw new Error(`no sweep ${idOrDir} in ${root}${known.length ? ` (known: ${known.join(', ')})` : ''}`);
  }
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as SweepMeta;
  const tsvFile = path.join(dir, 'tasks.tsv');
  return { dir, meta, tasks: parseTasksTsv(fs.readFileSync(tsvFile, 'utf8'), tsvFile) };
}

/** Submits a sweep's job.sbatch and records the job id in sweep.json. */
export function submitSweep(dir: string, sbatch = envSbatch()): string {
  const metaFile = path.join(dir, 'sweep.json');
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as SweepMeta;
  const jobId = submit(path.join(dir, 'job.sbatch'), sbatch);
  meta.jobs.push({ id: jobId, submittedAt: new Date().toISOString() });
  atomicWriteJson(metaFile, meta);
  return jobId;
}

export type TaskStateKind = 'done' | 'running' | 'failed' | 'interrupted' | 'pending' | 'not started';

export interface TaskStatus {
  task: SweepTask;
  state: TaskStateKind;
  /** One line: "done (30/30 epochs, val acc 91.20%)", "running at epoch 7/30", "failed: error: …", … */
  text: string;
  /** Epochs finished (history length) and configured. */
  epochsDone: number;
  epochs: number | null;
  /** Slurm's state of the task (sacct or squeue), null when unknown. */
  slurm: string | null;
  log: string;
}

interface Attempt {
  started: boolean;
  exit: number | null;
  /** The signal that stopped it (scancel, preemption, time limit), when the script saw one. */
  stopped?: string;
  error: string | null;
}

/** The last attempt in a task log: started, its exit status (null while running or when killed), its first error line. */
export function lastAttempt(logText: string, index: number): Attempt {
  const lines = logText.split('\n');
  let start = -1;
  for (let i = 0; i < lines.length; i++) if (lines[i].startsWith(`[sweep] task ${index}:`)) start = i;
  if (start < 0) return { started: false, exit: null, error: null };
  const body = lines.slice(start + 1);
  let exit: number | null = null;
  let end = body.length;
  for (let i = 0; i < body.length; i++) {
    const m = new RegExp(`^\\[sweep\\] task ${index} exit (\\d+)`).exec(body[i]);
    if (m) {
      exit = Number(m[1]);
      end = i;
      break;
    }
    const sig = new RegExp(`^\\[sweep\\] task ${index} stopped by (\\S+)`).exec(body[i]);
    if (sig) {
      const content = body.slice(0, i).filter((l) => l.trim() && !l.startsWith('[sweep]'));
      return { started: true, exit: null, stopped: sig[1], error: content.find((l) => /^error:/i.test(l)) ?? null };
    }
  }
  const content = body
    .slice(0, end)
    .map((l) => l.trimEnd())
    .filter((l) => l && !l.startsWith('[sweep]'));
  const error =
    content.find((l) => /^error:/i.test(l)) ??
    content.find((l) => /(error|exception)\b/i.test(l)) ??
    (exit ? (content[content.length - 1] ?? null) : null);
  return { started: true, exit, error };
}

const RUNNING = new Set(['RUNNING', 'COMPLETING', 'CONFIGURING', 'SUSPENDED', 'STAGE_OUT', 'SIGNALING', 'RESIZING']);
const WAITING = new Set(['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD']);
const FAILED = new Set(['FAILED', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE']);

/** The state of one task from its results folder and log, with Slurm's state beside it when known. */
export function taskStatus(sweep: LoadedSweep, task: SweepTask, slurm: string | null): TaskStatus {
  const log = logFile(sweep.dir, task.index);
  let run;
  let readError: string | null = null;
  try {
    run = loadRunDir(task.dir);
  } catch (e) {
    readError = (e as Error).message.split('\n')[0];
  }
  let epochs: number | null = run?.config.epochs ?? null;
  if (epochs === null) {
    try {
      epochs = resolveConfig(task.experiment, task.profile, task.seed, sweep.meta.set).epochs;
    } catch {
      epochs = null;
    }
  }
  const k = run?.history.length ?? 0;
  const of = `${epochs ?? '?'}`;
  const attempt = fs.existsSync(log)
    ? lastAttempt(fs.readFileSync(log, 'utf8'), task.index)
    : { started: false, exit: null, error: null };
  const base = { task, epochsDone: k, epochs, slurm, log };
  if (run?.complete) {
    const last = run.history[run.history.length - 1];
    return {
      ...base,
      state: 'done',
      text: `done (${k}/${of} epochs, val acc ${(last.valAccuracy * 100).toFixed(2)}%)`,
    };
  }
  if (readError) return { ...base, state: 'failed', text: `failed: ${readError}` };
  const running = `running at epoch ${Math.min(k + 1, epochs ?? Infinity)}/${of}`;
  if (slurm && RUNNING.has(slurm)) return { ...base, state: 'running', text: running };
  const hasCheckpoint = fs.existsSync(runPaths(task.dir).checkpoint);
  if (slurm && WAITING.has(slurm)) {
    // queued again (requeued or resubmitted): what its last attempt did is history
    return hasCheckpoint || k > 0
      ? { ...base, state: 'pending', text: `waiting to resume after epoch ${k}/${of}` }
      : { ...base, state: 'not started', text: 'not started (queued)' };
  }
  if (attempt.exit !== null && attempt.exit !== 0)
    return { ...base, state: 'failed', text: `failed: ${attempt.error ?? `exit status ${attempt.exit}`}` };
  if (slurm && FAILED.has(slurm))
    return { ...base, state: 'failed', text: `failed: ${attempt.error ?? `Slurm state ${slurm}`}` };
  if (!slurm && attempt.started && attempt.exit === null && !attempt.stopped) {
    // No word from Slurm: the run-folder lock says whether a writer is at work (held for the whole run).
    const lock = readRunLock(task.dir);
    if (lock && lock !== 'unreadable') {
      const owner = lockOwnerState(lock);
      if (owner !== 'dead')
        return {
          ...base,
          state: 'running',
          text: `${running} (pid ${lock.pid} on ${lock.host}${owner === 'unknown' ? ', per its lock' : ''})`,
        };
    }
  }
  if (hasCheckpoint || k > 0) {
    return {
      ...base,
      state: 'interrupted',
      text: `interrupted after epoch ${k}/${of}${attempt.stopped ? ` (${attempt.stopped})` : ''}; resubmit to resume from its checkpoint`,
    };
  }
  return { ...base, state: 'not started', text: 'not started' };
}

export interface SweepStatus {
  sweep: LoadedSweep;
  jobId: string | null;
  slurm: TaskStates | null;
  tasks: TaskStatus[];
}

/** Every task's state; `query` asks Slurm (default: sacct, else squeue) about the latest job. */
export function sweepStatus(sweep: LoadedSweep, query: (jobId: string) => TaskStates = queryTaskStates): SweepStatus {
  const jobId = sweep.meta.jobs.length ? sweep.meta.jobs[sweep.meta.jobs.length - 1].id : null;
  const slurm = jobId ? query(jobId) : null;
  const tasks = sweep.tasks.map((t) => taskStatus(sweep, t, slurm?.states.get(t.index) ?? null));
  return { sweep, jobId, slurm, tasks };
}

export function formatStatus(s: SweepStatus): string {
  const m = s.sweep.meta;
  const counts = new Map<string, number>();
  for (const t of s.tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
  const head = [
    `sweep ${m.id}: ${m.tasks} task(s), profile ${m.profile}${m.set.length ? ` (--set ${m.set.join(' ')})` : ''}; results in ${m.resultsRoot}`,
    s.jobId
      ? `Slurm job ${s.jobId}${s.slurm?.source ? ` (states from ${s.slurm.source})` : `: no state from Slurm (${s.slurm?.note ?? 'unknown'})`}`
      : `not submitted: npm run sweep -- submit ${shQuote(m.id)}`,
    [...counts].map(([k, v]) => `${v} ${k}`).join(', ') + `; logs in ${path.join(s.sweep.dir, 'logs')}/task-<i>.log`,
  ];
  const rows = [
    ['task', 'experiment', 'seed', 'state', 'slurm'],
    ...s.tasks.map((t) => [String(t.task.index), t.task.experiment, String(t.task.seed), t.text, t.slurm ?? '-']),
  ];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return [...head, '', ...rows.map((r) => r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(w[i]))).join('  '))].join(
    '\n',
  );
}
