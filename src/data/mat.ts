/**
 * A MATLAB v5 MAT-file reader (the format of `save -v6` / `-v7`; Mathworks "MAT-File Format" R2018 doc), enough for
 * numeric arrays such as SVHN's `X` (uint8 32×32×3×N) and `y` (double N×1). No Python, no copies of big arrays:
 * top-level elements are located by their tags, and an element's data is streamed (through zlib for
 * miCOMPRESSED elements) in chunks to a callback, so a caller can keep only the part it needs.
 *
 * Layout: 128-byte header (116 text "MATLAB 5.0 MAT-file…", 8 subsystem offset, uint16 version 0x0100, "IM" =
 * little-endian), then data elements: tag = (uint32 type, uint32 nbytes), data padded to 8 bytes; a "small
 * element" packs nbytes (upper 16 bits) and type into the first word and ≤ 4 data bytes into the second.
 * miMATRIX (14) holds: array flags (class in the low byte; complex 0x800), dimensions (int32), name (int8),
 * real part, imaginary part. The real part's stored type may be narrower than its class (MATLAB writes a double
 * array of small integers as miUINT8), so values are converted to the class. miCOMPRESSED (15) is one zlib
 * stream holding one whole element (tag included); it is not padded.
 * Little-endian files only (what MATLAB writes on x86/ARM); v7.3 (HDF5) and v4 files are refused with a clear error.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';

export const MI = { INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9, INT64: 12, UINT64: 13, MATRIX: 14, COMPRESSED: 15, UTF8: 16, UTF16: 17, UTF32: 18 } as const;
export const MX = { CELL: 1, STRUCT: 2, OBJECT: 3, CHAR: 4, SPARSE: 5, DOUBLE: 6, SINGLE: 7, INT8: 8, UINT8: 9, INT16: 10, UINT16: 11, INT32: 12, UINT32: 13, INT64: 14, UINT64: 15 } as const;
const MX_NAMES: Record<number, string> = { 1: 'cell', 2: 'struct', 3: 'object', 4: 'char', 5: 'sparse', 6: 'double', 7: 'single', 8: 'int8', 9: 'uint8', 10: 'int16', 11: 'uint16', 12: 'int32', 13: 'uint32', 14: 'int64', 15: 'uint64' };
const MI_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8 };

/** A top-level variable of a MAT file, located but not read. */
export interface MatVariable {
  name: string;
  /** MATLAB class id (MX) and name ('uint8', 'double', …). */
  classId: number;
  className: string;
  /** Dimensions as MATLAB has them (column-major), e.g. [32, 32, 3, 73257]. */
  dims: number[];
  complex: boolean;
  /** Stored type (MI) of the real part; may be narrower than the class. */
  dataType: number;
  /** Number of elements of the real part (product of dims). */
  count: number;
  /** File offset of the element's tag, its byte count, whether it is miCOMPRESSED. */
  offset: number;
  nbytes: number;
  compressed: boolean;
}

/** Sequential reads of exactly n bytes from an async stream of Buffers. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private it: AsyncIterator<Buffer>;
  /** Bytes handed out so far. */
  consumed = 0;
  constructor(
    src: AsyncIterable<Buffer>,
    private what: string,
  ) {
    this.it = src[Symbol.asyncIterator]();
  }
  private async fill(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), r.value]) : r.value;
    this.pos = 0;
    return true;
  }
  async read(n: number): Promise<Buffer> {
    while (this.buf.length - this.pos < n) {
      if (!(await this.fill())) throw new Error(`${this.what}: unexpected end of data (file truncated?)`);
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.consumed += n;
    return out;
  }
  /** Hands the next n bytes to `cb` in chunks, as they arrive. */
  async stream(n: number, cb: (chunk: Buffer) => void | boolean): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.pos >= this.buf.length && !(await this.fill())) throw new Error(`${this.what}: unexpected end of data (file truncated?)`);
      const take = Math.min(left, this.buf.length - this.pos);
      const chunk = this.buf.subarray(this.pos, this.pos + take);
      this.pos += take;
      this.consumed += take;
      left -= take;
      if (cb(chunk) === false) return;
    }
  }
  async close(): Promise<void> {
    if (this.it.return) await this.it.return();
  }
}

interface Tag {
  type: number;
  nbytes: number;
  /** Data of a small element (already read), else null. */
  small: Buffer | null;
}

async function readTag(r: ByteReader): Promise<Tag> {
  const t = await r.read(8);
  const w0 = t.readUInt32LE(0);
  if (w0 >>> 16 !== 0) return { type: w0 & 0xffff, nbytes: w0 >>> 16, small: t.subarray(4, 4 + (w0 >>> 16)) };
  return { type: w0, nbytes: t.readUInt32LE(4), small: null };
}

async function readSub(r: ByteReader): Promise<{ type: number; data: Buffer }> {
  const tag = await readTag(r);
  if (tag.small) return { type: tag.type, data: Buffer.from(tag.small) };
  const data = Buffer.from(await r.read(tag.nbytes));
  const pad = (8 - (tag.nbytes % 8)) % 8;
  if (pad) await r.read(pad);
  return { type: tag.type, data };
}

