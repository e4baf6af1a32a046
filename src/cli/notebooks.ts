/**
 * npm run notebooks -- [name…] [--profile smoke|quick|paper] [--timeout S] [--out DIR] [--keep-going] [--list]
 *                       [--render] [--no-execute]
 *
 * Executes notebooks headless (nbclient under /usr/bin/python3, project-local tslab-bnn kernel whose
 * working directory is the project root) and saves executed, trusted copies to notebooks/executed/.
 * The profile reaches the notebooks as env BNN_PROFILE (read by their config cell, default "quick").
 * Exits non-zero on the first failing cell, naming the notebook and the cell.
 *
 * Names: "00", "00-setup-and-data", "00-setup-and-data.ipynb" (looked up in notebooks/) or a path to
 * any .ipynb. No names: every notebooks/*.ipynb whose name does not start with "_" (templates).
 *
 * --render opens the executed copies in the classic Notebook in headless Chromium, checks that every
 * Plotly figure stored in them is drawn and that they are trusted, and saves full-page screenshots to
 * <out>/screenshots/. --no-execute renders the existing executed copies without running them again.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import * as os from 'os';
import { spawn } from 'child_process';
import { renderNotebooks } from '../lab/render';
import { fsyncDir, pidAlive } from '../util/fs';
import {
  KERNEL_NAME,
  INSTALL_HELP,
  endProcessGroups,
  ensureJupyterDirs,
  jupyterEnv,
  jupyterPython,
  processesWithEnv,
  pythonCheck,
} from '../lab/jupyter';
import { repoRoot } from '../util/paths';
import { DEFAULT_PROFILE, envProfile, NOTEBOOK_RUN_VAR } from '../util/env';
import { parseArgs, parseIntegerOption, type ParsedArgs } from './args';

export const PROFILES = ['smoke', 'quick', 'paper'];

export interface NotebookArgs {
  names: string[];
  profile: string;
  timeout: number;
  outDir: string;
  keepGoing: boolean;
  list: boolean;
  render: boolean;
  execute: boolean;
  /** -h / --help: print the usage and exit 0. */
  help?: boolean;
}

const USAGE =
  'usage: npm run notebooks -- [name…] [--profile smoke|quick|paper] [--timeout SECONDS (≥ 1, per cell)] [--out DIR] [--keep-going] [--list] [--render] [--no-execute]';

/** The notebooks' profile (they read it as BNN_PROFILE): one of PROFILES; `from` names where it came from. */
function notebookProfile(raw: string, from: '--profile' | 'BNN_PROFILE'): string {
  if (!PROFILES.includes(raw))
    throw new Error(`unknown profile ${JSON.stringify(raw)} (${from}; allowed: ${PROFILES.join(', ')})`);
  return raw;
}

/** Parses the command line (throws with the usage on bad input). */
export function parseNotebookArgs(argv: string[], root = repoRoot()): NotebookArgs {
  let p: ParsedArgs;
  try {
    p = parseArgs(argv, {
      flags: ['keep-going', 'list', 'render', 'no-execute', 'help'],
      values: ['profile', 'timeout', 'out'],
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE}`);
  }
  const one = (k: string) => p.values.get(k)?.[0];
  try {
    const a: NotebookArgs = {
      names: p.positional,
      profile:
        one('profile') !== undefined
          ? notebookProfile(one('profile')!, '--profile')
          : notebookProfile(envProfile() ?? DEFAULT_PROFILE, 'BNN_PROFILE'),
      timeout: -1,
      outDir: path.join(root, 'notebooks', 'executed'),
      keepGoing: p.flags.has('keep-going'),
      list: p.flags.has('list'),
      render: p.flags.has('render'),
      execute: !p.flags.has('no-execute'),
      help: p.flags.has('help'),
    };
    // seconds per cell, a whole number ≥ 1 (nbclient's timeout is an int; without the option: no limit)
    if (one('timeout') !== undefined) a.timeout = parseIntegerOption('timeout', one('timeout')!, 7 * 86400, 1);
    if (one('out') === '') throw new Error('--out "": needs a folder');
    if (one('out') !== undefined) a.outDir = path.resolve(one('out')!);
    if (!a.execute && !a.render) throw new Error('--no-execute only makes sense with --render');
    return a;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE}`);
  }
}

