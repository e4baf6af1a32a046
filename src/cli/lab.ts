/**
 * npm run lab -- [--ui notebook|lab] [--port N] [--browser] [--print-env] [-- extra Jupyter args]
 *
 * Starts a Jupyter server on 127.0.0.1 with the project root as its root folder and the project-local
 * tslab kernel "TypeScript (tslab, bop-reproduction)" (jupyter/kernels/tslab-bnn). Nothing is installed
 * into the user's home: see src/lab/jupyter.ts for the environment.
 *
 * --ui lab uses JupyterLab (`jupyter-lab` on PATH or `python3 -m jupyterlab`); --ui notebook uses the
 * classic Notebook of /usr/bin/python3 (Debian's jupyter-notebook). Default: JupyterLab when installed.
 * --print-env prints `export ...` lines to use the kernel from your own Jupyter:
 *   eval "$(npm run -s lab -- --print-env)" && jupyter lab
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { KERNEL_NAME, ensureJupyterDirs, jupyterEnv, labCommand, type LabArgs } from '../lab/jupyter';
import { repoRoot } from '../util/paths';

export { findJupyterLab, labCommand, type LabArgs } from '../lab/jupyter';

const USAGE = 'usage: npm run lab -- [--ui notebook|lab] [--port N] [--browser] [--print-env] [-- extra Jupyter args]';

export function parseLabArgs(argv: string[]): LabArgs {
  const a: LabArgs = { ui: 'auto', port: null, browser: false, printEnv: false, extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      a.extra.push(...argv.slice(i + 1));
      break;
    }
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--ui') {
      const v = value();
      if (v !== 'notebook' && v !== 'lab' && v !== 'auto')
        throw new Error(`--ui must be notebook, lab or auto (got "${v}")`);
      a.ui = v;
    } else if (flag === '--port') {
      const p = Number(value());
      if (!Number.isInteger(p) || p <= 0 || p > 65535) throw new Error(`--port must be a TCP port number`);
      a.port = p;
    } else if (flag === '--browser') a.browser = true;
    else if (flag === '--print-env') a.printEnv = true;
    else if (flag === '--help' || flag === '-h') throw new Error(USAGE);
    else a.extra.push(arg); // passed through to Jupyter (e.g. --NotebookApp.token=...)
  }
  return a;
}

function checkKernel(root: string): void {
  const spec = path.join(root, 'jupyter', 'kernels', KERNEL_NAME, 'kernel.json');
  if (!fs.existsSync(spec)) throw new Error(`${spec} is missing (the project-local kernelspec); restore it from git.`);
  if (!fs.existsSync(path.join(root, 'node_modules', 'tslab', 'dist', 'main.js')))
    throw new Error('tslab is not installed: run `npm install` first.');
}

async function main(): Promise<void> {
  const root = repoRoot();
  const a = parseLabArgs(process.argv.slice(2));
  const env = jupyterEnv(root);
  if (a.printEnv) {
    // PATH is left out: under npm it holds npm's own entries.
    for (const [k, v] of Object.entries(env)) if (k !== 'PATH') console.log(`export ${k}=${JSON.stringify(v)}`);
    return;
  }
  checkKernel(root);
  ensureJupyterDirs(env);
  const { cmd, args, ui } = labCommand(a, root);
  console.log(
    `Starting ${ui === 'lab' ? 'JupyterLab' : 'classic Jupyter Notebook'} on 127.0.0.1 (root: ${root}); kernel: "TypeScript (tslab, bop-reproduction)".`,
  );
  console.log('Open the URL with the token printed below. Stop with Ctrl-C.');
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 0 : 1);
  });
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 2;
  });
}
