/**
 * Checkpoints: everything a run needs to continue exactly where it stopped (model weights including BN
 * moving statistics, every optimizer's slots and step counters, the data and dropout generators' states,
 * the epoch and the history so far) in ONE file, written atomically (temp file + rename), so a crash at
 * any moment leaves the previous checkpoint or the new one, never a mix or a truncated file.
 *
 * Format: 8-byte magic "BNNCKPT1", uint32 LE header length, UTF-8 JSON header, then float32 LE tensor data.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { atomicWrite } from '../util/fs';

const MAGIC = 'BNNCKPT1';

export interface CheckpointHeader {
  configHash: string;
  /** Epochs completed. */
  epoch: number;
  meta: Record<string, unknown>;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
}

export function writeCheckpoint(file: string, header: Omit<CheckpointHeader, 'tensors'>, tensors: Record<string, tf.Tensor>): void {
  const names = Object.keys(tensors);
  const entries: CheckpointHeader['tensors'] = [];
  let offset = 0;
  const arrays: Float32Array[] = [];
  for (const name of names) {
    const t = tensors[name];
    const data = t.dtype === 'float32' ? (t.dataSync() as Float32Array) : Float32Array.from(t.dataSync() as ArrayLike<number>);
    entries.push({ name, shape: t.shape.slice(), offset, length: data.length });
    arrays.push(data);
    offset += data.length;
  }
  const json = Buffer.from(JSON.stringify({ ...header, tensors: entries }), 'utf8');
  const buf = Buffer.alloc(12 + json.length + offset * 4);
  buf.write(MAGIC, 0, 'ascii');
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, 12);
  let pos = 12 + json.length;
  for (const a of arrays) {
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(buf, pos);
    pos += a.byteLength;
  }
  atomicWrite(file, buf);
}

export function readCheckpoint(file: string): { header: CheckpointHeader; tensors: Record<string, tf.Tensor> } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`Cannot read checkpoint ${file}: ${(e as Error).message}`);
  }
  const corrupt = (why: string) => new Error(`Checkpoint ${file} is corrupt (${why}); delete it or rerun with --force`);
  if (buf.length < 12 || buf.toString('ascii', 0, 8) !== MAGIC) throw corrupt('bad magic');
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) throw corrupt('header truncated');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + hlen));
  } catch {
    throw corrupt('header is not JSON');
  }
  const base = 12 + hlen;
  const total = header.tensors.reduce((a, t) => a + t.length, 0);
  if (base + total * 4 !== buf.length) throw corrupt(`expected ${base + total * 4} bytes, found ${buf.length}`);
  const tensors: Record<string, tf.Tensor> = {};
  for (const t of header.tensors) {
    const data = new Float32Array(t.length);
    Buffer.from(data.buffer).set(buf.subarray(base + t.offset * 4, base + (t.offset + t.length) * 4));
    tensors[t.name] = tf.tensor(data, t.shape, 'float32');
  }
  return { header, tensors };
}
