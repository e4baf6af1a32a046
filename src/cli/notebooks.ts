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
import { spawn } from 'child_process';
import { renderNotebooks } from '../lab/render';
import { fsyncDir, pidAlive } from '../util/fs';
import { KERNEL_NAME, INSTALL_HELP, ensureJupyterDirs, jupyterEnv, jupyterPython, pythonCheck } from '../lab/jupyter';
import { repoRoot } from '../util/paths';
import { parseArgs, type ParsedArgs } from './args';

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

const USAGE = 'usage: npm run notebooks -- [name…] [--profile smoke|quick|paper] [--timeout SECONDS] [--out DIR] [--keep-going] [--list] [--render] [--no-execute]';

/** Parses the command line (throws with the usage on bad input). */
export function parseNotebookArgs(argv: string[], root = repoRoot()): NotebookArgs {
  let p: ParsedArgs;
  try {
    p = parseArgs(argv, { flags: ['keep-going', 'list', 'render', 'no-execute', 'help'], values: ['profile', 'timeout', 'out'] });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE}`);
  }
  const one = (k: string) => p.values.get(k)?.[0];
  const a: NotebookArgs = {
    names: p.positional,
    profile: one('profile') ?? (process.env.BNN_PROFILE || 'quick'),
    timeout: -1,
    outDir: path.join(root, 'notebooks', 'executed'),
    keepGoing: p.flags.has('keep-going'),
    list: p.flags.has('list'),
    render: p.flags.has('render'),
    execute: !p.flags.has('no-execute'),
    help: p.flags.has('help'),
  };
  if (one('timeout') !== undefined) {
    const v = Number(one('timeout'));
    if (!Number.isFinite(v)) throw new Error(`--timeout must be a number of seconds\n${USAGE}`);
    a.timeout = v;
  }
  if (one('out') !== undefined) a.outDir = path.resolve(one('out')!);
  if (!a.execute && !a.render) throw new Error(`--no-execute only makes sense with --render\n${USAGE}`);
  if (!PROFILES.includes(a.profile)) throw new Error(`unknown profile "${a.profile}" (use ${PROFILES.join(', ')})`);
  return a;
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
  if (pref.length > 1) throw new Error(`notebook "${name}" is ambiguous: ${pref.map((f) => path.basename(f)).join(', ')}`);
  throw new Error(`no notebook "${name}" in notebooks/ (available: ${choices})`);
}

/**
 * Runs the given notebooks through jupyter/run_notebooks.py; resolves to its exit code. Output
 * (one line per notebook, failure details) is streamed to this process's stdout/stderr.
 */
export function runNotebooks(files: string[], opts: { profile: string; timeout?: number; outDir: string; keepGoing?: boolean; root?: string; quiet?: boolean }): Promise<{ code: number; output: string }> {
  const root = opts.root ?? repoRoot();
  const python = jupyterPython();
  const missing = pythonCheck(python, 'import nbclient, nbformat');
  if (missing) return Promise.reject(new Error(`${INSTALL_HELP}\n(${python}: ${missing.split('\n').pop()})`));
  const env = { ...process.env, ...jupyterEnv(root), BNN_PROFILE: opts.profile };
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
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
      if (!opts.quiet) process.stdout.write(d);
    });
    child.stderr.on('data', (d) => {
      output += d;
      if (!opts.quiet) process.stderr.write(d);
    });
    child.on('error', (e) => {
      fs.rmSync(staging, { recursive: true, force: true });
      reject(e);
    });
    child.on('close', (code, signal) => {
      let moved: string;
      try {
        moved = placeExecuted(staging, opts.outDir, root);
      } catch (e) {
        moved = `could not move the executed notebooks out of ${staging}: ${(e as Error).message}\n`;
        code = code || 1;
      }
      if (moved) {
        output += moved;
        if (!opts.quiet) process.stdout.write(moved);
      }
      resolve({ code: code ?? (signal ? 128 : 1), output });
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
    const prev = fs.existsSync(dest) ? `the previous executed copy ${rel(dest)} (${fs.statSync(dest).mtime.toISOString()}) is kept` : `there is no previous executed copy at ${rel(dest)}`;
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
    console.log(`Running ${files.length} notebook(s) with profile "${a.profile}" (BNN_PROFILE) → ${path.relative(root, a.outDir) || '.'}/`);
    const { code } = await runNotebooks(files, { profile: a.profile, timeout: a.timeout, outDir: a.outDir, keepGoing: a.keepGoing, root });
    process.exitCode = code;
    if (code !== 0 && !a.keepGoing) return;
  }
  if (a.render) {
    const executed = files.map((f) => path.join(a.outDir, path.basename(f))).filter((f) => fs.existsSync(f));
    if (executed.length === 0) throw new Error(`no executed notebooks in ${a.outDir}: run without --no-execute first`);
    const shots = path.join(a.outDir, 'screenshots');
    console.log(`Rendering ${executed.length} executed notebook(s) in headless Chromium (classic Notebook) → ${path.relative(root, shots)}/`);
    const rendered = await renderNotebooks(executed, { screenshotDir: shots, root });
    let bad = 0;
    for (const r of rendered) {
      const ok = r.drawn >= r.expected && r.trusted && r.pageErrors.length === 0;
      if (!ok) bad++;
      const errs = r.pageErrors.length ? `, page errors: ${r.pageErrors.join(' | ').slice(0, 300)}` : '';
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${r.notebook}: ${r.drawn}/${r.expected} figures drawn, ${r.trusted ? 'trusted' : 'NOT trusted'}, ${(r.ms / 1000).toFixed(1)}s -> ${path.relative(root, r.screenshot!)}${errs}`);
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