/** Notebooks in notebooks/ (sorted), templates (`_*.ipynb`) excluded unless `withTemplates`. */
export function listNotebooks(root = repoRoot(), withTemplates = false): string[] {
  const dir = path.join(root, 'notebooks');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb') && (withTemplates || !f.startsWith('_')))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Resolves a name ("00", "00-setup-and-data", a path) to a notebook file; throws listing the choices. */
export function resolveNotebook(name: string, root = repoRoot()): string {
  if (name.endsWith('.ipynb') && fs.existsSync(name)) return path.resolve(name);
  const all = listNotebooks(root, true);
  const base = name.replace(/\.ipynb$/, '');
  const exact = all.find((f) => path.basename(f, '.ipynb') === base);
  if (exact) return exact;
  const pref = all.filter((f) => path.basename(f).startsWith(base));
  if (pref.length === 1) return pref[0];
  const choices = all.map((f) => path.basename(f, '.ipynb')).join(', ') || '(none)';
  if (pref.length > 1)
    throw new Error(`notebook "${name}" is ambiguous: ${pref.map((f) => path.basename(f)).join(', ')}`);
  throw new Error(`no notebook "${name}" in notebooks/ (available: ${choices})`);
}

/** The environment variable that marks a notebook run's runner and, through it, every kernel the runner starts. */
export const RUN_MARKER = NOTEBOOK_RUN_VAR;

/** How long the runner's output may stay open after the runner exited before it is cut (the kernels are ended first). */
const CLOSE_WAIT_MS = 5000;

export interface RunNotebooksOptions {
  profile: string;
  timeout?: number;
  outDir: string;
  keepGoing?: boolean;
  root?: string;
  quiet?: boolean;
}

/**
 * What the notebook runner starts with: the marker its kernels inherit, its environment (the project's Jupyter
 * folders, BNN_PROFILE), a fresh staging folder for the executed copies (only successful ones replace the previous
 * copies) and its command line.
 */
function runnerSetup(
  files: string[],
  opts: RunNotebooksOptions,
  root: string,
): { marker: string; env: NodeJS.ProcessEnv; staging: string; args: string[] } {
  const marker = `${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  const env = { ...process.env, ...jupyterEnv(root), BNN_PROFILE: opts.profile, [RUN_MARKER]: marker };
  ensureJupyterDirs(env as Record<string, string>);
  // Executed copies go to a staging folder first; only successful ones replace the previous copies.
  fs.mkdirSync(opts.outDir, { recursive: true });
  removeStaleStaging(opts.outDir);
  const staging = path.join(opts.outDir, `.executing-${process.pid}`);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging);
  const args = [
    path.join(root, 'jupyter', 'run_notebooks.py'),
    '--out-dir',
    staging,
    '--timeout',
    String(Math.round(opts.timeout ?? -1)),
    '--kernel',
    KERNEL_NAME,
    '--cwd',
    root,
    ...(opts.keepGoing ? ['--keep-going'] : []),
    ...files,
  ];
  return { marker, env, staging, args };
}

/**
 * Runs the given notebooks through jupyter/run_notebooks.py; resolves to its exit code. Output
 * (one line per notebook, failure details) is streamed to this process's stdout/stderr.
 *
 * The runner gets a process group of its own and a marker variable (RUN_MARKER) that its kernels inherit. When the
 * runner ends in any way, every process still carrying the marker — a kernel orphaned by a runner that was killed —
 * is ended with its process group (SIGTERM, then SIGKILL), so the call returns within a bounded time instead of
 * waiting on the pipes an orphaned kernel holds open. A runner killed by a signal gives code 128 + the signal's number
 * and a message naming it and the kernels ended. A kernel that dies while the runner lives is reported by the runner
 * ("kernel died", code 1). SIGINT / SIGTERM to this process end the runner and its kernels the same way.
 */
export function runNotebooks(files: string[], opts: RunNotebooksOptions): Promise<{ code: number; output: string }> {
  const root = opts.root ?? repoRoot();
  const python = jupyterPython();
  const missing = pythonCheck(python, 'import nbclient, nbformat');
  if (missing) return Promise.reject(new Error(`${INSTALL_HELP}\n(${python}: ${missing.split('\n').pop()})`));
  const { marker, env, staging, args } = runnerSetup(files, opts, root);
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    const closed = new Promise<'closed'>((r) => child.once('close', () => r('closed')));
    const say = (text: string, stream: NodeJS.WriteStream = process.stdout) => {
      output += text;
      if (!opts.quiet) stream.write(text);
    };
    child.stdout.on('data', (d) => say(String(d)));
    child.stderr.on('data', (d) => say(String(d), process.stderr));
    let interrupted: NodeJS.Signals | null = null;
    const onSignal = (sig: NodeJS.Signals) => {
      interrupted = sig;
      say(`${sig}: ending the notebook runner and its kernel\n`, process.stderr);
      if (child.pid)
        void endProcessGroups([child.pid, ...processesWithEnv(RUN_MARKER, marker).map((p) => p.pgid)], 1000);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const unlisten = () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    };
    child.on('error', (e) => {
      unlisten();
      fs.rmSync(staging, { recursive: true, force: true });
      reject(e);
    });
    const onExit = async (exitCode: number | null, signal: NodeJS.Signals | null) => {
      // The runner is gone. Whatever still carries its marker (its kernel, when the runner was killed) is ended
      // with its process group, so that the pipes it inherited close.
      const left = processesWithEnv(RUN_MARKER, marker);
      const ended = await endProcessGroups([...(child.pid ? [child.pid] : []), ...left.map((p) => p.pgid)]);
      const cut = new Promise<'cut'>((r) => setTimeout(() => r('cut'), CLOSE_WAIT_MS).unref());
      if ((await Promise.race([closed, cut])) === 'cut') {
        child.stdout.destroy();
        child.stderr.destroy();
      }
      unlisten();
      let code = exitCode ?? 1;
      const kernels = left.filter((p) => p.pgid !== child.pid);
      const endedText = kernels.length
        ? `; ended the kernel it left running (${kernels.map((p) => `pid ${p.pid}, process group ${p.pgid}`).join('; ')})`
        : ended.length > 1 || (ended.length === 1 && ended[0] !== child.pid)
          ? '; ended the processes it left running'
          : '';
      if (signal) {
        code = 128 + (os.constants.signals[signal] ?? 0);
        say(
          `error: the notebook runner (${path.basename(python)} run_notebooks.py, pid ${child.pid}) was killed by ${signal}${interrupted ? ` (this command got ${interrupted})` : ''}${endedText}. Notebooks it finished before are in place; rerun the others.\n`,
          process.stderr,
        );
      } else if (kernels.length) {
        say(`note: the notebook runner exited with code ${exitCode}${endedText}\n`, process.stderr);
        if (code === 0) code = 1;
      }
      // stopped by the user (Ctrl-C) or a job scheduler: exit as the signal says, whatever the runner made of it
      if (interrupted) code = 128 + (os.constants.signals[interrupted as NodeJS.Signals] ?? 0);
      let moved: string;
      try {
        moved = placeExecuted(staging, opts.outDir, root);
      } catch (e) {
        moved = `could not move the executed notebooks out of ${staging}: ${(e as Error).message}\n`;
        code = code || 1;
      }
      if (moved) say(moved);
      resolve({ code, output });
    };
    child.on('exit', (exitCode, signal) => {
      onExit(exitCode, signal).catch(reject);
    });
  });
}

/** Removes staging folders of notebook runs whose process is gone. */
function removeStaleStaging(outDir: string): void {
  for (const n of fs.readdirSync(outDir)) {
    const m = /^\.executing-(\d+)$/.exec(n);
    if (m && !pidAlive(Number(m[1]))) fs.rmSync(path.join(outDir, n), { recursive: true, force: true });
  }
}

/**
 * Moves each executed notebook out of `staging`: a successful one (metadata.bnn.ok) replaces the previous
 * copy in `outDir` (atomic rename); a failed one goes to `outDir/failed/`, leaving the previous copy in place.
 * Returns the lines to print about failed ones.
 */
export function placeExecuted(staging: string, outDir: string, root = repoRoot()): string {
  let lines = '';
  const rel = (f: string) => path.relative(root, f) || f;
  for (const name of fs.existsSync(staging) ? fs.readdirSync(staging).filter((f) => f.endsWith('.ipynb')) : []) {
    const src = path.join(staging, name);
    let ok = false;
    try {
      ok = JSON.parse(fs.readFileSync(src, 'utf8')).metadata?.bnn?.ok === true;
    } catch {
      ok = false;
    }
    const dest = path.join(outDir, name);
    if (ok) {
      fs.renameSync(src, dest);
      fsyncDir(outDir);
      continue;
    }
    const failedDir = path.join(outDir, 'failed');
    fs.mkdirSync(failedDir, { recursive: true });
    const failed = path.join(failedDir, name);
    fs.renameSync(src, failed);
    const prev = fs.existsSync(dest)
      ? `the previous executed copy ${rel(dest)} (${fs.statSync(dest).mtime.toISOString()}) is kept`
      : `there is no previous executed copy at ${rel(dest)}`;
    lines += `${name} failed: its partly executed copy is ${rel(failed)}; ${prev}\n`;
  }
  fs.rmSync(staging, { recursive: true, force: true });
  return lines;
}

async function main(): Promise<void> {
  const root = repoRoot();
  const a = parseNotebookArgs(process.argv.slice(2), root);
  if (a.help) {
    console.log(USAGE);
    return;
  }
  if (a.list) {
    for (const f of listNotebooks(root)) console.log(path.relative(root, f));
    return;
  }
  const files = a.names.length ? a.names.map((n) => resolveNotebook(n, root)) : listNotebooks(root);
  if (files.length === 0) throw new Error('no notebooks to run (notebooks/*.ipynb is empty)');
  if (a.execute) {
    console.log(
      `Running ${files.length} notebook(s) with profile "${a.profile}" (BNN_PROFILE) → ${path.relative(root, a.outDir) || '.'}/`,
    );
    const { code } = await runNotebooks(files, {
      profile: a.profile,
      timeout: a.timeout,
      outDir: a.outDir,
      keepGoing: a.keepGoing,
      root,
    });
    process.exitCode = code;
    if (code !== 0 && (!a.keepGoing || code >= 128)) return;
  }
  if (a.render) {
    const executed = files.map((f) => path.join(a.outDir, path.basename(f))).filter((f) => fs.existsSync(f));
    if (executed.length === 0) throw new Error(`no executed notebooks in ${a.outDir}: run without --no-execute first`);
    const shots = path.join(a.outDir, 'screenshots');
    console.log(
      `Rendering ${executed.length} executed notebook(s) in headless Chromium (classic Notebook) → ${path.relative(root, shots)}/`,
    );
    const rendered = await renderNotebooks(executed, { screenshotDir: shots, root });
    let bad = 0;
    for (const r of rendered) {
      const ok = r.drawn >= r.expected && r.trusted && r.pageErrors.length === 0;
      if (!ok) bad++;
      const errs = r.pageErrors.length ? `, page errors: ${r.pageErrors.join(' | ').slice(0, 300)}` : '';
      console.log(
        `${ok ? 'ok  ' : 'FAIL'} ${r.notebook}: ${r.drawn}/${r.expected} figures drawn, ${r.trusted ? 'trusted' : 'NOT trusted'}, ${(r.ms / 1000).toFixed(1)}s -> ${path.relative(root, r.screenshot!)}${errs}`,
      );
    }
    if (bad) {
      console.log(`${bad} notebook(s) did not render completely`);
      process.exitCode = 1;
    }
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 2;
  });
}
