/**
 * Every environment variable the project reads, in one table (`ENV_VARS`: name, type, default, meaning), with one
 * accessor each. Code outside this module never reads `process.env.BNN_*` (test/env.test.ts checks the source);
 * it calls the accessor, which takes the environment as an argument for tests and defaults to `process.env`.
 * Building a child process's environment (`{ ...process.env, BNN_PROFILE: p }`) is a write, not a read, and is
 * done where the child is started. The README's table of variables is `envTableMarkdown()`.
 *
 *   const threads = envThreads();             // BNN_THREADS as a positive integer, undefined when unset
 *   const root = envDataDir() ?? 'data';      // BNN_DATA_DIR resolved to an absolute path
 *
 * Lowest layer: anything may import it.
 */
import * as path from 'path';

/** The environment an accessor reads (process.env by default; a plain object in tests). */
export type Env = NodeJS.ProcessEnv;

/** The profile of a run, a notebook or a figure when neither `--profile` nor BNN_PROFILE names one. */
export const DEFAULT_PROFILE = 'quick' as const;

/** One environment variable: what it holds and what it changes. */
export interface EnvVar {
  name: string;
  /** The values it takes. */
  type: string;
  /** What holds when it is unset or empty. */
  default: string;
  meaning: string;
}

/** Every variable, in the order of the README's table. */
export const ENV_VARS: readonly EnvVar[] = [
  {
    name: 'BNN_BACKEND',
    type: '`tensorflow` \\| `wasm` \\| `cpu`',
    default: 'the first that loads of tfjs-node-gpu, tfjs-node, wasm, cpu',
    meaning: 'forces one tfjs backend; an unavailable forced backend is an error, never a fallback',
  },
  {
    name: 'BNN_THREADS',
    type: 'integer ≥ 1',
    default: 'the logical cores, at most 8',
    meaning: "wasm threads (1: the single-threaded build); sets TensorFlow's TF_NUM_INTRAOP_THREADS when that is unset",
  },
  {
    name: 'BNN_NATIVE',
    type: '`0` \\| `false` \\| `off` \\| `no`',
    default: 'native kernels on when the addon is built',
    meaning: 'turns off the oneDNN training kernels and the native packed inference engine (pure-wasm path)',
  },
  {
    name: 'BNN_PACKED_ISA',
    type: '`avx512` \\| `avx2` \\| `scalar`',
    default: 'the widest this CPU has',
    meaning: 'instruction set of the native packed inference engine',
  },
  {
    name: 'BNN_DATA_DIR',
    type: 'folder',
    default: '`data/` in the project',
    meaning: 'the dataset cache (`npm run data` writes there, the loaders read there; passed to sweep tasks)',
  },
  {
    name: 'BNN_RESULTS_DIR',
    type: 'folder',
    default: '`results/` in the project',
    meaning: 'where runs are written and read (runs, figures, notebooks, sweeps)',
  },
  {
    name: 'BNN_SWEEPS_DIR',
    type: 'folder',
    default: '`sweeps/` in the project',
    meaning: 'where `npm run sweep` writes its sweep folders (`--sweeps-dir` wins)',
  },
  { name: 'BNN_SBATCH', type: 'command', default: '`sbatch`', meaning: 'the command `npm run sweep` submits with' },
  {
    name: 'BNN_PETS_SAMPLE',
    type: 'folder',
    default: '`shared/data/oxford-iiit-pet-sample` beside the project or one of its parent folders',
    meaning: 'an Oxford-IIIT Pet copy in the official layout, used when the data cache has none',
  },
  {
    name: 'BNN_PROFILE',
    type: '`smoke` \\| `quick` \\| `paper` (figures: also `<profile>-<hash>`)',
    default: `\`${DEFAULT_PROFILE}\``,
    meaning:
      'the profile of the notebooks and of `npm run figures` (`--profile` wins; `npm run notebooks` sets it for its kernels)',
  },
  {
    name: 'BNN_PYTHON',
    type: 'command',
    default: '`/usr/bin/python3`, else `python3`',
    meaning: 'the Python that has Jupyter (`notebook`, `nbclient`)',
  },
  {
    name: 'BNN_CHROMIUM',
    type: 'file',
    default: 'the first of /usr/bin/chromium, chromium-browser, google-chrome, google-chrome-stable',
    meaning: 'the Chromium or Chrome binary that exports figures and renders notebooks',
  },
  {
    name: 'BNN_TSLAB_WATCH',
    type: '`1`',
    default: 'off',
    meaning: "keeps tslab's file watchers on in the notebook kernel (read by jupyter/tslab-kernel.js)",
  },
  {
    name: 'BNN_NOTEBOOK_RUN',
    type: 'marker',
    default: 'unset',
    meaning: 'set by `npm run notebooks` on its Jupyter processes, to find and end them; not a setting',
  },
];

