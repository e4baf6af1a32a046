/** The Slurm commands a sweep uses: sbatch to submit, sacct (else squeue) for the state of each array task. */
import { spawnSync } from 'child_process';

/** Submits a batch script; returns the job id (sbatch --parsable prints `id` or `id;cluster`). */
export function submit(script: string, sbatch = 'sbatch'): string {
  const r = spawnSync(sbatch, ['--parsable', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.error)
    throw new Error(
      `${sbatch}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found (is this a Slurm login node?)' : r.error.message}`,
    );
  if (r.status !== 0) throw new Error(`sbatch failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  const id = r.stdout.trim().split('\n').pop()!.split(';')[0];
  if (!/^\d+$/.test(id)) throw new Error(`sbatch printed no job id: ${r.stdout.trim()}`);
  return id;
}

/** Task ids of an array spec such as `4`, `[0-3,7]`, `[5-9%2]`. */
export function expandArrayTasks(spec: string): number[] {
  const body = spec.replace(/^\[|\]$/g, '').replace(/%\d+$/, '');
  const out: number[] = [];
  for (const part of body.split(',')) {
    const m = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    for (let i = a; i <= b; i += step) out.push(i);
  }
  return out;
}

/**
 * Parses `JobID|State` lines (sacct -P, squeue -o '%i|%T') of one array job into task → state.
 * `12_3|RUNNING`, `12_[4-6%2]|PENDING`, `12_3|CANCELLED by 0`; steps (`12_3.batch`) are ignored.
 */
export function parseTaskStates(text: string, jobId: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const [id, state] = line.trim().split('|');
    if (!id || !state) continue;
    const m = /^(\d+)_(.+)$/.exec(id);
    if (!m || m[1] !== jobId || m[2].includes('.')) continue;
    for (const t of expandArrayTasks(m[2])) out.set(t, state.split(' ')[0]);
  }
  return out;
}

export interface TaskStates {
  /** Which command answered ('sacct' or 'squeue'), or null when neither did. */
  source: 'sacct' | 'squeue' | null;
  states: Map<number, string>;
  /** Why there is nothing, when nothing answered. */
  note?: string;
}

function run(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error)
    return {
      ok: false,
      out: '',
      err: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? `${cmd} not found` : r.error.message,
    };
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '').trim().split('\n')[0] };
}

/**
 * The Slurm state of every task of an array job: sacct where accounting answers (it remembers finished
 * jobs), else squeue (pending, running and recently ended jobs that slurmctld still holds).
 */
export function queryTaskStates(jobId: string): TaskStates {
  const acct = run('sacct', ['-j', jobId, '-X', '-n', '-P', '-o', 'JobID,State']);
  if (acct.ok) {
    const states = parseTaskStates(acct.out, jobId);
    if (states.size) return { source: 'sacct', states };
  }
  const q = run('squeue', ['-j', jobId, '-r', '-h', '-t', 'all', '-o', '%i|%T']);
  if (q.ok) return { source: 'squeue', states: parseTaskStates(q.out, jobId) };
  return {
    source: null,
    states: new Map(),
    note: [acct.err, q.err].filter(Boolean).join('; ') || 'no answer from sacct or squeue',
  };
}
