/**
 * What a sweep task does before its `npm run experiment`: clear the run-folder lock (src/results/lock.ts)
 * left by an earlier attempt of the same task on another node.
 *
 * A preempted, cancelled or node-failed task is killed without releasing its lock, and a requeued task may
 * start on another node, where the lock cannot tell whether its owner still lives (it never takes over
 * another host's lock by itself). Slurm can: a task records each attempt (host, Slurm job id, start time)
 * in logs/task-<i>.attempt.json, and a lock that was taken on that host during that attempt, by a job that
 * is this very job again (requeued) or no longer running, belongs to a finished attempt and is removed.
 * Anything else (another host, another time, a job Slurm still runs) is left to the lock, which refuses.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { readRunLock } from '../results/lock';
import { runPaths } from '../results/paths';
import { atomicWriteJson } from '../util/fs';

export interface AttemptMarker {
  host: string;
  /** SLURM_JOB_ID of the attempt (the array element's own id; kept by a requeue). */
  jobId: string | null;
  start: string;
}

export function attemptFile(sweepDir: string, index: number): string {
  return path.join(sweepDir, 'logs', `task-${index}.attempt.json`);
}

/** True unless Slurm says the job is not running (also true when squeue cannot answer: keep the lock). */
export function slurmJobRunning(jobId: string): boolean {
  const r = spawnSync('squeue', ['-h', '-j', jobId, '-t', 'running,completing,suspended,configuring', '-o', '%i'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.error || r.status !== 0) return !/Invalid job id/i.test(r.stderr ?? '');
  return r.stdout.trim().length > 0;
}

export interface TaskStartOptions {
  sweepDir: string;
  index: number;
  runDir: string;
  env?: NodeJS.ProcessEnv;
  host?: string;
  jobRunning?: (jobId: string) => boolean;
  now?: Date;
}

/** Removes a lock left by this task's previous attempt (see the module comment), records this attempt; returns what it did. */
export function taskStart(o: TaskStartOptions): string[] {
  const env = o.env ?? process.env;
  const host = o.host ?? os.hostname();
  const jobId = env.SLURM_JOB_ID ?? null;
  const file = attemptFile(o.sweepDir, o.index);
  const done: string[] = [];
  let prev: AttemptMarker | null = null;
  try {
    prev = JSON.parse(fs.readFileSync(file, 'utf8')) as AttemptMarker;
  } catch {
    prev = null;
  }
  const lock = readRunLock(o.runDir);
  if (prev && lock && lock !== 'unreadable' && lock.host !== host && lock.host === prev.host) {
    const since = Date.parse(lock.since);
    const during = Number.isFinite(since) && since >= Date.parse(prev.start) - 1000;
    const over = prev.jobId !== null && (prev.jobId === jobId || !(o.jobRunning ?? slurmJobRunning)(prev.jobId));
    if (during && over) {
      const lockFile = runPaths(o.runDir).lock;
      // Remove it only if it is still that lock.
      const again = readRunLock(o.runDir);
      if (again && again !== 'unreadable' && again.pid === lock.pid && again.since === lock.since) {
        fs.rmSync(lockFile, { force: true });
        done.push(
          `removed ${lockFile}: left by the previous attempt of this task on ${lock.host} (pid ${lock.pid}, Slurm job ${prev.jobId}, which has ended)`,
        );
      }
    }
  }
  // Record this attempt, unless another host's lock stays: then this attempt will not write the folder (the
  // experiment is refused), and the record must keep naming the attempt that does.
  const after = readRunLock(o.runDir);
  if (after && after !== 'unreadable' && after.host !== host) {
    done.push(`${runPaths(o.runDir).lock} is held on ${after.host} (pid ${after.pid}); left in place`);
    return done;
  }
  const marker: AttemptMarker = { host, jobId, start: (o.now ?? new Date()).toISOString() };
  atomicWriteJson(file, marker);
  return done;
}
