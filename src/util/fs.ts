/**
 * Crash-safe file writes: write to a temporary file in the same folder, loop until every byte is on disk,
 * fsync it, check its size, rename it over the target, then fsync the folder so the rename itself lasts.
 * A crash, a full disk or any other error at any moment leaves either the old file or the new one, never a
 * truncated file; the temp file is removed on error. Temp files are named `.<name>.<pid>.<ms>.tmp`, and
 * `removeStaleTemps` deletes the ones a killed process left behind. Every error names the file it was writing:
 * a full disk is a `DiskFullError`, any other system error (EIO on fsync, a read-only file system, …) a
 * `FileWriteError` that keeps the system error's code.
 */
import * as fs from 'fs';
import * as path from 'path';

/** Raised when the disk (or quota) is full; the previous version of the file is untouched. */
export class DiskFullError extends Error {
  readonly code = 'ENOSPC';
  readonly path: string;
  constructor(readonly file: string) {
    super(
      `Disk full while writing ${file}: the previous version of the file is untouched. Free some space on ${path.dirname(file)} and run again (--resume continues where it stopped).`,
    );
    this.path = file;
  }
}

/**
 * Any other system error while writing `file` (EIO, EROFS, EACCES, …): the message names the file and the
 * system call; `code`, `syscall` and `path` are those of the system error, `path` being the file meant.
 */
export class FileWriteError extends Error {
  readonly code: string | undefined;
  readonly syscall: string | undefined;
  readonly path: string;
  constructor(
    readonly file: string,
    readonly cause: NodeJS.ErrnoException,
  ) {
    const what = cause.code === 'EIO' ? 'I/O error' : (cause.code ?? 'error');
    super(
      `${what} while writing ${file} (${cause.message}); the previous version of the file is untouched. Check the disk holding ${path.dirname(file)} and run again.`,
    );
    this.code = cause.code;
    this.syscall = cause.syscall;
    this.path = file;
  }
}

/** `e` as the error to throw for a failed write of `file`: DiskFullError, FileWriteError, or `e` itself when it already names a file. */
export function writeError(file: string, e: unknown): Error {
  if (e instanceof DiskFullError || e instanceof FileWriteError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOSPC' || err?.code === 'EDQUOT') return new DiskFullError(file);
  if (err && typeof err.code === 'string') return new FileWriteError(file, err);
  return err instanceof Error ? err : new Error(String(e));
}

const TEMP_RE = /^\.(.+)\.(\d+)\.(\d+)\.tmp$/;

/** True for the name of a temp file of `atomicWrite` / `writeTempFile` (`.<name>.<pid>.<n>.tmp`). */
export function isTempName(name: string): boolean {
  return TEMP_RE.test(name);
}

let tempSeq = 0;
function tempName(file: string): string {
  // `<ms><3-digit sequence>`: unique within this process even for two writes in the same millisecond.
  return path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${Date.now()}${String(tempSeq++ % 1000).padStart(3, '0')}.tmp`,
  );
}

/** Writes all of `buf` to `fd`, looping over short writes (a short write of 0 bytes is a full disk). */
export function writeFully(fd: number, buf: Uint8Array, file = '?'): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(fd, buf, off, buf.length - off);
    if (n <= 0) {
      const e = new Error(`write to ${file} made no progress at byte ${off} of ${buf.length}`) as NodeJS.ErrnoException;
      e.code = 'ENOSPC';
      throw e;
    }
    off += n;
  }
}

/** fsyncs a folder so renames and new entries in it survive a power cut (best effort where unsupported); errors name the folder. */
export function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw writeError(dir, e);
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/**
 * Writes `data` whole into a new temp file beside `file` (created exclusively; every byte written, fsynced, its
 * size checked) and returns the temp file's path, for the caller to rename or link into place. On any error the
 * temp file is removed and the error names `file` (DiskFullError / FileWriteError).
 */
export function writeTempFile(file: string, data: string | Uint8Array): string {
  const dir = path.dirname(file);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw writeError(file, e);
  }
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = tempName(file);
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'wx');
    writeFully(fd, buf, tmp);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    const size = fs.statSync(tmp).size;
    if (size !== buf.length) {
      const e = new Error(`${tmp} holds ${size} bytes after writing ${buf.length}`) as NodeJS.ErrnoException;
      e.code = 'ENOSPC';
      throw e;
    }
    return tmp;
  } catch (e) {
    if (fd !== null) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    fs.rmSync(tmp, { force: true });
    throw writeError(file, e);
  }
}

/**
 * Writes `data` to `file` whole or not at all: a temp file in the same folder (created if missing), every byte
 * written and fsynced, its size checked, renamed over `file`, then the folder fsynced. On ENOSPC/EDQUOT it
 * throws DiskFullError, on any other system error a FileWriteError, both naming `file`; the temp file is removed
 * and the previous `file` is untouched.
 */
export function atomicWrite(file: string, data: string | Uint8Array): void {
  const tmp = writeTempFile(file, data);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw writeError(file, e);
  }
  fsyncDir(path.dirname(file));
}

/** `atomicWrite` of `value` as indented JSON with a final newline. */
export function atomicWriteJson(file: string, value: unknown): void {
  atomicWrite(file, JSON.stringify(value, null, 2) + '\n');
}

/** True when a process with this pid exists on this machine (EPERM counts as alive). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files (`.<name>.<pid>.<ms>.tmp`) that an interrupted atomicWrite left in `dir`, when their
 * writer is no longer running (or, with `all`, every one not written by this process). Returns their names.
 */
export function removeStaleTemps(dir: string, opts: { all?: boolean } = {}): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = TEMP_RE.exec(n);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || (!opts.all && pidAlive(pid))) continue;
    fs.rmSync(path.join(dir, n), { recursive: true, force: true });
    removed.push(n);
  }
  return removed;
}

/**
 * A readable message for a file-system error on `what` (a path): read-only, permission denied, missing
 * folder, disk full. Other errors keep their own message.
 */
export function describeFsError(e: unknown, what?: string): string {
  const err = e as NodeJS.ErrnoException;
  const where = what ?? err.path ?? '';
  switch (err?.code) {
    case 'EROFS':
      return `${where} is on a read-only file system; set BNN_RESULTS_DIR (or the folder option) to a writable folder`;
    case 'EACCES':
    case 'EPERM':
      return `no permission to write ${where}; make it writable or set BNN_RESULTS_DIR to a folder you can write`;
    case 'ENOENT':
      return `${where} does not exist (or a folder above it is missing); create it or point to an existing folder`;
    case 'ENOTDIR':
      return `${where}: a part of this path is a file, not a folder`;
    case 'ENOSPC':
    case 'EDQUOT':
      return err instanceof DiskFullError
        ? err.message
        : `disk full while writing ${where || '(the system named no file)'}; free some space and run again`;
    default:
      return err instanceof Error ? err.message : String(e);
  }
}

/**
 * Null when files can be written in `dir` (created later if missing), else a readable reason: read-only
 * file system, no permission, a path component that is a file.
 */
export function checkWritableDir(dir: string): string | null {
  let d = path.resolve(dir);
  while (!fs.existsSync(d)) {
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  try {
    if (!fs.statSync(d).isDirectory()) return `${d} is a file, not a folder (on the way to ${dir})`;
    fs.accessSync(d, fs.constants.W_OK);
  } catch (e) {
    return describeFsError(e, d === path.resolve(dir) ? dir : `${d} (on the way to ${dir})`);
  }
  return null;
}
