// One module reads the environment (src/util/env.ts): its table, its accessors, and a scan of src/ that fails when
// code elsewhere reads a BNN_* variable or the old Chromium name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import {
  DEFAULT_PROFILE,
  ENV_VARS,
  envBackend,
  envDataDir,
  envNativeOff,
  envProfile,
  envSbatch,
  envTableMarkdown,
  envThreads,
  NOTEBOOK_RUN_VAR,
} from '../src/util/env';

const ROOT = path.resolve(__dirname, '..');
const ENV_MODULE = path.join(ROOT, 'src', 'util', 'env.ts');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : /\.(ts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

const withoutComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');

/**
 * The environment reads of a source text: `x.BNN_NAME` and `x['BNN_NAME']` (process.env or an env argument), and any
 * mention of the old Chromium variable. Keys of an object literal (`{ ...process.env, BNN_PROFILE: p }`, a child's
 * environment) are writes and pass.
 */
export function envReads(text: string): string[] {
  const code = withoutComments(text);
  const reads = [...code.matchAll(/(?<!\.\.)\.(BNN_[A-Z0-9_]+)\b|\[\s*['"`](BNN_[A-Z0-9_]+)['"`]\s*\]/g)].map(
    (m) => m[1] ?? m[2],
  );
  if (/\bCHROMIUM_PATH\b/.test(code)) reads.push('CHROMIUM_PATH');
  return reads;
}

test('the scanner sees reads through process.env, an env argument and brackets, not child environments or comments', () => {
  const text = [
    'const a = process.env.BNN_DATA_DIR;',
    "const b = env['BNN_THREADS'];",
    'if (opts.env.BNN_BACKEND) x();',
    'const c = process.env.CHROMIUM_PATH;',
    "const child = { ...process.env, BNN_PROFILE: 'smoke', BNN_THREADS: '1' };",
    '// process.env.BNN_NATIVE in a comment',
    '/* env.BNN_SBATCH */',
  ].join('\n');
  assert.deepEqual(envReads(text).sort(), ['BNN_BACKEND', 'BNN_DATA_DIR', 'BNN_THREADS', 'CHROMIUM_PATH']);
});

test('no code outside src/util/env.ts reads a BNN_* variable', () => {
  const bad = sourceFiles(path.join(ROOT, 'src'))
    .filter((f) => f !== ENV_MODULE)
    .flatMap((f) => envReads(fs.readFileSync(f, 'utf8')).map((v) => `${path.relative(ROOT, f)} reads ${v}`));
  assert.deepEqual(bad, [], `read these through an accessor of src/util/env.ts:\n${bad.join('\n')}`);
});

test('every variable of the table has one accessor in env.ts (or is the notebook marker, or read by the kernel launcher)', () => {
  const code = withoutComments(fs.readFileSync(ENV_MODULE, 'utf8'));
  const read = new Set([...code.matchAll(/\b(?:text|folder)(?:Var\(|\(env, )'(BNN_[A-Z0-9_]+)'\)/g)].map((m) => m[1]));
  const launcher = fs.readFileSync(path.join(ROOT, 'jupyter', 'tslab-kernel.js'), 'utf8');
  for (const m of launcher.matchAll(/process\.env\.(BNN_[A-Z0-9_]+)/g)) read.add(m[1]);
  read.add(NOTEBOOK_RUN_VAR);
  assert.deepEqual([...read].sort(), ENV_VARS.map((v) => v.name).sort());
  assert.equal(new Set(ENV_VARS.map((v) => v.name)).size, ENV_VARS.length, 'a variable is listed twice');
});

test('every BNN_* variable the sources, scripts and docs name is in the table', () => {
  const known = new Set(ENV_VARS.map((v) => v.name));
  const files = [
    ...sourceFiles(path.join(ROOT, 'src')),
    ...[
      'README.md',
      'jupyter/tslab-kernel.js',
      'jupyter/run_notebooks.py',
      'scripts/setup.sh',
      '.ci/run',
      'bench/README.md',
      'bench/INFERENCE.md',
      'data/README.md',
    ]
      .map((f) => path.join(ROOT, f))
      .filter((f) => fs.existsSync(f)),
  ];
  const unknown = files.flatMap((f) =>
    [...fs.readFileSync(f, 'utf8').matchAll(/\bBNN_[A-Z0-9_]*[A-Z0-9]\b/g)]
      .filter((m) => !known.has(m[0]))
      .map((m) => `${path.relative(ROOT, f)}: ${m[0]}`),
  );
  assert.deepEqual([...new Set(unknown)], [], 'add these to ENV_VARS in src/util/env.ts (or rename them)');
});

test("the README's environment table is the table of src/util/env.ts", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  assert.ok(
    readme.includes(envTableMarkdown()),
    `README.md should hold, verbatim, the table envTableMarkdown() prints:\n${envTableMarkdown()}`,
  );
});

test('the accessors parse, default and reject as their table rows say', () => {
  assert.equal(envBackend({}), undefined);
  assert.equal(envBackend({ BNN_BACKEND: ' WASM ' }), 'WASM');
  assert.equal(envThreads({ BNN_THREADS: '' }), undefined);
  assert.equal(envThreads({ BNN_THREADS: '2' }), 2);
  assert.throws(() => envThreads({ BNN_THREADS: '0' }), /BNN_THREADS='0' must be a positive integer/);
  assert.throws(() => envThreads({ BNN_THREADS: '1.5' }), /positive integer/);
  assert.equal(envNativeOff({ BNN_NATIVE: 'Off' }), 'Off');
  assert.equal(envNativeOff({ BNN_NATIVE: '1' }), null);
  assert.equal(envNativeOff({}), null);
  assert.equal(envDataDir({ BNN_DATA_DIR: 'rel/data' }), path.resolve('rel/data'));
  assert.equal(envSbatch({}), 'sbatch');
  assert.equal(envSbatch({ BNN_SBATCH: '/opt/slurm/bin/sbatch' }), '/opt/slurm/bin/sbatch');
  assert.equal(envProfile({ BNN_PROFILE: '' }) ?? DEFAULT_PROFILE, 'quick');
  assert.match(envTableMarkdown(), /^\| variable \| values \| default \| what it does \|\n\|---\|/);
  assert.equal(envTableMarkdown().split('\n').length, ENV_VARS.length + 2);
});
