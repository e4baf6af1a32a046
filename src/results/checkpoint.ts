/**
 * Checkpoints: everything a run needs to continue exactly where it stopped (model weights including BN
 * moving statistics, every optimizer's slots and step counters, the data and dropout generators' states,
 * the epoch and the history so far) in ONE file, written atomically (temp file + rename, see util/fs), so a
 * crash or a full disk at any moment leaves the previous checkpoint or the new one, never a mix.
 *
 * Format 2: 8-byte magic "BNNCKPT2", 32-byte SHA-256 of everything after it, uint32 LE header length, UTF-8
 * JSON header (which also holds the SHA-256 and byte count of the tensor payload), then float32 LE tensor
 * data. Every read checks the checksums and that every value is finite; a file that fails is refused with a
 * message naming it. Format 1 files ("BNNCKPT1", no checksum) are still read (sizes and finiteness checked).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import type { History } from '../train/history';
import { atomicWrite } from '../util/fs';
import { runPaths } from './paths';

const MAGIC_V1 = 'BNNCKPT1';
const MAGIC = 'BNNCKPT2';
const PREFIX = 8 + 32 + 4;

export interface CheckpointHeader {
  configHash: string;
  /** Epochs completed. */
  epoch: number;
  meta: Record<string, unknown>;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
  /** SHA-256 (hex) and length of the float32 payload (format 2). */
  payloadSha256?: string;
  payloadBytes?: number;
}

/** A checkpoint that cannot be used; `file` names it. */
export class CheckpointError extends Error {
  constructor(readonly file: string, readonly why: string) {
    super(`Checkpoint ${file} is corrupt (${why}); it cannot be resumed from. Delete it (or move it away) and rerun with --force to start this run over.`);
  }
}

const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest();

/** The bytes of a checkpoint (no finiteness check: see writeCheckpoint). */
export function encodeCheckpoint(header: Omit<CheckpointHeader, 'tensors' | 'payloadSha256' | 'payloadBytes'>, arrays: Record<string, { shape: number[]; data: Float32Array }>): Buffer {
  const entries: CheckpointHeader['tensors'] = [];
  let offset = 0;
  for (const [name, a] of Object.entries(arrays)) {
    entries.push({ name, shape: a.shape.slice(), offset, length: a.data.length });
    offset += a.data.length;
  }
  const payload = Buffer.alloc(offset * 4);
  let pos = 0;
  for (const a of Object.values(arrays)) {
    Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).copy(payload, pos);
    pos += a.data.byteLength;
  }
  const json = Buffer.from(JSON.stringify({ ...header, tensors: entries, payloadSha256: sha256(payload).toString('hex'), payloadBytes: payload.length }), 'utf8');
  const buf = Buffer.alloc(PREFIX + json.length + payload.length);
  buf.write(MAGIC, 0, 'ascii');
  buf.writeUInt32LE(json.length, 40);
  json.copy(buf, PREFIX);
  payload.copy(buf, PREFIX + json.length);
  sha256(buf.subarray(40)).copy(buf, 8);
  return buf;
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/**
 * Writes a checkpoint atomically. Refuses (and keeps the previous checkpoint) when a tensor holds NaN or
 * ±Infinity: such a state cannot be trained on, and must never replace a good one.
 */
export function writeCheckpoint(file: string, header: Omit<CheckpointHeader, 'tensors' | 'payloadSha256' | 'payloadBytes'>, tensors: Record<string, tf.Tensor>): void {
  const arrays: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const data = t.dtype === 'float32' ? (t.dataSync() as Float32Array) : Float32Array.from(t.dataSync() as ArrayLike<number>);
    const bad = firstNonFinite(data);
    if (bad >= 0) throw new Error(`not writing checkpoint ${file}: tensor ${name} holds ${data[bad]} at index ${bad}; the previous checkpoint is kept`);
    arrays[name] = { shape: t.shape.slice(), data };
  }
  atomicWrite(file, encodeCheckpoint(header, arrays));
}

