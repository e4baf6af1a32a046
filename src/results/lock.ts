/**
 * One writer per run folder: an exclusive lock file `<dir>/.lock`, created with O_EXCL, holding the owner's
 * pid, host, process start time and command. A second writer is refused with a message naming the owner
 * while that owner lives; a lock left by a dead process (same host, pid gone or reused by another program)
 * is taken over. Locks held by another host are never taken over automatically (its processes cannot be
 * checked from here): the message says which file to delete once that host's job is known to be gone.
 *
 *   const lock = acquireRunLock(dir);        // throws RunLockedError while someone else writes dir
 *   try { … write into dir … } finally { lock.release(); }
 *
 * Readers need no lock: every file in a run folder is replaced atomically.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fsyncDir, pidAlive } from '../util/fs';
import { LOCK_FILE, runPaths } from './paths';

export { LOCK_FILE } from './paths';

export interface LockOwner {
  pid: number;
  host: string;
  /** Start time of the owner process (Linux: /proc/<pid>/stat field 22), to tell a reused pid apart. */
  procStart: string | null;
  since: string;
  command: string;
  /** Free text from the caller ("training", "slurm array task 3", …). */
  purpose?: string;
}

export interface RunLock {
  dir: string;
  file: string;
  owner: LockOwner;
  /** True when a dead owner's lock was replaced. */
  tookOver: LockOwner | null;
  /** Removes the lock file if it is still ours (idempotent). */
  release(): void;
}

/** Thrown when another live process holds the folder's lock. */
export class RunLockedError extends Error {
  constructor(readonly dir: string, readonly owner: LockOwner | null, reason: string) {
    super(reason);
  }
}

function procStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function me(purpose?: string): LockOwner {
  return {
    pid: process.pid,
    host: os.hostname(),
    procStart: procStart(process.pid),
    since: new Date().toISOString(),
    command: process.argv.slice(1).map((a) => path.basename(a) === a ? a : path.relative(process.cwd(), a) || a).join(' ').slice(0, 300),
    ...(purpose ? { purpose } : {}),
  };
}

/** The lock's owner as recorded, or null when there is no lock (an unreadable lock reads as owner unknown). */
export function readRunLock(dir: string): LockOwner | null | 'unreadable' {
  try {
    const o = JSON.parse(fs.readFileSync(runPaths(dir).lock, 'utf8'));
    return o && typeof o.pid === 'number' && typeof o.host === 'string' ? (o as LockOwner) : 'unreadable';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? null : 'unreadable';
  }
}

/** 'alive' | 'dead' | 'unknown' (another host). */
export function lockOwnerState(o: LockOwner): 'alive' | 'dead' | 'unknown' {
  if (o.host !== os.hostname()) return 'unknown';
  if (!pidAlive(o.pid)) return 'dead';
  if (o.procStart) {
    const now = procStart(o.pid);
    if (now !== null && now !== o.procStart) return 'dead'; // pid reused by another process
  }
  return 'alive';
}

function describe(o: LockOwner): string {
  return `pid ${o.pid} on ${o.host} since ${o.since}${o.purpose ? ` (${o.purpose})` : ''}${o.command ? `: ${o.command}` : ''}`;
}

const held = new Map<string, RunLock>();
let exitHook = false;

/**
 * Takes the lock of run folder `dir` (created if missing). Throws RunLockedError while another live process
 * holds it; takes over a lock whose owner is dead. Re-entrant within one process is an error (two writers).
 */
export function acquireRunLock(dir: string, opts: { purpose?: string } = {}): RunLock {
  fs.mkdirSync(dir, { recursive: true });
  const file = runPaths(dir).lock;
  const owner = me(opts.purpose);
  let tookOver: LockOwner | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
      try {
        fs.writeSync(fd, JSON.stringify(owner) + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fsyncDir(dir);
      const lock: RunLock = {
        dir,
        file,
        owner,
        tookOver,
        release() {
          if (held.get(file) !== lock) return;
          held.delete(file);
          const cur = readRunLock(dir);
          if (cur && cur !== 'unreadable' && cur.pid === owner.pid && cur.since === owner.since && cur.host === owner.host) fs.rmSync(file, { force: true });
        },
      };
      held.set(file, lock);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => {
          for (const l of [...held.values()]) l.release();
        });
      }
      return lock;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (held.has(file)) throw new RunLockedError(dir, owner, `${dir} is already being written by this process (pid ${process.pid}); one writer per run folder`);
    const cur = readRunLock(dir);
    if (cur === null) continue; // released meanwhile
    if (cur === 'unreadable') {
      // A lock being written this very moment reads as empty: give its writer a moment, then treat it as stale.
      const age = (() => {
        try {
          return Date.now() - fs.statSync(file).mtimeMs;
        } catch {
          return 0;
        }
      })();
      if (age < 2000) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        continue;
      }
    } else {
      const state = lockOwnerState(cur);
      if (state === 'alive') {
        throw new RunLockedError(dir, cur, `${dir} is being written by another process (${describe(cur)}). Wait for it to finish or stop it; it is refused so that two runs never write the same results.`);
      }
      if (state === 'unknown') {
        throw new RunLockedError(dir, cur, `${dir} is locked by a process on another machine (${describe(cur)}). If that job is gone, delete ${file} and run again.`);
      }
    }
    // Dead owner: move its lock aside under a unique name, check it is still the stale one, then retry O_EXCL.
    const aside = `${file}.stale-${process.pid}-${Date.now()}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = (() => {
      try {
        return JSON.parse(fs.readFileSync(aside, 'utf8')) as LockOwner;
      } catch {
        return null;
      }
    })();
    const same = cur === 'unreadable' ? moved === null : moved !== null && moved.pid === cur.pid && moved.since === cur.since;
    if (!same) {
      // We moved a fresh lock taken by someone else in between: put it back (link fails if a lock exists again).
      try {
        fs.linkSync(aside, file);
      } catch {
        /* a newer lock exists; ours is lost either way */
      }
      fs.rmSync(aside, { force: true });
      continue;
    }
    fs.rmSync(aside, { force: true });
    tookOver = cur === 'unreadable' ? null : cur;
  }
  throw new RunLockedError(dir, null, `could not take the lock ${file} (it keeps changing hands); is another sweep writing ${dir}?`);
}

/** Runs `fn` holding the lock of `dir`; released afterwards, also on error. */
export async function withRunLock<T>(dir: string, fn: (lock: RunLock) => Promise<T> | T, opts: { purpose?: string } = {}): Promise<T> {
  const lock = acquireRunLock(dir, opts);
  try {
    return await fn(lock);
  } finally {
    lock.release();
  }
}
