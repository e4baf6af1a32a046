// The shape of src/: no import cycle, no import up the layers, and README's "What is where" lists exactly the
// folders that exist. Imports are read from the source text (static, re-exports, dynamic import(), require()),
// type-only imports included: a type import up the layers is still a dependency up the layers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'src');

/**
 * The layers of src/, top (0) to bottom. A module may import modules of its own folder and of folders with a
 * higher number only. Folders on one line share a layer but may not import each other.
 */
export const LAYERS: string[][] = [
  ['cli'],
  ['sweep'],
  ['lab'],
  ['experiments'],
  ['figures'],
  ['results'],
  ['train', 'inference'],
  ['models', 'optimizers', 'data'],
  ['layers'],
  ['quantizers'],
  ['backend'],
  ['xnor'],
  ['wasm'],
  ['util', 'random'],
];

function rankOf(unit: string): number {
  const i = LAYERS.findIndex((l) => l.includes(unit));
  if (i < 0)
    throw new Error(`src/${unit} is not in the LAYERS table of test/architecture.test.ts: add it at its layer`);
  return i;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|cts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative import specifiers of a source file. */
export function importsOf(text: string): string[] {
  const noComments = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const specs: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of noComments.matchAll(re)) if (m[1].startsWith('.')) specs.push(m[1]);
  return specs;
}

/** Resolves a relative specifier to a file under src/ (tsx resolution: .ts, /index.ts). */
function resolve(from: string, spec: string): string | null {
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [base, `${base}.ts`, `${base}.js`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  }
  return null;
}

/** The unit of a file: its first folder under src/ ('random' for src/random.ts). */
function unitOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? rel[0].replace(/\.[^.]+$/, '') : rel[0];
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of sourceFiles(SRC)) {
    const deps: string[] = [];
    for (const spec of importsOf(fs.readFileSync(f, 'utf8'))) {
      const r = resolve(f, spec);
      if (r && r.startsWith(SRC + path.sep)) deps.push(r);
    }
    g.set(f, deps);
  }
  return g;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) out.push(comp);
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const rel = (f: string) => path.relative(ROOT, f);

test('the import reader sees static, re-exported, type-only, dynamic and required imports, not comments', () => {
  const text = [
    "import * as fs from 'fs';",
    "import { a,\n  b } from './x';",
    "import type { T } from '../y';",
    "export { c } from './z';",
    "export * from './w';",
    "import './side';",
    "const m = await import('./dyn');",
    "const r = require('./req');",
    "// import { no } from './comment';",
    "/* import { no } from './block'; */",
  ].join('\n');
  assert.deepEqual(importsOf(text).sort(), ['../y', './dyn', './req', './side', './w', './x', './z'].sort());
});

test('the cycle finder finds a three-file cycle and a self-import, and passes a DAG', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['d']],
    ['e', ['a']],
  ]);
  assert.deepEqual(
    cycles(g).map((c) => c.sort()),
    [['a', 'b', 'c'], ['d']],
  );
  assert.deepEqual(
    cycles(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
    [],
  );
});

test('src/ has no import cycle', () => {
  const found = cycles(graph()).map((c) => c.map(rel).sort().join(' → '));
  assert.deepEqual(found, [], `import cycles:\n${found.join('\n')}`);
});

test('no module imports up the layers (cli → sweep → lab → experiments → figures → results → train/inference → …)', () => {
  const bad = new Set<string>();
  for (const [file, deps] of graph()) {
    const u = unitOf(file);
    for (const d of deps) {
      const v = unitOf(d);
      if (u === v) continue;
      const [ru, rv] = [rankOf(u), rankOf(v)];
      if (rv < ru) bad.add(`${rel(file)} imports ${rel(d)} (src/${v} sits above src/${u})`);
      else if (rv === ru) bad.add(`${rel(file)} imports ${rel(d)} (src/${u} and src/${v} share a layer)`);
    }
  }
  assert.deepEqual([...bad], [], `imports up the layers:\n${[...bad].join('\n')}`);
});

test('README\'s "What is where" lists exactly the folders of src/ and the top-level folders it names exist', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = readme.split('## What is where')[1]?.split('```')[1];
  assert.ok(block, 'README.md has a "## What is where" section with a code block');
  const listed = [...block.matchAll(/^src\/(\w+)\s/gm)].map((m) => m[1]).sort();
  const actual = fs
    .readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  assert.deepEqual(listed, actual, 'README "What is where" must list every src/ folder, and only those');
  for (const m of block.matchAll(/^(\w[\w-]*)\/\s/gm)) {
    if (m[1] === 'src') continue;
    assert.ok(fs.existsSync(path.join(ROOT, m[1])), `README names ${m[1]}/ but it does not exist`);
  }
  for (const u of actual) rankOf(u);
});
