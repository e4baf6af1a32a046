// The size limits of src/ (scripts/code-limits.ts): files ≤ 450 lines except the catalog's data table, functions
// ≤ 80 lines except marked kernel loops; and the checker itself on written sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { longFunctions, overLimits } from '../scripts/code-limits';

test('the checker finds a long function and passes a marked kernel loop', () => {
  const body = Array.from({ length: 85 }, (_, i) => `  x += ${i};`).join('\n');
  const src = `function big() {\n  let x = 0;\n${body}\n  return x;\n}\n// kernel loop\nfunction k() {\n  let x = 0;\n${body}\n  return x;\n}\nconst arrow = () => {\n${body}\n};\n`;
  const over = longFunctions('a.ts', src);
  assert.deepEqual(
    over.map((o) => o.name),
    ['big', 'arrow'],
  );
  assert.equal(over[0].line, 1);
});

test('src/ is within the limits: files ≤ 450 lines, functions ≤ 80', () => {
  const { files, functions } = overLimits(path.resolve(__dirname, '..'));
  assert.deepEqual(
    files.map((f) => `${f.file} (${f.lines} lines)`),
    [],
  );
  assert.deepEqual(
    functions.map((f) => `${f.name} ${f.file}:${f.line} (${f.lines} lines)`),
    [],
  );
});
