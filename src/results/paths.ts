/**
 * Where results live: results/<experiment>/<profile>/seed-<n>/ under the results root, which is an
 * explicit folder, else env BNN_RESULTS_DIR, else <project>/results. One definition for the runner,
 * the readers and the figures.
 */
import * as path from 'path';
import { repoRoot } from '../data/paths';

/** Results root: explicit `root` > env BNN_RESULTS_DIR > <project>/results. */
export function resultsRoot(root?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (root) return path.resolve(root);
  return env.BNN_RESULTS_DIR ? path.resolve(env.BNN_RESULTS_DIR) : path.join(repoRoot(), 'results');
}
