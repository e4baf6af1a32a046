/**
 * config.json of a run folder: what the run was (the resolved config and its hash, the `--set` overrides) and
 * what ran it (package version, git commit, backend, versions, data source, steps per epoch, creation time).
 * Written atomically when training starts, and kept in every checkpoint too (so a damaged one can be rewritten);
 * the readers take the config from it once it agrees with the checkpoint (`checkRunMeta`).
 */
import * as fs from 'fs';
import { atomicWriteJson } from '../util/fs';
import { fixCommand, runPaths } from './paths';

/**
 * The fields of a stored config the results readers rely on. The whole ExperimentConfig of src/experiments is
 * stored; results does not import it (experiments sits above results), so callers that need the other fields
 * cast to it.
 */
export interface StoredConfig {
  experiment: string;
  profile: string;
  seed: number;
  epochs: number;
}

/** config.json as written by a run (other fields are kept as they are). */
export interface RunMeta {
  config: StoredConfig;
  configHash: string;
  /** The `--set key=value` overrides the run was started with (its profile folder is named by their hash). */
  set?: string[];
  backend?: string;
  [key: string]: unknown;
}

/** Writes config.json of run folder `dir` atomically. */
export function writeRunMeta(dir: string, meta: RunMeta): void {
  atomicWriteJson(runPaths(dir).config, meta);
}

/**
 * config.json of run folder `dir` as a JSON object, or null when there is none. Invalid JSON throws an error
 * naming the file and the command that rewrites it, unless `lenient` (then null: a damaged config.json counts as
 * absent).
 */
export function readRunMeta(dir: string, opts: { lenient?: boolean } = {}): Record<string, any> | null {
  const file = runPaths(dir).config;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || opts.lenient) return null;
    throw new Error(`${file}: cannot be read (${(e as Error).message})`);
  }
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v;
  } catch (e) {
    if (opts.lenient) return null;
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); \`${fixCommand(dir, 'repair')}\` rewrites it from the run's checkpoint`);
  }
}

/** What config.json of a run folder says and what is wrong with it against the run's checkpoint. */
export interface ConfigCheck {
  /** config.json as parsed (null when missing or not JSON). */
  meta: Record<string, any> | null;
  /** Why config.json does not belong to the checkpoint (one line, naming the file), or null when it does. */
  problem: string | null;
}

const canonical = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => (v as any)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as any)[k])}`).join(',')}}`;
  return JSON.stringify(v);
};

/**
 * Checks config.json of run folder `dir` against a verified checkpoint: it must parse as an object whose
 * `configHash` is the checkpoint's, whose `config.epochs` is a positive integer, and whose `config` equals the
 * copy of config.json the checkpoint holds (`runMeta`, when it holds one; the other fields, such as the backend
 * of the latest resume, may differ).
 */
export function checkRunMeta(dir: string, checkpoint: { configHash: string; runMeta: Record<string, unknown> | null }): ConfigCheck {
  const file = runPaths(dir).config;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { meta: null, problem: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${file} is missing` : `${file} cannot be read (${(e as Error).message})` };
  }
  let meta: Record<string, any>;
  try {
    meta = JSON.parse(text);
  } catch {
    return { meta: null, problem: `${file} is not valid JSON (truncated or damaged)` };
  }
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) return { meta: null, problem: `${file} is not a JSON object` };
  if (meta.configHash !== checkpoint.configHash) return { meta, problem: `${file} names config ${JSON.stringify(meta.configHash)}, the checkpoint ${checkpoint.configHash}` };
  const epochs = meta.config?.epochs;
  if (!Number.isInteger(epochs) || epochs < 1) return { meta, problem: `${file} has no positive integer config.epochs (got ${JSON.stringify(epochs)})` };
  const kept = checkpoint.runMeta;
  if (kept && canonical(kept.config) !== canonical(meta.config)) return { meta, problem: `${file} holds another config than the copy in the checkpoint` };
  return { meta, problem: null };
}
