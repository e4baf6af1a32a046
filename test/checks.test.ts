// The static checks of `npm test`: the strict compiler (`npm run typecheck`), the linter (`npm run lint`) and the
// formatter's check (`npm run format:check`) run before the suites and stop it on a finding. Proven on the fixtures of test/fixtures/checks/: each check is run as
// package.json states it, on a clean fixture (passes), on one with type errors only and on one with lint findings only
// (each fails exactly the check it should, with the expected messages).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { execFile } from 'child_process';

const ROOT = path.resolve(__dirname, '..');
const FIXTURES = path.join('test', 'fixtures', 'checks');
const scripts = (
  JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;

interface Run {
  code: number;
  out: string;
}

/** Runs a tool of node_modules/.bin from the project root; resolves with its exit code and its stdout + stderr. */
function runTool(tool: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      path.join(ROOT, 'node_modules', '.bin', tool),
      args,
      { cwd: ROOT, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

/** The words of an npm script, which must start with `tool` and contain `target` once (replaced by the caller). */
function scriptWords(name: string, tool: string, target: string): string[] {
  const words = (scripts[name] ?? '').trim().split(/\s+/);
  assert.equal(words[0], tool, `package.json: the "${name}" script should run ${tool} (it is "${scripts[name]}")`);
  assert.equal(
    words.filter((w) => w === target).length,
    1,
    `package.json: the "${name}" script should name ${target} once (it is "${scripts[name]}")`,
  );
  return words.slice(1);
}

/** `npm run typecheck`, with the project's tsconfig.json replaced by a fixture's (which extends it). */
function typecheck(fixture: string): Promise<Run> {
  const args = scriptWords('typecheck', 'tsc', 'tsconfig.json').map((w) =>
    w === 'tsconfig.json' ? path.join(FIXTURES, fixture, 'tsconfig.json') : w,
  );
  return runTool('tsc', args);
}

interface LintFile {
  filePath: string;
  messages: { ruleId: string | null; message: string; line: number }[];
}

/** `npm run lint` (the project's eslint.config.mjs) on fixture folders instead of the tree; JSON output. */
async function lint(...fixtures: string[]): Promise<Run & { files: LintFile[] }> {
  const args = scriptWords('lint', 'eslint', '.').flatMap((w) =>
    w === '.' ? fixtures.map((f) => path.join(FIXTURES, f)) : [w],
  );
  // --no-ignore: the project's config leaves the fixtures out of the tree's lint
  const r = await runTool('eslint', [...args, '--no-ignore', '--format', 'json']);
  let files: LintFile[];
  try {
    files = JSON.parse(r.out) as LintFile[];
  } catch {
    throw new Error(`eslint printed no JSON report (exit ${r.code}):\n${r.out}`);
  }
  return { ...r, files };
}

/** The rule ids (null: a problem with a disable comment itself) reported in a fixture file, by line. */
function findings(files: LintFile[], file: string): string[] {
  const f = files.find((x) => x.filePath === path.join(ROOT, FIXTURES, file));
  assert.ok(f, `eslint reported nothing on ${file}: ${files.map((x) => x.filePath).join(', ')}`);
  return f.messages.map((m) => `${m.line} ${m.ruleId ?? m.message}`);
}

/** `npm run format:check` (Prettier, the project's .prettierrc.json) on fixture files instead of the tree. */
function formatCheck(...files: string[]): Promise<Run> {
  const args = scriptWords('format:check', 'prettier', '.').flatMap((w) =>
    w === '.' ? files.map((f) => path.join(FIXTURES, f)) : [w],
  );
  // the project's .prettierignore leaves the fixtures out of the tree's check; 'none' is no file: nothing ignored
  return runTool('prettier', [...args, '--ignore-path', path.join(FIXTURES, 'none')]);
}

test('the format check passes on formatted code and fails on unformatted code, naming the file', async () => {
  const [clean, bad] = await Promise.all([formatCheck('clean/clean.ts'), formatCheck('format-error/format-error.ts')]);
  assert.equal(clean.code, 0, `format check of the clean fixture:\n${clean.out}`);
  assert.notEqual(bad.code, 0, `format check of the unformatted fixture should fail:\n${bad.out}`);
  assert.match(bad.out, /format-error\.ts/);
  assert.ok(
    scripts.test
      .split('&&')
      .map((x) => x.trim())
      .includes('npm run format:check'),
    `"test" runs npm run format:check: ${scripts.test}`,
  );
});

test('npm test runs the typecheck and the lint before the suites, each failing the command on a finding', () => {
  const steps = scripts.test.split('&&').map((s) => s.trim());
  const suites = steps.findIndex((s) => /^node\b.*--test\b/.test(s));
  assert.ok(suites > 0, `package.json "test" runs node --test after other steps: ${scripts.test}`);
  assert.ok(
    steps.slice(0, suites).includes('npm run typecheck'),
    `"test" runs npm run typecheck first: ${scripts.test}`,
  );
  assert.ok(steps.slice(0, suites).includes('npm run lint'), `"test" runs npm run lint first: ${scripts.test}`);
  assert.match(scripts.typecheck, /--noEmit\b/);
  // warnings count as findings too, so that a clean tree means no message at all
  assert.match(scripts.lint, /--max-warnings[= ]0\b/);
});

test(
  'each check passes on the clean fixture and fails exactly on its own kind of error',
  { timeout: 180_000 },
  async () => {
    const [tcClean, tcType, tcLint, lintPass, lintFail] = await Promise.all([
      typecheck('clean'),
      typecheck('type-error'),
      typecheck('lint-error'),
      lint('clean', 'type-error'),
      lint('lint-error'),
    ]);

    assert.equal(tcClean.code, 0, `typecheck of the clean fixture:\n${tcClean.out}`);
    assert.equal(tcLint.code, 0, `typecheck of the lint-error fixture (it compiles):\n${tcLint.out}`);
    assert.notEqual(tcType.code, 0, `typecheck of the type-error fixture should fail:\n${tcType.out}`);
    const file = path.join(FIXTURES, 'type-error', 'type-error.ts');
    const errors = tcType.out
      .split('\n')
      .filter((l) => l.startsWith(file))
      .map((l) => /\((\d+),\d+\): error (TS\d+)/.exec(l)?.slice(1).join(' '));
    // a plain type error, and two that only the strict options report (strictNullChecks, noImplicitAny)
    assert.deepEqual(errors, ['8 TS2322', '12 TS18048', '16 TS7006'], tcType.out);
    assert.match(tcType.out, /Type 'number' is not assignable to type 'string'/);

    assert.equal(
      lintPass.code,
      0,
      `lint of the clean and type-error fixtures:\n${JSON.stringify(lintPass.files, null, 1)}`,
    );
    assert.deepEqual(findings(lintPass.files, 'clean/clean.ts'), []);
    assert.deepEqual(findings(lintPass.files, 'type-error/type-error.ts'), []);
    assert.equal(
      lintFail.code,
      1,
      `lint of the lint-error fixture should fail with findings (exit 1):\n${lintFail.out}`,
    );
    assert.deepEqual(
      findings(lintFail.files, 'lint-error/lint-error.ts').sort(),
      [
        '11 @typescript-eslint/no-unused-vars',
        // type-aware: the linter reads the types, the compiler does not report this
        '12 @typescript-eslint/no-floating-promises',
        // a blanket disable comment is itself a finding, and so is one that suppresses nothing
        '16 @eslint-community/eslint-comments/no-unlimited-disable',
        '16 @eslint-community/eslint-comments/require-description',
        '16 Unused eslint-disable directive (no problems were reported).',
      ].sort(),
    );
  },
);
