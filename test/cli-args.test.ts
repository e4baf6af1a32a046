// The one argument parser of the command-line tools (src/cli/args.ts) and the parsers built on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, parseEnumOption, parseIntegerOption, parseListOption, parseNumberOption } from '../src/cli/args';
import { parseSlurmTime } from '../src/sweep/sbatch';
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
  assert.throws(
    () => parseArgs(['--set', 'x=1', '--set', 'y=2'], spec),
    /--set is given twice \(x=1, y=2\); give it once/,
  );
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
  assert.throws(
    () => parseFiguresArgs(['--profile', 'quick', '--profile', 'paper']),
    (e: Error) => /--profile is given twice/.test(e.message) && /usage: npm run figures/.test(e.message),
  );
  assert.throws(() => parseFiguresArgs(['--out']), /--out needs a value\nusage: npm run figures/);
  assert.throws(() => parseFiguresArgs(['--help']), /^Error: usage: npm run figures/);
  assert.deepEqual(parseFiguresArgs(['--formats=svg', '--list'], '/p').formats, ['svg']);
  assert.throws(
    () => parseNotebookArgs(['--timeout', '5', '--timeout', '6']),
    /--timeout is given twice.*\nusage: npm run notebooks/,
  );
  assert.throws(
    () => parseNotebookArgs(['--timeout', 'soon']),
    /--timeout soon: must be an integer ≥ 1 written in decimal digits \(at most \d+\)\nusage: npm run notebooks/,
  );
  assert.equal(parseNotebookArgs(['-h']).help, true);
});

test('one rule per type: integers in decimal digits, numbers in decimal or scientific notation, enums, lists', () => {
  // integers: digits only, in range; the message names the option, the value and what is allowed
  assert.equal(parseIntegerOption('jobs', '007'), 7);
  for (const bad of ['0x2', '1e1', '4.0', '', ' 4', '+4', '-4', '4_000', 'Infinity']) {
    assert.throws(
      () => parseIntegerOption('jobs', bad),
      /^Error: --jobs .*: must be an integer ≥ 0 written in decimal digits$/,
      bad,
    );
  }
  assert.throws(() => parseIntegerOption('cpus', '0', Number.MAX_SAFE_INTEGER, 1), /--cpus 0: must be an integer ≥ 1$/);
  assert.throws(
    () => parseIntegerOption('seed', '4294967296', 0xffffffff),
    /--seed 4294967296: must be an integer from 0 to 4294967295/,
  );
  assert.throws(() => parseIntegerOption('jobs', '99999999999999999999'), /must be an integer ≥ 0/);
  // numbers: decimal or scientific; ranges with open or closed ends
  assert.equal(parseNumberOption('lr', '3e-4'), 3e-4);
  assert.equal(parseNumberOption('lr', '.5'), 0.5);
  assert.equal(parseNumberOption('lr', '-2', { min: -3 }), -2);
  for (const bad of ['0x1', '0b1', 'Infinity', 'NaN', '1e', '1_0', '', '1,5'])
    assert.throws(
      () => parseNumberOption('lr', bad),
      /--lr .*: must be a finite number in decimal or scientific notation/,
      bad,
    );
  assert.throws(() => parseNumberOption('lr', '1e999'), /--lr 1e999: must be a finite number$/);
  assert.throws(
    () => parseNumberOption('p', '0', { min: 0, minExclusive: true, max: 1 }),
    /--p 0: must be a number > 0 and ≤ 1/,
  );
  // enums and lists
  assert.equal(parseEnumOption('backend', 'wasm', ['tensorflow', 'wasm', 'cpu']), 'wasm');
  assert.throws(
    () => parseEnumOption('backend', 'gpu', ['tensorflow', 'wasm', 'cpu']),
    /--backend gpu: allowed: tensorflow, wasm, cpu/,
  );
  assert.deepEqual(
    parseListOption('seeds', '1, 2', (x) => parseIntegerOption('seeds', x)),
    [1, 2],
  );
  assert.throws(
    () => parseListOption('format', '', (x) => x, 'formats'),
    /--format "": expected a comma-separated list of formats, without empty entries/,
  );
  assert.throws(() => parseListOption('format', 'png,,svg', (x) => x), /without empty entries/);
});

test("durations are Slurm's time formats, with minutes and seconds below 60", () => {
  const ok: [string, number][] = [
    ['30', 1800],
    ['90:30', 5430],
    ['72:00:00', 259200],
    ['1-12', 129600],
    ['1-12:30', 131400],
    ['2-00:00:01', 172801],
    ['00:10:00', 600],
  ];
  for (const [t, s] of ok) assert.equal(parseSlurmTime(t), s, t);
  for (const bad of [
    '99:99',
    '1:60:00',
    '1:00:60',
    '1-24',
    '1-2:60',
    'tomorrow',
    '',
    '0',
    '00:00:00',
    '1:2:3:4',
    '-1',
    '1.5',
    '0x10',
    ' 10',
  ]) {
    assert.throws(
      () => parseSlurmTime(bad),
      /^Error: --time .*; allowed: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS/,
      bad,
    );
  }
  assert.throws(() => parseSlurmTime('99:99'), /--time 99:99: 99 seconds; allowed/);
});

test('figures: --profile is a profile or a --set folder, --format a non-empty list of known formats; notebooks: --timeout ≥ 1', () => {
  assert.throws(
    () => parseFiguresArgs(['--profile', 'tiny']),
    /--profile tiny: allowed: paper, quick, smoke, or the folder of --set runs such as quick-1a2b3c4d\nusage/,
  );
  assert.throws(() => parseFiguresArgs(['--profile', 'quick-xyz']), /--profile quick-xyz: allowed/);
  assert.equal(parseFiguresArgs(['--profile', 'smoke-0a1b2c3d'], '/p').profile, 'smoke-0a1b2c3d');
  assert.throws(
    () => parseFiguresArgs(['--format=']),
    /--format "": expected a comma-separated list of formats \(png, svg, pdf, html\)/,
  );
  assert.throws(
    () => parseFiguresArgs(['--format=png,jpg']),
    /unknown format "jpg" \(--format; allowed: png, svg, pdf, html\)/,
  );
  assert.throws(() => parseFiguresArgs(['--format=png', '--formats=svg']), /same option; give it once/);
  assert.deepEqual(parseFiguresArgs(['--format=PNG,svg,png'], '/p').formats, ['png', 'svg']);
  assert.throws(() => parseFiguresArgs(['--out=']), /--out "": needs a folder/);
  const env = process.env.BNN_PROFILE;
  process.env.BNN_PROFILE = 'tiny';
  try {
    assert.throws(() => parseFiguresArgs([]), /BNN_PROFILE=tiny: allowed/);
    assert.throws(() => parseNotebookArgs([]), /unknown profile "tiny" \(BNN_PROFILE; allowed: smoke, quick, paper\)/);
  } finally {
    if (env === undefined) delete process.env.BNN_PROFILE;
    else process.env.BNN_PROFILE = env;
  }
  for (const bad of ['-5', '1.5', '1e3', '0x10'])
    assert.throws(
      () => parseNotebookArgs(['--timeout', bad]),
      /--timeout .*: must be an integer ≥ 1 written in decimal digits \(at most 604800\)/,
      bad,
    );
  assert.throws(() => parseNotebookArgs(['--timeout', '0']), /--timeout 0: must be an integer from 1 to 604800/);
  assert.equal(parseNotebookArgs(['--timeout', '300']).timeout, 300);
  assert.equal(parseNotebookArgs([]).timeout, -1);
});
