/**
 * One writer per run folder: an exclusive lock file `<dir>/.lock` holding the owner's pid, host, process start
 * time and command. It is written whole before it becomes visible: the content goes to a temp file (written,
 * fsynced, size checked), which is then hard-linked to `.lock` (link fails if a lock exists: the exclusive
 * create), so a reader never sees an empty or half-written lock from this code; a full disk or an I/O error
 * while writing it names the lock file and leaves no lock behind. A second writer is refused with a message naming the owner
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
import { fsyncDir, pidAlive, writeError, writeTempFile } from '../util/fs';
import { runPaths } from './paths';

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

/**
 * How old an unreadable lock (empty or not JSON: damaged, or written by a version that wrote it in place) must be
 * before it counts as stale and is taken over; `acquireRunLock` waits at least this long for one.
 */
export const LOCK_STALE_MS = 2000;

const held = new Map<string, RunLock>();
let exitHook = false;

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Puts `content` at `file` only if no file is there, whole: a complete temp file hard-linked to `file`.
 * Returns false when a lock exists. Errors name `file`.
 */
function createWhole(file: string, content: string): boolean {
  for (let attempt = 0; ; attempt++) {
    const tmp = writeTempFile(file, content);
    try {
      fs.linkSync(tmp, file);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      // The temp file vanished before the link (a writer of this folder cleaning temp files): write it again.
      if (code === 'ENOENT' && attempt < 5) continue;
      throw writeError(file, e);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
}

/** The lock of `dir`, now held by this process (`file` created whole with `owner`); released on exit at the latest. */
function holdLock(dir: string, file: string, owner: LockOwner, tookOver: LockOwner | null): RunLock {
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
}

/**
 * Removes the stale lock `file` whose content was `cur`: moves it aside under a unique name, checks it is still the
 * stale one, and deletes it; a fresh lock someone took in between is put back. True when the stale lock was removed
 * (the caller then retries the exclusive create).
 */
function removeStale(file: string, cur: LockOwner | 'unreadable'): boolean {
  const aside = `${file}.stale-${process.pid}-${Date.now()}`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return false; // someone else moved it first
  }
  let moved: LockOwner | null = null;
  try {
    moved = JSON.parse(fs.readFileSync(aside, 'utf8')) as LockOwner;
  } catch {
    moved = null;
  }
  const same = cur === 'unreadable' ? moved === null : moved !== null && moved.pid === cur.pid && moved.since === cur.since;
  if (!same) {
    // We moved a fresh lock taken by someone else in between: put it back (link fails if a lock exists again).
    try {
      fs.linkSync(aside, file);
    } catch {
      /* a newer lock exists; ours is lost either way */
    }
  }
  fs.rmSync(aside, { force: true });
  return same;
}

/**
 * Takes the lock of run folder `dir` (created if missing). Throws RunLockedError while another live process
 * holds it; takes over a lock whose owner is dead, and an unreadable one once it is `LOCK_STALE_MS` old (waiting
 * for that). Re-entrant within one process is an error (two writers).
 */
export function acquireRunLock(dir: string, opts: { purpose?: string } = {}): RunLock {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw writeError(dir, e);
  }
  const file = runPaths(dir).lock;
  const owner = me(opts.purpose);
  const content = JSON.stringify(owner) + '\n';
  let tookOver: LockOwner | null = null;
  // Long enough to see an unreadable lock come of age, with room for a few hand-overs.
  const deadline = Date.now() + LOCK_STALE_MS + 3000;
  for (;;) {
    if (createWhole(file, content)) {
      fsyncDir(dir);
      return holdLock(dir, file, owner, tookOver);
    }
    if (held.has(file)) throw new RunLockedError(dir, owner, `${dir} is already being written by this process (pid ${process.pid}); one writer per run folder`);
    if (Date.now() > deadline) break;
    const cur = readRunLock(dir);
    if (cur === null) continue; // released meanwhile
    if (cur === 'unreadable') {
      // Not written by this code (which links a whole file into place): damaged, or an older version writing it
      // in place this very moment. Wait until it is LOCK_STALE_MS old, then treat it as stale.
      const age = ageMs(file);
      if (age < LOCK_STALE_MS) {
        sleep(Math.min(100, LOCK_STALE_MS - age + 1));
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
    // stale: remove it (if it is still the stale one) and retry the exclusive create
    if (removeStale(file, cur)) tookOver = cur === 'unreadable' ? null : cur;
  }
  throw new RunLockedError(dir, null, `could not take the lock ${file} within ${((LOCK_STALE_MS + 3000) / 1000).toFixed(0)} s (it keeps changing hands); is another sweep writing ${dir}?`);
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
