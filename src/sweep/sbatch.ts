/**
 * The files of a Slurm sweep: tasks.tsv (one line per task) and job.sbatch (an array job whose task i runs
 * line i of tasks.tsv as one `npm run experiment -- … --resume`), with the quoting each place needs:
 * POSIX shell in the script body, sbatch's own tokenizer in `#SBATCH` lines, and Slurm's filename
 * patterns (`%a`, so a literal `%` is `%%`) in the log path.
 */
import * as path from 'path';
import type { SweepTask } from './plan';

export interface SlurmOptions {
  partition?: string;
  gpusPerTask?: number;
  cpusPerTask?: number;
  /** Wall-clock limit per task, Slurm syntax (HH:MM:SS, D-HH:MM:SS, minutes). */
  time?: string;
  /** At most this many tasks run at once (the array's `%` throttle). */
  maxRunning?: number;
  /** Further sbatch options, one per entry (e.g. `--account=proj`, `--qos=long`). */
  extra?: string[];
}

export interface SweepSpec {
  id: string;
  /** The sweep folder (tasks.tsv, job.sbatch, sweep.json, logs/). Must be on the cluster's shared file system. */
  dir: string;
  /** The project checkout the tasks run in (shared file system). */
  repo: string;
  profile: string;
  /** `--set key=value` overrides for every task. */
  set: string[];
  /** BNN_RESULTS_DIR of every task (shared file system). */
  resultsRoot: string;
  /** BNN_DATA_DIR of every task, when set. */
  dataDir?: string;
  /** BNN_BACKEND of every task (e.g. `tensorflow` on GPU nodes), when set. */
  backend?: string;
  /** A folder put first on PATH so `npm`/`node` resolve as where the sweep was made (when set). */
  nodeBinDir?: string;
  slurm: SlurmOptions;
}

export const TASKS_HEADER = ['task', 'experiment', 'profile', 'seed', 'run_dir'];

