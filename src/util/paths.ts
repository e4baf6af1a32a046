/**
 * The project root: the one definition every layer uses (results, sweeps, notebooks, the Jupyter
 * environment, figures output, the CLI). Lowest layer, so anything may import it.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The package name in package.json that marks the project root. */
export const PACKAGE_NAME = 'bop-reproduction';

/**
 * The project root: the nearest ancestor of this file (or of the working directory) whose package.json has
 * `"name": "bop-reproduction"`; the working directory when none is found (e.g. a bundled copy).
 */
export function repoRoot(): string {
  const starts = [typeof __dirname === 'string' ? __dirname : process.cwd(), process.cwd()];
  for (const start of starts) {
    let d = path.resolve(start);
    for (;;) {
      const pj = path.join(d, 'package.json');
      if (fs.existsSync(pj)) {
        try {
          if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === PACKAGE_NAME) return d;
        } catch {
          /* not ours */
        }
      }
      const up = path.dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  return process.cwd();
}