/** The README's table of environment variables, one row per entry of `ENV_VARS`. */
export function envTableMarkdown(vars: readonly EnvVar[] = ENV_VARS): string {
  const rows = vars.map((v) => `| \`${v.name}\` | ${v.type} | ${v.default} | ${v.meaning} |`);
  return ['| variable | values | default | what it does |', '|---|---|---|---|', ...rows].join('\n');
}

/** The trimmed value of a variable of the table, undefined when unset or empty. */
function text(env: Env, name: string): string | undefined {
  const v = (env[name] ?? '').trim();
  return v === '' ? undefined : v;
}

/** A folder variable, resolved to an absolute path (undefined when unset). */
function folder(env: Env, name: string): string | undefined {
  const v = text(env, name);
  return v === undefined ? undefined : path.resolve(v);
}

/** An accessor of a variable as written (trimmed; undefined when unset or empty). */
const textVar =
  (name: string) =>
  (env: Env = process.env): string | undefined =>
    text(env, name);

/** An accessor of a folder variable, resolved to an absolute path (undefined when unset). */
const folderVar =
  (name: string) =>
  (env: Env = process.env): string | undefined =>
    folder(env, name);

/** BNN_BACKEND as written (undefined when unset); src/backend checks the name. */
export const envBackend = textVar('BNN_BACKEND');

/** BNN_THREADS (undefined when unset); throws unless a positive integer. */
export function envThreads(env: Env = process.env): number | undefined {
  const v = text(env, 'BNN_THREADS');
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BNN_THREADS='${v}' must be a positive integer (e.g. 1 or 2).`);
  return n;
}

/** BNN_NATIVE's value when it turns the native kernels off (0, false, off, no; any case), else null. */
export function envNativeOff(env: Env = process.env): string | null {
  const v = text(env, 'BNN_NATIVE');
  return v !== undefined && /^(0|false|off|no)$/i.test(v) ? v : null;
}

/** BNN_PACKED_ISA as written (undefined when unset); src/inference checks the name. */
export const envPackedIsa = textVar('BNN_PACKED_ISA');

/** BNN_DATA_DIR as an absolute path (undefined when unset). */
export const envDataDir = folderVar('BNN_DATA_DIR');

/** BNN_RESULTS_DIR as an absolute path (undefined when unset). */
export const envResultsDir = folderVar('BNN_RESULTS_DIR');

/** BNN_SWEEPS_DIR as an absolute path (undefined when unset). */
export const envSweepsDir = folderVar('BNN_SWEEPS_DIR');

/** BNN_SBATCH, else `sbatch`. */
export function envSbatch(env: Env = process.env): string {
  return text(env, 'BNN_SBATCH') ?? 'sbatch';
}

/** BNN_PETS_SAMPLE as an absolute path (undefined when unset). */
export const envPetsSample = folderVar('BNN_PETS_SAMPLE');

/** BNN_PROFILE as written (undefined when unset); the caller checks it against the profiles it accepts. */
export const envProfile = textVar('BNN_PROFILE');

/** BNN_PYTHON (undefined when unset). */
export const envPython = textVar('BNN_PYTHON');

/** BNN_CHROMIUM (undefined when unset). */
export const envChromium = textVar('BNN_CHROMIUM');

/** The marker variable `npm run notebooks` sets on the Jupyter processes it starts (found again in /proc). */
export const NOTEBOOK_RUN_VAR = 'BNN_NOTEBOOK_RUN';