/** Parses and checks a checkpoint's bytes: magic, checksums, sizes, finite values. Throws CheckpointError. */
export function decodeCheckpoint(buf: Buffer, file: string): { header: CheckpointHeader; arrays: Record<string, { shape: number[]; data: Float32Array }> } {
  const magic = buf.length >= 8 ? buf.toString('ascii', 0, 8) : '';
  let base: number;
  let hlen: number;
  if (magic === MAGIC) {
    if (buf.length < PREFIX) throw new CheckpointError(file, 'header truncated');
    hlen = buf.readUInt32LE(40);
    base = PREFIX;
  } else if (magic === MAGIC_V1) {
    if (buf.length < 12) throw new CheckpointError(file, 'header truncated');
    hlen = buf.readUInt32LE(8);
    base = 12;
  } else {
    throw new CheckpointError(file, 'bad magic');
  }
  if (base + hlen > buf.length) throw new CheckpointError(file, 'header truncated');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.toString('utf8', base, base + hlen));
  } catch {
    throw new CheckpointError(file, magic === MAGIC ? 'checksum mismatch: header is not JSON' : 'header is not JSON');
  }
  if (!header || typeof header !== 'object' || !Array.isArray(header.tensors) || typeof header.epoch !== 'number' || typeof header.configHash !== 'string') {
    throw new CheckpointError(file, 'header lacks configHash/epoch/tensors');
  }
  const start = base + hlen;
  const total = header.tensors.reduce((a, t) => a + t.length, 0);
  if (start + total * 4 !== buf.length) throw new CheckpointError(file, `expected ${start + total * 4} bytes, found ${buf.length}`);
  if (magic === MAGIC && !sha256(buf.subarray(40)).equals(buf.subarray(8, 40))) {
    throw new CheckpointError(file, 'checksum mismatch: the file was changed or damaged after it was written');
  }
  const payload = buf.subarray(start);
  if (header.payloadSha256 !== undefined && sha256(payload).toString('hex') !== header.payloadSha256) {
    throw new CheckpointError(file, 'payload checksum mismatch');
  }
  const arrays: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const t of header.tensors) {
    if (t.offset < 0 || t.offset + t.length > total || t.shape.reduce((a, b) => a * b, 1) !== t.length) throw new CheckpointError(file, `tensor ${t.name} has an inconsistent shape or offset`);
    const data = new Float32Array(t.length);
    Buffer.from(data.buffer).set(payload.subarray(t.offset * 4, (t.offset + t.length) * 4));
    const bad = firstNonFinite(data);
    if (bad >= 0) throw new CheckpointError(file, `tensor ${t.name} holds ${data[bad]} at index ${bad}; training cannot continue from non-finite values`);
    arrays[t.name] = { shape: t.shape, data };
  }
  return { header, arrays };
}

function readBytes(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new Error(`Cannot read checkpoint ${file}: ${(e as Error).message}`);
  }
}

/** Reads and checks only the header (the whole file is still read to verify it). */
export function readCheckpointHeader(file: string): CheckpointHeader {
  return decodeCheckpoint(readBytes(file), file).header;
}

/** Reads and checks a checkpoint (see `decodeCheckpoint`); its tensors are the caller's to dispose. */
export function readCheckpoint(file: string): { header: CheckpointHeader; tensors: Record<string, tf.Tensor> } {
  const { header, arrays } = decodeCheckpoint(readBytes(file), file);
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, a] of Object.entries(arrays)) tensors[name] = tf.tensor(a.data, a.shape, 'float32');
  return { header, tensors };
}

/**
 * What a training run hands over at the end of an epoch: the model's weights in order (with their names), the
 * optimizer's state, the generators' states, the history so far and the run's id.
 */
