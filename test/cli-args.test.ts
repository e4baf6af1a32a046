// The one argument parser of the command-line tools (src/cli/args.ts) and the parsers built on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, parseIntegerOption } from '../src/cli/args';
import { parseFiguresArgs } from '../src/cli/figures';
import { parseNotebookArgs } from '../src/cli/notebooks';

test('parseArgs: positionals, flags, --k v and --k=v, -- passthrough; only declared options repeat', () => {
  const p = parseArgs(['a', '--list', '--profile=quick', '--set', 'x=1', '--set=y=2', 'b', '--', '--raw'], {
    flags: ['list'],
    values: ['profile', 'set'],
    repeatable: ['set'],
  });
  assert.deepEqual(p.positional, ['a', 'b', '--raw']);
  assert.deepEqual([...p.flags], ['list']);
  assert.deepEqual(p.values.get('profile'), ['quick']);
  assert.deepEqual(p.values.get('set'), ['x=1', 'y=2']);
  const spec = { flags: ['list'], values: ['profile', 'set'] };
  assert.throws(() => parseArgs(['--set', 'x=1', '--set', 'y=2'], spec), /--set is given twice \(x=1, y=2\); give it once/);
  assert.throws(() => parseArgs(['--list', '--list'], spec), /--list is given twice/);
  assert.throws(() => parseArgs(['--list=1'], spec), /--list takes no value/);
  assert.throws(() => parseArgs(['--profile'], spec), /--profile needs a value/);
  assert.throws(() => parseArgs(['--profile', '--list'], spec), /--profile needs a value/);
  assert.throws(() => parseArgs(['--bogus'], spec), /unknown option --bogus\. Allowed: --list --profile --set/);
  assert.throws(() => parseArgs(['-x'], spec), /unknown option -x/);
  assert.equal(parseIntegerOption('jobs', '12'), 12);
  assert.throws(() => parseIntegerOption('jobs', '1e3'), /--jobs 1e3: must be an integer/);
});

test('the figures and notebooks CLIs parse through it: the same errors, with their usage', () => {
  assert.throws(() => parseFiguresArgs(['--profile', 'quick', '--profile', 'paper']), (e: Error) => /--profile is given twice/.test(e.message) && /usage: npm run figures/.test(e.message));
  assert.throws(() => parseFiguresArgs(['--out']), /--out needs a value\nusage: npm run figures/);
  assert.throws(() => parseFiguresArgs(['--help']), /^Error: usage: npm run figures/);
  assert.deepEqual(parseFiguresArgs(['--formats=svg', '--list'], '/p').formats, ['svg']);
  assert.throws(() => parseNotebookArgs(['--timeout', '5', '--timeout', '6']), /--timeout is given twice.*\nusage: npm run notebooks/);
  assert.throws(() => parseNotebookArgs(['--timeout', 'soon']), /--timeout must be a number of seconds/);
  assert.equal(parseNotebookArgs(['-h']).help, true);
});
