/**
 * The size limits of the code in src/: no file over 450 lines except pure data tables, no function over 80 lines
 * except kernels (a `// kernel loop` comment on the function's first line or the line above it) and data literals.
 * `npx tsx scripts/code-limits.ts` lists what is over; test/code-limits.test.ts fails on it.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

export const MAX_FILE_LINES = 450;
export const MAX_FUNCTION_LINES = 80;
/** Files that are pure data tables (the experiment catalog: entries, sections, claims), exempt from the file limit. */
export const DATA_TABLES = ['src/experiments/catalog.ts'];

export interface Over {
  file: string;
  line: number;
  name: string;
  lines: number;
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? tsFiles(p) : d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [p] : [];
  });
}

function nameOf(n: ts.Node): string {
  const named = (n as ts.FunctionDeclaration).name;
  if (named) return named.getText();
  const p = n.parent;
  if (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)))
    return p.name.getText();
  return '<anonymous>';
}

/** Functions of one source text longer than the limit, kernels excepted. */
export function longFunctions(file: string, text: string, limit = MAX_FUNCTION_LINES): Over[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lines = text.split('\n');
  const out: Over[] = [];
  const visit = (n: ts.Node) => {
    if (
      ts.isFunctionDeclaration(n) ||
      ts.isMethodDeclaration(n) ||
      ts.isArrowFunction(n) ||
      ts.isFunctionExpression(n) ||
      ts.isConstructorDeclaration(n)
    ) {
      const a = sf.getLineAndCharacterOfPosition(n.getStart()).line;
      const b = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
      const kernel = /\/\/ kernel loop/.test(lines[a] ?? '') || /\/\/ kernel loop/.test(lines[a - 1] ?? '');
      if (b - a + 1 > limit && !kernel) out.push({ file, line: a + 1, name: nameOf(n), lines: b - a + 1 });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Every file and function of `root`/src over its limit. */
export function overLimits(root: string): { files: Over[]; functions: Over[] } {
  const files: Over[] = [];
  const functions: Over[] = [];
  for (const p of tsFiles(path.join(root, 'src'))) {
    const rel = path.relative(root, p).split(path.sep).join('/');
    const text = fs.readFileSync(p, 'utf8');
    const n = text.split('\n').length;
    if (n > MAX_FILE_LINES && !DATA_TABLES.includes(rel)) files.push({ file: rel, line: 1, name: rel, lines: n });
    functions.push(...longFunctions(rel, text));
  }
  return { files, functions };
}

if (require.main === module) {
  const { files, functions } = overLimits(path.resolve(__dirname, '..'));
  for (const f of files) console.log(`file ${f.file}: ${f.lines} lines (limit ${MAX_FILE_LINES})`);
  for (const f of functions.sort((x, y) => y.lines - x.lines))
    console.log(`function ${f.name} ${f.file}:${f.line}: ${f.lines} lines (limit ${MAX_FUNCTION_LINES})`);
  if (!files.length && !functions.length) console.log('within the limits');
}
