/**
 * config.json of a run folder: what the run was (the resolved config and its hash) and what ran it (package
 * version, git commit, backend, versions, data source, steps per epoch, creation time). Written atomically when
 * training starts; the readers take the config from it.
 */
import * as fs from 'fs';
import { atomicWriteJson } from '../util/fs';
import { runPaths } from './paths';

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
  backend?: string;
  [key: string]: unknown;
}

/** Writes config.json of run folder `dir` atomically. */
export function writeRunMeta(dir: string, meta: RunMeta): void {
  atomicWriteJson(runPaths(dir).config, meta);
}

/**
 * config.json of run folder `dir` as a JSON object, or null when there is none. Invalid JSON throws an error
 * naming the file, unless `lenient` (then null: a damaged config.json counts as absent).
 */
export function readRunMeta(dir: string, opts: { lenient?: boolean } = {}): Record<string, any> | null {
  const file = runPaths(dir).config;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || opts.lenient) return null;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    if (opts.lenient) return null;
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); re-run the experiment or delete the folder`);
  }
}
