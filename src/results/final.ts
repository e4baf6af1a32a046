/**
 * The manifest of a saved model folder (final/ of a run): sizes and SHA-256 of model.json and weights.bin,
 * written last by `saveModel` (src/models/io.ts). A folder is complete only when its manifest matches.
 * No TensorFlow.js here, so the results readers can check folders cheaply.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const MODEL_MANIFEST = 'manifest.json';

export interface ModelManifest {
  format: 'bnn-final-1';
  files: Record<string, { bytes: number; sha256: string }>;
  /** What the caller recorded (run id, config hash, epoch, …). */
  meta?: Record<string, unknown>;
  savedAt: string;
}

const sha256Hex = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

/**
 * Checks a saved model folder against its manifest: every file present with the recorded size and SHA-256.
 * `ok: false` says why (no manifest, a missing file, a size or checksum mismatch).
 */
/** The result of `checkModelDir`: `ok` with the manifest and file contents, or `why` not (one line). */
export interface ModelDirCheck {
  ok: boolean;
  why: string;
  manifest: ModelManifest | null;
  files: Record<string, Buffer>;
}

export function checkModelDir(dir: string): ModelDirCheck {
  const bad = (why: string): ModelDirCheck => ({ ok: false, why, manifest: null, files: {} });
  const mf = path.join(dir, MODEL_MANIFEST);
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(mf, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return bad(code === 'ENOENT' ? `${mf} is missing (the save did not finish, or an older version wrote it)` : `${mf} is not valid JSON`);
  }
  if (!manifest || typeof manifest.files !== 'object') return bad(`${mf} lists no files`);
  const files: Record<string, Buffer> = {};
  for (const [name, want] of Object.entries(manifest.files)) {
    const f = path.join(dir, name);
    let data: Buffer;
    try {
      data = fs.readFileSync(f);
    } catch {
      return bad(`${f} is missing`);
    }
    if (data.length !== want.bytes) return bad(`${f} holds ${data.length} bytes, its manifest says ${want.bytes}`);
    if (sha256Hex(data) !== want.sha256) return bad(`${f} does not match the SHA-256 in its manifest (damaged after it was written)`);
    files[name] = data;
  }
  if (!files['model.json'] || !files['weights.bin']) return bad(`${mf} does not list model.json and weights.bin`);
  return { ok: true, why: '', manifest, files };
}