function fileStream(file: string, start: number, nbytes: number): AsyncIterable<Buffer> {
  if (nbytes === 0) return (async function* () {})();
  return fs.createReadStream(file, { start, end: start + nbytes - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
}

function inflated(file: string, start: number, nbytes: number): AsyncIterable<Buffer> {
  const src = fs.createReadStream(file, { start, end: start + nbytes - 1, highWaterMark: 1 << 20 });
  const z = zlib.createInflate({ chunkSize: 1 << 20 });
  src.on('error', (e) => z.destroy(e));
  src.pipe(z);
  return z as AsyncIterable<Buffer>;
}

/** Reads the matrix header (after the miMATRIX tag) up to the real part's tag. */
async function readMatrixHeader(r: ByteReader, where: string): Promise<Omit<MatVariable, 'offset' | 'nbytes' | 'compressed'> & { dataBytes: number; small: Buffer | null }> {
  const flags = await readSub(r);
  if (flags.type !== MI.UINT32 || flags.data.length < 8) throw new Error(`${where}: bad array-flags subelement (corrupt MAT file)`);
  const f0 = flags.data.readUInt32LE(0);
  const classId = f0 & 0xff;
  const complex = (f0 & 0x800) !== 0;
  const dimsEl = await readSub(r);
  if (dimsEl.type !== MI.INT32 || dimsEl.data.length < 8 || dimsEl.data.length % 4) throw new Error(`${where}: bad dimensions subelement (corrupt MAT file)`);
  const dims: number[] = [];
  for (let i = 0; i < dimsEl.data.length; i += 4) dims.push(dimsEl.data.readInt32LE(i));
  const nameEl = await readSub(r);
  const name = nameEl.data.toString('latin1');
  const count = dims.reduce((a, b) => a * b, 1);
  if (classId < MX.DOUBLE || classId > MX.UINT64) {
    return { name, classId, className: MX_NAMES[classId] ?? `class ${classId}`, dims, complex, dataType: 0, count, dataBytes: 0, small: null };
  }
  const tag = await readTag(r);
  const size = MI_SIZE[tag.type];
  if (!size) throw new Error(`${where}: variable '${name}' stores its data as unsupported type ${tag.type} (corrupt MAT file?)`);
  if (tag.nbytes !== count * size) throw new Error(`${where}: variable '${name}' has ${tag.nbytes} data bytes, expected ${count} × ${size} for dims ${dims.join('×')} (corrupt MAT file)`);
  return { name, classId, className: MX_NAMES[classId], dims, complex, dataType: tag.type, count, dataBytes: tag.nbytes, small: tag.small };
}

function checkHeader(file: string, fd: number, size: number): void {
  if (size < 128) throw new Error(`${file}: ${size} bytes, too short for a MAT file (truncated?)`);
  const h = Buffer.alloc(128);
  fs.readSync(fd, h, 0, 128, 0);
  const text = h.toString('latin1', 0, 116);
  if (text.startsWith('MATLAB 7.3')) throw new Error(`${file}: MATLAB v7.3 (HDF5) MAT files are not supported; re-save with save(..., '-v7')`);
  if (!text.startsWith('MATLAB 5.0 MAT-file')) throw new Error(`${file}: not a MATLAB v5 MAT file (header does not start with "MATLAB 5.0 MAT-file")`);
  const endian = h.toString('latin1', 126, 128);
  if (endian === 'MI') throw new Error(`${file}: big-endian MAT files are not supported`);
  if (endian !== 'IM') throw new Error(`${file}: bad endian indicator '${endian}' (corrupt MAT file)`);
}

/**
 * Lists the numeric (and other) variables of a MAT file with their class, dims and storage, reading only tags and
 * the first bytes of each compressed element.
 */
export async function listMatVariables(file: string): Promise<MatVariable[]> {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r');
  const out: MatVariable[] = [];
  try {
    checkHeader(file, fd, size);
    let off = 128;
    const tagBuf = Buffer.alloc(8);
    while (off + 8 <= size) {
      fs.readSync(fd, tagBuf, 0, 8, off);
      const type = tagBuf.readUInt32LE(0);
      const nbytes = tagBuf.readUInt32LE(4);
      if (off + 8 + nbytes > size) {
        throw new Error(`${file}: element at byte ${off} declares ${nbytes} bytes but the file ends at ${size} (truncated download? delete it and fetch again)`);
      }
      const where = `${file} (element at byte ${off})`;
      if (type === MI.COMPRESSED || type === MI.MATRIX) {
        const compressed = type === MI.COMPRESSED;
        const r = new ByteReader(compressed ? inflated(file, off + 8, nbytes) : fileStream(file, off + 8, nbytes), where);
        try {
          if (compressed) {
            const inner = await readTag(r);
            if (inner.type !== MI.MATRIX) {
              off += 8 + nbytes;
              continue;
            }
          }
          const h = await readMatrixHeader(r, where);
          out.push({ name: h.name, classId: h.classId, className: h.className, dims: h.dims, complex: h.complex, dataType: h.dataType, count: h.count, offset: off, nbytes, compressed });
        } catch (e) {
          throw wrapZlib(e, file);
        } finally {
          await r.close();
        }
      } else if (type === 0 && nbytes === 0) {
        break; // zero padding at the end
      }
      off += 8 + nbytes + (type === MI.COMPRESSED ? 0 : (8 - (nbytes % 8)) % 8);
    }
    if (off < size && off + 8 > size && out.length === 0) throw new Error(`${file}: no variables found (truncated?)`);
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

function wrapZlib(e: unknown, file: string): Error {
  const err = e as Error & { code?: string };
  if (err.code && String(err.code).startsWith('Z_')) return new Error(`${file}: corrupt compressed data (${err.message}); delete the file and fetch it again`);
  if (/unexpected end of file/i.test(err.message)) return new Error(`${file}: compressed data ends early (${err.message}); the file is truncated, delete it and fetch it again`);
  return err;
}

/**
 * Streams the real part of variable `v` as raw stored bytes (type `v.dataType`, little-endian) to `onChunk`,
 * with the byte offset of the chunk within the data. `onChunk` may return false to stop early.
 */
export async function streamMatVariable(file: string, v: MatVariable, onChunk: (chunk: Buffer, byteOffset: number) => void | boolean): Promise<void> {
  const where = `${file} (variable '${v.name}')`;
  const r = new ByteReader(v.compressed ? inflated(file, v.offset + 8, v.nbytes) : fileStream(file, v.offset + 8, v.nbytes), where);
  try {
    if (v.compressed) await readTag(r);
    const h = await readMatrixHeader(r, where);
    if (h.small) {
      onChunk(h.small, 0);
      return;
    }
    let at = 0;
    let stop = false;
    await r.stream(h.dataBytes, (chunk) => {
      if (stop) return false;
      const res = onChunk(chunk, at);
      at += chunk.length;
      if (res === false) stop = true;
      return !stop;
    });
  } catch (e) {
    throw wrapZlib(e, file);
  } finally {
    await r.close();
  }
}

export type MatTypedArray = Float64Array | Float32Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

function arrayForClass(classId: number, n: number): MatTypedArray {
  switch (classId) {
    case MX.DOUBLE: return new Float64Array(n);
    case MX.SINGLE: return new Float32Array(n);
    case MX.INT8: return new Int8Array(n);
    case MX.UINT8: return new Uint8Array(n);
    case MX.INT16: return new Int16Array(n);
    case MX.UINT16: return new Uint16Array(n);
    case MX.INT32: return new Int32Array(n);
    case MX.UINT32: return new Uint32Array(n);
    case MX.INT64: return new BigInt64Array(n);
    case MX.UINT64: return new BigUint64Array(n);
    default: throw new Error(`unsupported MATLAB class ${MX_NAMES[classId] ?? classId}`);
  }
}

function readStored(b: Buffer, i: number, type: number): number | bigint {
  switch (type) {
    case MI.INT8: return b.readInt8(i);
    case MI.UINT8: return b[i];
    case MI.INT16: return b.readInt16LE(i);
    case MI.UINT16: return b.readUInt16LE(i);
    case MI.INT32: return b.readInt32LE(i);
    case MI.UINT32: return b.readUInt32LE(i);
    case MI.SINGLE: return b.readFloatLE(i);
    case MI.DOUBLE: return b.readDoubleLE(i);
    case MI.INT64: return b.readBigInt64LE(i);
    case MI.UINT64: return b.readBigUInt64LE(i);
    default: throw new Error(`unsupported stored type ${type}`);
  }
}

/**
 * Reads a whole numeric variable into a typed array of its class (column-major, as MATLAB stores it).
 * For big arrays prefer streamMatVariable.
 */
export async function readMatVariable(file: string, v: MatVariable): Promise<MatTypedArray> {
  if (v.classId < MX.DOUBLE || v.classId > MX.UINT64) throw new Error(`${file}: variable '${v.name}' is a ${v.className}, not a numeric array`);
  const out = arrayForClass(v.classId, v.count);
  const size = MI_SIZE[v.dataType];
  const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
  let carry = Buffer.alloc(0);
  let k = 0;
  await streamMatVariable(file, v, (chunk) => {
    const b = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const whole = b.length - (b.length % size);
    for (let i = 0; i < whole; i += size) {
      const x = readStored(b, i, v.dataType);
      (out as unknown as (number | bigint)[])[k++] = big ? BigInt(x) : Number(x);
    }
    carry = Buffer.from(b.subarray(whole));
  });
  if (k !== v.count) throw new Error(`${file}: variable '${v.name}' has ${k} values, expected ${v.count}`);
  return out;
}

/** Reads all numeric variables of a (small) MAT file: name → {dims, className, data}. */
export async function readMatFile(file: string): Promise<Record<string, { dims: number[]; className: string; data: MatTypedArray }>> {
  const vars = await listMatVariables(file);
  const out: Record<string, { dims: number[]; className: string; data: MatTypedArray }> = {};
  for (const v of vars) {
    if (v.classId >= MX.DOUBLE && v.classId <= MX.UINT64) out[v.name] = { dims: v.dims, className: v.className, data: await readMatVariable(file, v) };
  }
  return out;
}
