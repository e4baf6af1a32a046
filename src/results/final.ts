/**
 * final/ of a run folder: the trained model, complete only when its manifest matches (the manifest itself is
 * the models layer's: src/models/manifest.ts, without TensorFlow.js).
 */
import { checkModelDir, type ModelDirCheck } from '../models/manifest';
import { runPaths } from './paths';

export { checkModelDir, MODEL_MANIFEST, type ModelDirCheck, type ModelManifest } from '../models/manifest';

/** Checks final/ of run folder `dir` against its manifest (see `checkModelDir`). */
export function checkFinalDir(dir: string): ModelDirCheck {
  return checkModelDir(runPaths(dir).final);
}
