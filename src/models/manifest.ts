/**
 * The manifest of a saved model folder (final/ of a run): sizes and SHA-256 of model.json and weights.bin,
 * written last by `saveModel` (./io). A folder is complete only when its manifest matches. No TensorFlow.js
 * here, so the results readers can check folders cheaply.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { atomicWrite } from '../util/fs';

export const MODEL_MANIFEST = 'manifest.json';

/** The files a saved model folder must hold (and its manifest must list). */
export const MODEL_FILES = ['model.json', 'weights.bin'] as const;

export interface ModelManifest {
  format: 'bnn-final-1';
  files: Record<string, { bytes: number; sha256: string }>;
  /** What the caller recorded (run id, config hash, epoch, …). */
  meta?: Record<string, unknown>;
  savedAt: string;
}

const sha256Hex = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

/** The result of `checkModelDir`: `ok` with the manifest and file contents, or `why` not (one line). */
export interface ModelDirCheck {
  ok: boolean;
  why: string;
  manifest: ModelManifest | null;
  files: Record<string, Buffer>;
}

/**
 * Writes `files` into `dir` (each atomically), then, last, `manifest.json` with their sizes and SHA-256 and
 * `meta`. An older manifest is removed first, so an interrupted save never looks complete.
 */
export function writeModelFiles(
  dir: string,
  files: Record<string, Buffer>,
  meta?: Record<string, unknown>,
): ModelManifest {
  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(path.join(dir, MODEL_MANIFEST), { force: true });
  const listed: ModelManifest['files'] = {};
  for (const [name, data] of Object.entries(files)) {
    atomicWrite(path.join(dir, name), data);
    listed[name] = { bytes: data.length, sha256: sha256Hex(data) };
  }
  const manifest: ModelManifest = {
    format: 'bnn-final-1',
    files: listed,
    ...(meta ? { meta } : {}),
    savedAt: new Date().toISOString(),
  };
  atomicWrite(path.join(dir, MODEL_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/**
 * Checks a saved model folder against its manifest: every listed file present with the recorded size and
 * SHA-256, and model.json and weights.bin among them. `ok: false` says why (no manifest, a missing file, a size
 * or checksum mismatch).
 */
export function checkModelDir(dir: string): ModelDirCheck {
  const bad = (why: string): ModelDirCheck => ({ ok: false, why, manifest: null, files: {} });
  const mf = path.join(dir, MODEL_MANIFEST);
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(mf, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return bad(
      code === 'ENOENT'
        ? `${mf} is missing (the save did not finish, or an older version wrote it)`
        : `${mf} is not valid JSON`,
    );
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
    if (sha256Hex(data) !== want.sha256)
      return bad(`${f} does not match the SHA-256 in its manifest (damaged after it was written)`);
    files[name] = data;
  }
  if (MODEL_FILES.some((n) => !files[n])) return bad(`${mf} does not list ${MODEL_FILES.join(' and ')}`);
  return { ok: true, why: '', manifest, files };
}
