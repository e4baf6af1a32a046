/**
 * Reading .tar.gz archives entry by entry (tar-stream over node's zlib), without extracting arbitrary paths.
 * Errors (truncated or corrupt gzip/tar) name the archive.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { pipeline } from 'stream';
import * as tar from 'tar-stream';

export interface TarEntry {
  /** Path inside the archive, without a leading "./". */
  name: string;
  size: number;
  type: string;
}

/**
 * Calls `onEntry` for every entry of `file` (gzip-compressed when `gzip`, default: name ends in .gz/.tgz).
 * `onEntry` returns true to receive the entry's bytes (then `onData` gets them as one Buffer), false to skip.
 */
export async function readTar(
  file: string,
  onEntry: (e: TarEntry) => boolean,
  onData: (e: TarEntry, data: Buffer) => void | Promise<void>,
  gzip = /\.(tgz|gz)$/i.test(file),
): Promise<number> {
  if (!fs.existsSync(file)) throw new Error(`${file}: archive not found`);
  const extract = tar.extract();
  let failure: Error | null = null;
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  const done = new Promise<void>((resolve) => {
    const cb = (err: Error | null | undefined) => {
      if (err && !failure) failure = err;
      resolve();
    };
    if (gzip) pipeline(input, zlib.createGunzip(), extract as unknown as NodeJS.WritableStream, cb);
    else pipeline(input, extract as unknown as NodeJS.WritableStream, cb);
  });
  let count = 0;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const e: TarEntry = { name: h.name.replace(/^\.\//, ''), size: h.size, type: h.type };
      count++;
      if (h.type === 'file' && onEntry(e)) {
        const parts: Buffer[] = [];
        for await (const chunk of entry as AsyncIterable<Buffer>) parts.push(chunk);
        const data = Buffer.concat(parts);
        if (data.length !== e.size) throw new Error(`entry ${e.name} is truncated (${data.length} of ${e.size} bytes)`);
        await onData(e, data);
      } else {
        entry.resume();
      }
    }
  } catch (err) {
    if (!failure) failure = err as Error;
  }
  await done;
  if (failure) {
    const msg = (failure as Error).message;
    const hint = /unexpected end|premature|truncat/i.test(msg) ? ' (the archive is truncated: delete it and download again)' : '';
    throw new Error(`${file}: cannot read archive: ${msg}${hint}`);
  }
  if (count === 0) throw new Error(`${file}: archive is empty or not a tar archive`);
  return count;
}
