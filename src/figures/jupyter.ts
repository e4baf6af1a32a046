/**
 * Project-local Jupyter environment shared by `npm run lab` and `npm run notebooks`.
 *
 * Nothing is written to the user's home: JUPYTER_PATH adds <project>/jupyter (where the tslab-bnn kernelspec
 * lives), and the config, data (notebook trust database and secret) and runtime folders are under
 * <project>/.jupyter/ (git-ignored). Debian's Jupyter runs under /usr/bin/python3 (env BNN_PYTHON overrides).
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';

export const KERNEL_NAME = 'tslab-bnn';

/** Project root (two folders above this file). */
export function projectRootDir(): string {
  return path.resolve(__dirname, '..', '..');
}

/** The Python that has Jupyter: env BNN_PYTHON, else /usr/bin/python3 (Debian's), else python3. */
export function jupyterPython(): string {
  if (process.env.BNN_PYTHON) return process.env.BNN_PYTHON;
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** Environment variables that make Jupyter use the project-local kernelspec and state folders. */
export function jupyterEnv(root = projectRootDir()): Record<string, string> {
  const local = path.join(root, '.jupyter');
  const jp = [path.join(root, 'jupyter'), process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter);
  return {
    JUPYTER_PATH: jp,
    JUPYTER_CONFIG_DIR: path.join(local, 'config'),
    JUPYTER_DATA_DIR: path.join(local, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(local, 'runtime'),
    // Keep the kernel's node on PATH even when started from a GUI launcher.
    PATH: [path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter),
    BNN_PROJECT_ROOT: root,
  };
}

/** Creates the .jupyter folders (Jupyter creates files in them, not the folders themselves in all versions). */
export function ensureJupyterDirs(env: Record<string, string>): void {
  for (const k of ['JUPYTER_CONFIG_DIR', 'JUPYTER_DATA_DIR', 'JUPYTER_RUNTIME_DIR']) fs.mkdirSync(env[k], { recursive: true, mode: 0o700 });
}

/** Checks that `python -c code` works; returns stderr on failure. */
export function pythonCheck(python: string, code: string): string | null {
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8' });
  if (r.error) return r.error.message;
  return r.status === 0 ? null : (r.stderr || r.stdout || `exit ${r.status}`).trim();
}

export const INSTALL_HELP =
  'Jupyter for /usr/bin/python3 is missing. On Debian/Ubuntu: `sudo apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient`; ' +
  'or set BNN_PYTHON to a Python that has `notebook` and `nbclient` installed.';
