/**
 * Notebooks import src/ through tslab, which compiles with its own fixed options (TypeScript 5.0 from
 * @tslab/typescript-for-tslab, not strict, moduleResolution node10 ignoring `exports` maps, rootDir = the
 * kernel's working directory, declaration emit, lib es2022 without DOM). Every file in src/ must compile
 * cleanly under exactly those options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return tsFiles(p);
    return d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [p] : [];
  });
}

test("src/ compiles under tslab's compiler options (TypeScript 5.0, not strict, node10, declarations)", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- tslab's own TypeScript, not the project's
  const ts = require('@tslab/typescript-for-tslab') as typeof import('typescript');
  assert.match(ts.version, /^5\.0\./);
  const options: import('typescript').CompilerOptions = {
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    esModuleInterop: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    declaration: true,
    emitDeclarationOnly: true,
    experimentalDecorators: true,
    resolveJsonModule: true,
    allowJs: true,
    skipLibCheck: true,
    typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    rootDir: ROOT,
    outDir: path.join(ROOT, 'node_modules', '.cache', 'tslab-compile-check'),
    strict: false,
  };
  const files = tsFiles(path.join(ROOT, 'src'));
  assert.ok(files.length > 20);
  const program = ts.createProgram(files, options);
  const diags = [
    ...ts.getPreEmitDiagnostics(program),
    ...program.emit(undefined, () => undefined, undefined, true).diagnostics,
  ];
  const msgs = diags.map((d) => {
    const where = d.file
      ? `${path.relative(ROOT, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : '';
    return `${where} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  assert.deepEqual(msgs, []);
});