/** A string as one POSIX shell word. */
export function shQuote(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A value as one word of an `#SBATCH` line (sbatch splits on blanks, honours "…" and \, and cuts at #). */
export function sbatchQuote(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A literal file name inside a Slurm filename pattern (`%` starts a pattern; `\` would turn all patterns off). */
export function slurmFilename(s: string): string {
  return s.replace(/%/g, '%%');
}

/** Refuses what the files cannot carry: tabs and newlines (tasks.tsv, #SBATCH lines), backslashes (Slurm patterns). */
export function checkPath(what: string, p: string): void {
  if (/[\t\n\r\\]/.test(p))
    throw new Error(`${what} ${JSON.stringify(p)} contains a tab, newline or backslash; pick a folder without them`);
}

/** Parses "0,1,2" (or "0-2") into seeds, each at most `max` (decimal digits only); throws a one-line error. */
export function parseSeeds(text: string, max = Number.MAX_SAFE_INTEGER): number[] {
  const out: number[] = [];
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((s) => s === ''))
    throw new Error(
      `--seeds ${JSON.stringify(text)}: expected non-negative integers such as 0,1,2 or 0-2, without empty entries`,
    );
  for (const part of parts) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`--seeds ${text}: expected non-negative integers such as 0,1,2 or 0-2`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a > max || b > max) throw new Error(`--seeds ${text}: seeds go from 0 to ${max}`);
    if (b < a) throw new Error(`--seeds ${text}: range ${part} is empty`);
    if (b - a >= 10_000) throw new Error(`--seeds ${text}: range ${part} has more than 10,000 seeds`);
    for (let s = a; s <= b; s++) if (!out.includes(s)) out.push(s);
  }
  return out;
}

export const SLURM_TIME_FORMATS =
  'minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (minutes and seconds below 60, hours after a day count below 24), not 0';

/**
 * A Slurm time limit (sbatch --time) in seconds. The forms are Slurm's: "minutes", "minutes:seconds",
 * "hours:minutes:seconds", "days-hours", "days-hours:minutes", "days-hours:minutes:seconds", each field decimal
 * digits; seconds and minutes after a colon are < 60, hours after a day count < 24, and the limit is > 0
 * ("UNLIMITED" and "infinite" are not accepted: a sweep task should end). Throws `--time <raw>: …`.
 */
export function parseSlurmTime(raw: string, option = 'time'): number {
  const bad = (why: string) =>
    new Error(
      `--${option} ${raw === '' || /\s/.test(raw) ? JSON.stringify(raw) : raw}: ${why}; allowed: ${SLURM_TIME_FORMATS}`,
    );
  const m = /^(?:([0-9]+)-)?([0-9]+)(?::([0-9]+))?(?::([0-9]+))?$/.exec(raw);
  if (!m) throw bad('not a Slurm time');
  const [, d, a, b, c] = m;
  const n = (x: string | undefined) => (x === undefined ? 0 : Number(x));
  let seconds: number;
  if (d !== undefined) {
    // days-hours[:minutes[:seconds]]
    if (n(a) >= 24) throw bad(`${a} hours after a day count`);
    if (b !== undefined && n(b) >= 60) throw bad(`${b} minutes`);
    if (c !== undefined && n(c) >= 60) throw bad(`${c} seconds`);
    seconds = ((n(d) * 24 + n(a)) * 60 + n(b)) * 60 + n(c);
  } else if (c !== undefined) {
    // hours:minutes:seconds
    if (n(b) >= 60) throw bad(`${b} minutes`);
    if (n(c) >= 60) throw bad(`${c} seconds`);
    seconds = (n(a) * 60 + n(b)) * 60 + n(c);
  } else if (b !== undefined) {
    // minutes:seconds
    if (n(b) >= 60) throw bad(`${b} seconds`);
    seconds = n(a) * 60 + n(b);
  } else seconds = n(a) * 60;
  if (!Number.isSafeInteger(seconds)) throw bad('too long');
  if (seconds === 0) throw bad('a zero time limit');
  return seconds;
}

export function checkSlurmOptions(o: SlurmOptions): void {
  const posInt = (k: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`--${k} ${v}: must be an integer ≥ 1`);
  };
  posInt('gpus-per-task', o.gpusPerTask);
  posInt('cpus-per-task', o.cpusPerTask);
  posInt('max-running', o.maxRunning);
  if (o.partition !== undefined && !/^[A-Za-z0-9_.,-]+$/.test(o.partition))
    throw new Error(`--partition ${JSON.stringify(o.partition)}: not a partition name`);
  if (o.time !== undefined) parseSlurmTime(o.time);
  for (const x of o.extra ?? []) {
    if (!x.startsWith('-') || /[\n\r]/.test(x))
      throw new Error(`--sbatch-arg ${JSON.stringify(x)}: expected one sbatch option such as --account=proj`);
  }
}

export function tasksTsv(tasks: SweepTask[]): string {
  for (const t of tasks) checkPath('run folder', t.dir);
  return (
    [TASKS_HEADER, ...tasks.map((t) => [t.index, t.experiment, t.profile, t.seed, t.dir])]
      .map((r) => r.join('\t'))
      .join('\n') + '\n'
  );
}

/** Parses tasks.tsv back (for `status`). */
export function parseTasksTsv(text: string, file = 'tasks.tsv'): SweepTask[] {
  const lines = text.split('\n').filter((l) => l.length);
  if (lines[0] !== TASKS_HEADER.join('\t')) throw new Error(`${file}: expected the header ${TASKS_HEADER.join(' ')}`);
  return lines.slice(1).map((l, i) => {
    const f = l.split('\t');
    if (f.length !== TASKS_HEADER.length || Number(f[0]) !== i)
      throw new Error(`${file}: line ${i + 2} is not task ${i} with ${TASKS_HEADER.length} fields`);
    return { index: i, experiment: f[1], profile: f[2], seed: Number(f[3]), dir: f[4] };
  });
}

/** The array range with its throttle: 0-(n-1)[%k]. */
export function arraySpec(n: number, maxRunning?: number): string {
  return `${n === 1 ? '0' : `0-${n - 1}`}${maxRunning ? `%${maxRunning}` : ''}`;
}

export function logFile(sweepDir: string, index: number): string {
  return path.join(sweepDir, 'logs', `task-${index}.log`);
}

/** The options of the array job, as sbatch arguments (also written as #SBATCH lines). */
export function sbatchOptions(spec: SweepSpec, nTasks: number): string[] {
  checkSlurmOptions(spec.slurm);
  checkPath('sweep folder', spec.dir);
  const s = spec.slurm;
  const opts = [
    `--job-name=bop-${spec.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`,
    `--array=${arraySpec(nTasks, s.maxRunning)}`,
    '--requeue',
    '--ntasks=1',
    // one log per task, appended to by a requeued or resubmitted task
    `--output=${slurmFilename(path.join(spec.dir, 'logs'))}/task-%a.log`,
    '--open-mode=append',
  ];
  if (s.partition) opts.push(`--partition=${s.partition}`);
  if (s.gpusPerTask) opts.push(`--gpus-per-task=${s.gpusPerTask}`);
  if (s.cpusPerTask) opts.push(`--cpus-per-task=${s.cpusPerTask}`);
  if (s.time) opts.push(`--time=${s.time}`);
  opts.push(...(s.extra ?? []));
  return opts;
}

/** `--opt=value` as an #SBATCH line, the value quoted for sbatch's tokenizer. */
function sbatchLine(opt: string): string {
  const eq = opt.indexOf('=');
  return eq < 0 ? `#SBATCH ${sbatchQuote(opt)}` : `#SBATCH ${opt.slice(0, eq + 1)}${sbatchQuote(opt.slice(eq + 1))}`;
}

/** The `npm run experiment` arguments after the experiment/profile/seed (shared by all tasks). */
export function sharedTaskArgs(spec: SweepSpec): string[] {
  return ['--resume', ...spec.set.flatMap((s) => ['--set', s])];
}

/** The command one task runs (for display; the script builds the same from tasks.tsv). */
export function taskCommand(spec: SweepSpec, t: SweepTask): string {
  return [
    'npm',
    'run',
    '--silent',
    'experiment',
    '--',
    t.experiment,
    '--profile',
    t.profile,
    '--seed',
    String(t.seed),
    ...sharedTaskArgs(spec),
  ]
    .map(shQuote)
    .join(' ');
}

export function jobScript(spec: SweepSpec, tasks: SweepTask[]): string {
  for (const [what, p] of [
    ['project folder', spec.repo],
    ['results folder', spec.resultsRoot],
    ['data folder', spec.dataDir ?? ''],
  ] as const)
    checkPath(what, p);
  if (spec.backend !== undefined && !['tensorflow', 'wasm', 'cpu'].includes(spec.backend))
    throw new Error(`--backend ${spec.backend}: expected tensorflow, wasm or cpu`);
  const env: [string, string][] = [['BNN_RESULTS_DIR', spec.resultsRoot]];
  if (spec.dataDir) env.push(['BNN_DATA_DIR', spec.dataDir]);
  if (spec.backend) env.push(['BNN_BACKEND', spec.backend]);
  const lines = [
    '#!/bin/bash',
    `# Sweep ${spec.id}: ${tasks.length} task(s) of \`npm run experiment\` on the ${spec.profile} profile, task i = line i of tasks.tsv.`,
    '# Written by `npm run sweep`. A requeued or resubmitted task resumes from its checkpoint; a finished one is reused.',
    ...sbatchOptions(spec, tasks.length).map(sbatchLine),
    'set -uo pipefail',
    `SWEEP_DIR=${shQuote(spec.dir)}`,
    `cd ${shQuote(spec.repo)} || exit 1`,
    ...(spec.nodeBinDir ? [`export PATH=${shQuote(spec.nodeBinDir)}:"$PATH"`] : []),
    ...env.map(([k, v]) => `export ${k}=${shQuote(v)}`),
    '# wasm threads: the CPUs Slurm gave the task',
    'export BNN_THREADS="${BNN_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"',
    'task="${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is an array job}"',
    `IFS=$'\\t' read -r _ experiment profile seed run_dir < <(awk -F'\\t' -v t="$task" 'NR > 1 && $1 == t' "$SWEEP_DIR/tasks.tsv")`,
    '[ -n "${experiment:-}" ] || { echo "error: task $task is not in $SWEEP_DIR/tasks.tsv"; exit 2; }',
    'echo "[sweep] task $task: $experiment seed $seed, job ${SLURM_ARRAY_JOB_ID:-?}_$task, attempt $(( ${SLURM_RESTART_COUNT:-0} + 1 )) on $(hostname -s) at $(date -Is); results in $run_dir"',
    '# clear the run-folder lock of an earlier attempt of this task that was killed on another node',
    'npm run --silent sweep -- task-start "$SWEEP_DIR" "$task" || echo "[sweep] task-start failed; continuing"',
    '# The run gets its own process group, and a SIGTERM to this script (scancel, preemption, the time limit) is passed',
    "# to all of it: Slurm's process tracking may not see past npm, and a requeued task must not meet a live writer.",
    'run=',
    'stop() { stopped=$1; echo "[sweep] task $task got $1, stopping the run (a requeued task resumes from its last checkpoint)"; [ -z "$run" ] || kill -TERM -- "-$run" 2>/dev/null; }',
    "trap 'stop SIGTERM' TERM",
    "trap 'stop SIGINT' INT",
    'set -m',
    `npm run --silent experiment -- "$experiment" --profile "$profile" --seed "$seed" ${sharedTaskArgs(spec).map(shQuote).join(' ')} &`,
    'run=$!',
    'set +m',
    '[ -z "${stopped:-}" ] || kill -TERM -- "-$run" 2>/dev/null',
    'while :; do wait "$run"; rc=$?; kill -0 "$run" 2>/dev/null || break; done',
    'if [ -n "${stopped:-}" ]; then',
    '  for _ in $(seq 1 100); do kill -0 -- "-$run" 2>/dev/null || break; sleep 0.2; done',
    '  kill -KILL -- "-$run" 2>/dev/null',
    '  echo "[sweep] task $task stopped by $stopped at $(date -Is)"',
    '  exit 143',
    'fi',
    'echo "[sweep] task $task exit $rc at $(date -Is)"',
    'exit $rc',
  ];
  return lines.join('\n') + '\n';
}
