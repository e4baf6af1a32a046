/**
 * Downloads with a progress bar (bytes, rate, ETA) and MD5 verification. A download goes to `<file>.part` and is
 * renamed to `<file>` only after its checksum matches, so an interrupted or corrupt download never looks complete.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { formatBytes } from './paths';

/** Thrown when the host cannot be reached at all (DNS failure, refused, unreachable, timeout). */
export class OfflineError extends Error {
  constructor(
    public host: string,
    public code: string,
  ) {
    super(`no internet access to ${host} (${code})`);
  }
}

const OFFLINE_CODES = ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET'];

/** MD5 of a file, hex (streamed). */
export async function md5File(file: string): Promise<string> {
  const h = crypto.createHash('md5');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** SHA-1 of a file, hex (streamed). */
export async function sha1File(file: string): Promise<string> {
  const h = crypto.createHash('sha1');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A one-line progress bar on stderr: rewritten in place on a terminal, every 10 % otherwise. */
export function progressBar(label: string, total: number | null): { update(done: number): void; end(): void } {
  const t0 = Date.now();
  const tty = process.stderr.isTTY;
  let lastDecile = -1;
  let lastDraw = 0;
  const line = (done: number) => {
    const s = (Date.now() - t0) / 1000;
    const rate = done / Math.max(s, 1e-3);
    const frac = total ? Math.min(done / total, 1) : 0;
    const bar = total ? `[${'#'.repeat(Math.round(frac * 20)).padEnd(20, '.')}] ${(frac * 100).toFixed(0).padStart(3)}% ` : '';
    const eta = total ? ` ETA ${fmtTime((total - done) / rate)}` : '';
    return `${label} ${bar}${formatBytes(done)}${total ? ` / ${formatBytes(total)}` : ''} ${formatBytes(rate)}/s${eta}`;
  };
  return {
    update(done) {
      const now = Date.now();
      if (tty) {
        if (now - lastDraw > 200) {
          process.stderr.write(`\r${line(done)}\x1b[K`);
          lastDraw = now;
        }
      } else if (total) {
        const d = Math.floor((done / total) * 10);
        if (d > lastDecile) {
          lastDecile = d;
          process.stderr.write(`${line(done)}\n`);
        }
      }
    },
    end() {
      if (tty) process.stderr.write('\n');
    },
  };
}

/**
 * Downloads the first reachable of `urls` to `dest`, checking `md5`. Throws OfflineError when no host can be
 * reached, an Error naming the file on a checksum mismatch (the bad download is deleted).
 */
export async function download(urls: string[], dest: string, md5: string, log: (l: string) => void = console.log): Promise<void> {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  let offline: OfflineError | null = null;
  for (const url of urls) {
    const host = new URL(url).host;
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(30000), redirect: 'follow' });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const code = err.cause?.code ?? (err.name === 'TimeoutError' ? 'ETIMEDOUT' : '');
      if (OFFLINE_CODES.includes(code)) {
        offline = offline ?? new OfflineError(host, code);
        continue;
      }
      throw new Error(`${url}: download failed (${err.message}${code ? `, ${code}` : ''})`);
    }
    if (!res.ok || !res.body) {
      log(`${url}: HTTP ${res.status}; trying the next mirror if any`);
      continue;
    }
    const total = Number(res.headers.get('content-length')) || null;
    const bar = progressBar(path.basename(dest), total);
    const h = crypto.createHash('md5');
    const out = fs.createWriteStream(part);
    let done = 0;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        h.update(chunk);
        done += chunk.length;
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        bar.update(done);
      }
    } catch (e) {
      bar.end();
      out.destroy();
      throw new Error(`${url}: download interrupted after ${formatBytes(done)} (${(e as Error).message}); ${part} is incomplete and will be replaced on the next run`);
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    bar.end();
    const got = h.digest('hex');
    if (got !== md5) {
      fs.rmSync(part, { force: true });
      throw new Error(`${path.basename(dest)}: checksum mismatch (MD5 ${got}, expected ${md5}) for ${url}; the download was deleted. Run the command again; if it persists the mirror serves a different file.`);
    }
    fs.renameSync(part, dest);
    log(`${path.basename(dest)}: ${formatBytes(done)} downloaded, MD5 ${md5} verified`);
    return;
  }
  if (offline) throw offline;
  throw new Error(`${path.basename(dest)}: no mirror served it (${urls.join(', ')})`);
}

/** Verifies `file` against `md5`; throws naming the file on mismatch. */
export async function verifyMd5(file: string, md5: string): Promise<void> {
  const got = await md5File(file);
  if (got !== md5) throw new Error(`${file}: checksum mismatch (MD5 ${got}, expected ${md5}); the file is corrupt, truncated or a different version`);
}