export interface RunCheckpoint {
  configHash: string;
  /** Epochs completed. */
  epoch: number;
  /** The model's weights in `model.weights` order. */
  weights: { name: string; tensor: tf.Tensor }[];
  /** `Optimizer.getState()`: JSON-able meta and named slot tensors. */
  optimizer: { meta: Record<string, unknown>; tensors: Record<string, tf.Tensor> };
  /** The data generator's state. */
  rng: [number, number, number, number];
  /** Each seeded dropout layer's generator state, by layer name. */
  dropout: Record<string, [number, number, number, number]>;
  history: History;
  runId: string | null;
  /** config.json of the run as this process wrote it (kept so that a damaged config.json can be rewritten). */
  runMeta?: Record<string, unknown> | null;
}

/** A run checkpoint as read back: tensors are the caller's to dispose (`dispose()` frees them all). */
export interface LoadedRunCheckpoint extends Omit<RunCheckpoint, 'weights'> {
  header: CheckpointHeader;
  /** The model's weights in order, matched by position and name against `weightNames`. */
  weights: tf.Tensor[];
  dispose(): void;
}

// Tensor keys inside the file: `model:<index>:<weight name>` and `opt:<optimizer slot name>`.
const weightKey = (i: number, name: string) => `model:${i}:${name}`;
const OPT = 'opt:';

/** Writes run folder `dir`'s checkpoint.bin (atomically; refused with NaN/∞, see `writeCheckpoint`). */
export function writeRunCheckpoint(dir: string, c: RunCheckpoint): void {
  const tensors: Record<string, tf.Tensor> = {};
  c.weights.forEach((w, i) => (tensors[weightKey(i, w.name)] = w.tensor));
  for (const [k, t] of Object.entries(c.optimizer.tensors)) tensors[OPT + k] = t;
  const meta = { optimizer: c.optimizer.meta, rng: c.rng, dropout: c.dropout, history: c.history, ...(c.runId ? { runId: c.runId } : {}), ...(c.runMeta ? { runMeta: c.runMeta } : {}) };
  writeCheckpoint(runPaths(dir).checkpoint, { configHash: c.configHash, epoch: c.epoch, meta }, tensors);
}

/**
 * Reads and checks `file` (a run's checkpoint.bin) for a model whose weights are named `weightNames` (in
 * order); throws CheckpointError for a damaged file, an Error naming a missing weight.
 */
export function readRunCheckpoint(file: string, weightNames: string[]): LoadedRunCheckpoint {
  const { header, tensors } = readCheckpoint(file);
  const dispose = () => tf.dispose(Object.values(tensors));
  try {
    const weights = weightNames.map((name, i) => {
      const t = tensors[weightKey(i, name)];
      if (!t) throw new Error(`${file} lacks weight ${name}; rerun with --force`);
      return t;
    });
    const optTensors: Record<string, tf.Tensor> = {};
    for (const [k, t] of Object.entries(tensors)) if (k.startsWith(OPT)) optTensors[k.slice(OPT.length)] = t;
    const m = header.meta;
    return {
      header,
      configHash: header.configHash,
      epoch: header.epoch,
      weights,
      optimizer: { meta: m.optimizer as Record<string, unknown>, tensors: optTensors },
      rng: m.rng as [number, number, number, number],
      dropout: (m.dropout ?? {}) as Record<string, [number, number, number, number]>,
      history: (m.history ?? []) as History,
      runId: (m.runId as string | undefined) ?? null,
      runMeta: checkpointRunMeta(header),
      dispose,
    };
  } catch (e) {
    dispose();
    throw e;
  }
}

/** The history stored in a checkpoint header ([] when it holds none). */
export function checkpointHistory(header: CheckpointHeader): History {
  return (Array.isArray(header.meta?.history) ? header.meta.history : []) as History;
}

/** The copy of config.json stored in a checkpoint header (null in checkpoints written before it was kept). */
export function checkpointRunMeta(header: CheckpointHeader): Record<string, unknown> | null {
  const m = header.meta?.runMeta;
  return m && typeof m === 'object' && !Array.isArray(m) ? (m as Record<string, unknown>) : null;
}

/** The run id stored in a checkpoint header (null when it has none). */
export function checkpointRunId(header: CheckpointHeader): string | null {
  return typeof header.meta?.runId === 'string' ? (header.meta.runId as string) : null;
}
