/**
 * Project-local Jupyter environment shared by `npm run lab`, `npm run notebooks` and the notebook renderer.
 *
 * Nothing is written to the user's home: JUPYTER_PATH adds <project>/jupyter (where the tslab-bnn kernelspec
 * lives), and the config, data (notebook trust database and secret) and runtime folders are under
 * <project>/.jupyter/ (git-ignored). Debian's Jupyter runs under /usr/bin/python3 (env BNN_PYTHON overrides).
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { repoRoot } from '../util/paths';
import { envPython } from '../util/env';

export const KERNEL_NAME = 'tslab-bnn';

/** The Python that has Jupyter: env BNN_PYTHON, else /usr/bin/python3 (Debian's), else python3. */
export function jupyterPython(): string {
  const python = envPython();
  if (python) return python;
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** Environment variables that make Jupyter use the project-local kernelspec and state folders. */
export function jupyterEnv(root = repoRoot()): Record<string, string> {
  const local = path.join(root, '.jupyter');
  const jp = [path.join(root, 'jupyter'), process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter);
  return {
    JUPYTER_PATH: jp,
    JUPYTER_CONFIG_DIR: path.join(local, 'config'),
    JUPYTER_DATA_DIR: path.join(local, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(local, 'runtime'),
    // Keep the kernel's node on PATH even when started from a GUI launcher.
    PATH: [path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter),
  };
}

/** Creates the .jupyter folders (Jupyter creates files in them, not the folders themselves in all versions). */
export function ensureJupyterDirs(env: Record<string, string>): void {
  for (const k of ['JUPYTER_CONFIG_DIR', 'JUPYTER_DATA_DIR', 'JUPYTER_RUNTIME_DIR'])
    fs.mkdirSync(env[k], { recursive: true, mode: 0o700 });
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

/** How to start a Jupyter server: which UI, port, whether to open a browser, extra Jupyter arguments. */
export interface LabArgs {
  ui: 'auto' | 'notebook' | 'lab';
  port: number | null;
  browser: boolean;
  printEnv: boolean;
  extra: string[];
}

/** How to start JupyterLab, if installed: [command, args prefix]. */
export function findJupyterLab(): [string, string[]] | null {
  const which = spawnSync('sh', ['-c', 'command -v jupyter-lab'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return [which.stdout.trim(), []];
  const py = jupyterPython();
  if (!pythonCheck(py, 'import jupyterlab')) return [py, ['-m', 'jupyterlab']];
  return null;
}

/**
 * The command line that starts the server on 127.0.0.1 with `root` as its root folder: JupyterLab when asked
 * for or (ui 'auto') installed, else the classic Notebook of `jupyterPython()`. Throws with install help.
 */
export function labCommand(a: LabArgs, root = repoRoot()): { cmd: string; args: string[]; ui: 'notebook' | 'lab' } {
  const common = [
    '--ip=127.0.0.1',
    ...(a.port ? [`--port=${a.port}`] : []),
    ...(a.browser ? [] : ['--no-browser']),
    // Jupyter refuses to start as root without it (containers, CI).
    ...(typeof process.getuid === 'function' && process.getuid() === 0 ? ['--allow-root'] : []),
  ];
  const lab = a.ui === 'notebook' ? null : findJupyterLab();
  if (a.ui === 'lab' && !lab)
    throw new Error(
      'JupyterLab is not installed (no `jupyter-lab` on PATH, no jupyterlab module); use --ui notebook or install JupyterLab.',
    );
  if (lab) return { cmd: lab[0], args: [...lab[1], `--ServerApp.root_dir=${root}`, ...common, ...a.extra], ui: 'lab' };
  const py = jupyterPython();
  const err = pythonCheck(py, 'import notebook');
  if (err) throw new Error(`${INSTALL_HELP}\n(${py}: ${err.split('\n').pop()})`);
  return { cmd: py, args: ['-m', 'notebook', `--notebook-dir=${root}`, ...common, ...a.extra], ui: 'notebook' };
}

/** A process found by `processesWithEnv`: its id and its process group. */
export interface ProcessRef {
  pid: number;
  pgid: number;
}

/**
 * The processes of this user whose environment holds `name=value` (Linux: read from /proc/<pid>/environ and the
 * process group from /proc/<pid>/stat; elsewhere none are found). A notebook run marks its runner with a variable
 * of its own, which the kernels Jupyter starts inherit; this is how it finds a kernel that outlived its runner
 * (Jupyter starts each kernel in a session of its own, so the runner's process group does not hold it).
 */
export function processesWithEnv(name: string, value: string): ProcessRef[] {
  const want = Buffer.from(`${name}=${value}\0`);
  const out: ProcessRef[] = [];
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d));
  } catch {
    return out;
  }
  for (const d of pids) {
    const pid = Number(d);
    if (pid === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${d}/environ`);
      if (!(env.indexOf(want) === 0 || env.indexOf(Buffer.concat([Buffer.from('\0'), want])) >= 0)) continue;
      // /proc/<pid>/stat: "pid (comm) state ppid pgrp …"; comm may hold blanks and parentheses
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue; // a zombie holds nothing
      out.push({ pid, pgid: Number(fields[2]) });
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return out;
}

/** Whether process group `pgid` has a live member (signal 0 to the group). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Ends whole process groups: SIGTERM to each, then, for those with a member left after `graceMs`, SIGKILL.
 * Resolves once every group is empty or `graceMs` after the SIGKILL (bounded: 2 × graceMs plus polling).
 * Returns the groups that were signalled.
 */
export async function endProcessGroups(pgids: number[], graceMs = 2000): Promise<number[]> {
  const groups = [...new Set(pgids)].filter((g) => Number.isInteger(g) && g > 1 && g !== process.pid && groupAlive(g));
  const signal = (sig: NodeJS.Signals) => {
    for (const g of groups) {
      try {
        process.kill(-g, sig);
      } catch {
        // already gone
      }
    }
  };
  const settle = async () => {
    for (const t0 = Date.now(); Date.now() - t0 < graceMs && groups.some(groupAlive);)
      await new Promise((r) => setTimeout(r, 50));
  };
  signal('SIGTERM');
  await settle();
  if (groups.some(groupAlive)) {
    signal('SIGKILL');
    await settle();
  }
  return groups;
}
