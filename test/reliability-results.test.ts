/**
 * Numbers you can cite: the reading side of run folders under real faults, on `smoke` runs of a few seconds on a
 * small CIFAR-10 fixture. A damaged or unfinished run (a changed value in history.json, a 1e999, a changed row
 * of history.csv, a truncated config.json, a flipped byte in final/, a run SIGKILLed between epochs) never gives a
 * final number to the figures, the summary or the verdicts, and the summary says which runs it left out and why;
 * every derived file is rewritten from the checkpoint by --repair; a --force SIGKILLed at its commit rename is
 * rolled back by the next command, one killed just after it leaves the new run, interrupted; the lock is whole or
 * absent, and an empty one is waited out; write errors name the file.
 *
 * SIGKILLs at exact write points and the EIO come from strace's fault injection (`inject=rename:signal=KILL:when=n`
 * counts the process's renames: a run's first epoch renames config.json, checkpoint.bin, history.json and
 * history.csv into place, so rename 5 is the next one); the full disk is a 64 kB tmpfs (root). Tests that need
 * them are skipped, saying so, where they are missing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { writeCifarFixture } from './helpers/cifarFixture';
import { runExperiment } from '../src/experiments/run';
import { collectFinals, finishedRuns } from '../src/experiments/report';
import { exportFigures } from '../src/cli/figures';
import { loadRun } from '../src/figures/load';
import * as results from '../src/results';
import { acquireRunLock, loadRuns } from '../src/results';
import { DiskFullError } from '../src/util/fs';

const ROOT = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-relres-'));
const data = path.join(tmp, 'data');
writeCifarFixture(path.join(data, 'cifar10', 'cifar-10-batches-bin'), 20, 10);
process.env.BNN_DATA_DIR = data;
process.env.BNN_THREADS = '1';
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const EXP = 'cifar10-bop';
// The smoke profile as it is (2 epochs): its run folder is <root>/cifar10-bop/smoke/seed-<n>.
const ARGS = [EXP, '--profile', 'smoke'];
const hasStrace = spawnSync('strace', ['-V']).status === 0;
const isRoot = process.getuid?.() === 0;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const strip = (h: { seconds: number }[]) => h.map(({ seconds, ...r }) => r);
const env = (root: string) => ({ ...process.env, BNN_RESULTS_DIR: root, BNN_DATA_DIR: data, BNN_THREADS: '1' });
const cliArgs = (args: string[]) => ['--import', 'tsx', path.join(ROOT, 'src/cli/experiment.ts'), ...args];
const cli = (args: string[], root: string) =>
  spawnSync(process.execPath, cliArgs(args), { cwd: ROOT, env: env(root), encoding: 'utf8', timeout: 120_000 });

/**
 * The CLI under strace, SIGKILLed on entry to its `when`-th rename (the rename is not done). Returns the result and
 * the renames strace saw (the last one, `= ?`, is where it died).
 */
function cliKilledAtRename(args: string[], root: string, when: number) {
  const log = path.join(tmp, `strace-${process.hrtime.bigint()}.log`);
  const r = spawnSync(
    'strace',
    [
      '-f',
      '-qq',
      '-o',
      log,
      '-e',
      'trace=rename,renameat,renameat2',
      '-e',
      `inject=rename,renameat,renameat2:signal=KILL:when=${when}`,
      process.execPath,
      ...cliArgs(args),
    ],
    { cwd: ROOT, env: env(root), encoding: 'utf8', timeout: 120_000 },
  );
  // One line per rename call (a call interrupted by another thread's output ends in "<unfinished ...>").
  const renames = fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => /rename(at2?)?\(/.test(l));
  return { ...r, renames };
}

/** Two finished smoke runs (seeds 0 and 1) trained once, shared by the tests. */
let reference: { root: string; dirs: string[]; history: { seconds: number; valAccuracy: number }[][] } | null = null;
async function referenceRuns() {
  if (!reference) {
    const root = path.join(tmp, 'reference');
    const dirs: string[] = [];
    const history = [];
    for (const seed of [0, 1]) {
      const r = await runExperiment({ experiment: EXP, profile: 'smoke', seed, resultsRoot: root, log: null });
      dirs.push(r.dir);
      history.push(JSON.parse(fs.readFileSync(path.join(r.dir, 'history.json'), 'utf8')));
    }
    reference = { root, dirs, history };
  }
  return reference;
}
/** A copy of the reference runs (`seeds`) under a fresh results root; returns [root, folder of each seed]. */
async function copyOf(name: string, seeds = [0, 1]): Promise<[string, string[]]> {
  const ref = await referenceRuns();
  const root = path.join(tmp, name);
  const dirs = seeds.map((s) => {
    const to = path.join(root, path.relative(ref.root, ref.dirs[s]));
    fs.cpSync(ref.dirs[s], to, { recursive: true });
    return to;
  });
  return [root, dirs];
}
const read = (f: string) => fs.readFileSync(f);
const finalScore = (dir: string) =>
  JSON.parse(fs.readFileSync(path.join(dir, 'history.json'), 'utf8')).at(-1).extra.testAccuracy as number;

/** What every reader says of `root`, where seed 0 is the damaged or unfinished run and seed 1 a finished one. */
async function readers(root: string, label: string) {
  const out = path.join(tmp, `figures-${label}`);
  const logs: string[] = [];
  await exportFigures(
    { names: ['summary'], formats: ['html'], profile: 'smoke', outDir: out, results: root, list: false },
    (l) => logs.push(l),
  );
  const csv = (f: string) => (fs.existsSync(path.join(out, f)) ? fs.readFileSync(path.join(out, f), 'utf8') : '');
  return {
    runs: loadRuns(EXP, 'smoke', root),
    figures: loadRun(EXP, 'smoke', root),
    verdictRuns: finishedRuns(EXP, 'smoke', root),
    finals: collectFinals('smoke', root),
    summaryCsv: csv('summary.csv'),
    summaryMd: csv('summary.md'),
    leftOutCsv: csv('summary-left-out.csv'),
    logs: logs.join('\n'),
  };
}

/** Asserts that seed 0 of `root` gives no number anywhere and is listed as `kind` with why and the fix command. */
async function assertLeftOut(root: string, label: string, kind: string, why: RegExp, fix: RegExp) {
  const ref = await referenceRuns();
  const r = await readers(root, label);
  const seed0 = r.runs.find((x) => x.seed === 0);
  assert.equal(seed0?.complete ?? false, false, `${label}: the run reader does not call seed 0 complete`);
  assert.deepEqual(
    r.verdictRuns.map((x) => x.seed),
    [1],
    `${label}: the verdicts read the finished seed only`,
  );
  assert.deepEqual(
    Object.keys(r.finals[EXP]?.valAccuracy ?? {}),
    ['1'],
    `${label}: final values of the finished seed only`,
  );
  assert.deepEqual(
    r.figures?.seeds.map((s) => s.seed),
    [1],
    `${label}: the figures draw the finished seed only`,
  );
  // the summary row is seed 1's alone
  const row = r.summaryCsv.split('\n').find((l) => l.startsWith(`§3.1 ${EXP},`));
  assert.ok(row, `${label}: summary row`);
  const [, , seeds, mean] = row!.split(',');
  assert.equal(seeds, '1');
  assert.equal(Number(mean), Math.round(finalScore(ref.dirs[1]) * 10000) / 100);
  // … and the summary says what it left out, why, and how to fix it
  const left = r.leftOutCsv.split('\n').find((l) => l.startsWith(`${EXP},smoke,0,`));
  assert.ok(left, `${label}: listed in summary-left-out.csv: ${r.leftOutCsv}`);
  assert.match(left!, new RegExp(`^${EXP},smoke,0,${kind},`));
  assert.match(left!, why);
  assert.match(left!, fix);
  assert.match(r.summaryMd, /## Runs left out \(smoke profile\)/);
  assert.match(r.logs, new RegExp(`summary leaves out ${EXP}/smoke/seed-0: ${kind}`));
  const s = results.inspectRun(seed0?.dir ?? path.join(root, EXP, 'smoke', 'seed-0'));
  assert.equal(s.kind, kind);
}

test('figures, the summary and the verdicts take a number only from a finished run that agrees with its checkpoint; the summary lists what it left out, why, and the fix', async () => {
  const ref = await referenceRuns();
  assert.ok(ref.history[0].length === 2 && ref.history[1].length === 2);
  const cases: [string, (dir: string) => void, string, RegExp, RegExp][] = [
    [
      'history.json: the last validation accuracy set to 0.99',
      (d) => {
        const h = JSON.parse(fs.readFileSync(path.join(d, 'history.json'), 'utf8'));
        h[1].valAccuracy = 0.99;
        fs.writeFileSync(path.join(d, 'history.json'), JSON.stringify(h, null, 2));
      },
      'damaged',
      /history\.json differs from the history in the checkpoint at epoch 2 \(""valAccuracy""\)/,
      /npm run experiment -- cifar10-bop --profile smoke --seed 0 --repair/,
    ],
    [
      'history.json: 1e999',
      (d) => {
        const f = path.join(d, 'history.json');
        const h = JSON.parse(fs.readFileSync(f, 'utf8'));
        const text = fs.readFileSync(f, 'utf8');
        const at = text.lastIndexOf(`"valAccuracy": ${h[1].valAccuracy}`);
        fs.writeFileSync(
          f,
          `${text.slice(0, at)}"valAccuracy": 1e999${text.slice(at + `"valAccuracy": ${h[1].valAccuracy}`.length)}`,
        );
        assert.equal(JSON.parse(fs.readFileSync(f, 'utf8'))[1].valAccuracy, Infinity);
      },
      'damaged',
      /history\.json holds Infinity at \[1\]\.valAccuracy/,
      /--repair/,
    ],
    [
      'history.csv: one digit of row 2 changed',
      (d) => {
        const f = path.join(d, 'history.csv');
        const lines = fs.readFileSync(f, 'utf8').split('\n');
        const cells = lines[2].split(',');
        cells[5] = String(Number(cells[5]) + 0.8); // valAccuracy
        lines[2] = cells.join(',');
        fs.writeFileSync(f, lines.join('\n'));
      },
      'damaged',
      /history\.csv row 2 \(epoch 2\) differs from the checkpoint's history/,
      /--repair/,
    ],
    [
      'config.json: truncated to 500 bytes',
      (d) => fs.truncateSync(path.join(d, 'config.json'), 500),
      'damaged',
      /config\.json is not valid JSON/,
      /--repair/,
    ],
    [
      'final/weights.bin: one flipped bit',
      (d) => {
        const f = path.join(d, 'final', 'weights.bin');
        const b = read(f);
        b[b.length >> 1] ^= 0x04;
        fs.writeFileSync(f, b);
      },
      'unfinalized',
      /weights\.bin does not match the SHA-256/,
      /--repair/,
    ],
  ];
  for (const [i, [label, damage, kind, why, fix]] of cases.entries()) {
    const [root, [dir0]] = await copyOf(`reader-${i}`);
    damage(dir0);
    await assertLeftOut(root, label, kind, why, fix);
  }
});

test(
  'a run SIGKILLed after epoch 1 of 2 (at its epoch-2 checkpoint rename) is interrupted, never a final number',
  { skip: !hasStrace && 'needs strace for the kill at a write point' },
  async () => {
    const [root] = await copyOf('killed', [1]);
    const k = cliKilledAtRename([...ARGS, '--seed', '0'], root, 5);
    assert.equal(k.signal, 'SIGKILL', k.stderr);
    assert.equal(k.renames.length, 5, k.renames.join('\n'));
    assert.match(
      k.renames[4],
      /seed-0\/\.checkpoint\.bin\.\d+\.\d+\.tmp", "[^"]*seed-0\/checkpoint\.bin"/,
      'killed at the epoch-2 checkpoint',
    );
    const dir = path.join(root, EXP, 'smoke', 'seed-0');
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'history.json'), 'utf8')).length, 1);
    await assertLeftOut(
      root,
      'killed after epoch 1',
      'interrupted',
      /interrupted after epoch 1 of 2/,
      /npm run experiment -- cifar10-bop --profile smoke --seed 0 --resume/,
    );
  },
);

test('--repair rewrites config.json, history.json, history.csv and final/ from the checkpoint, byte for byte, saying what it rewrote; a plain run names the command', async () => {
  const [root, [dir]] = await copyOf('repair', [0]);
  const files = ['config.json', 'history.json', 'history.csv', 'final/model.json', 'final/weights.bin'];
  const orig = Object.fromEntries(files.map((f) => [f, read(path.join(dir, f))]));
  fs.truncateSync(path.join(dir, 'config.json'), 500);
  const csv = path.join(dir, 'history.csv');
  fs.writeFileSync(csv, fs.readFileSync(csv, 'utf8').replace(/\n2,/, '\n2,9'));
  const plain = cli([...ARGS, '--seed', '0'], root);
  assert.equal(plain.status, 0, plain.stderr);
  // (the command runs with BNN_RESULTS_DIR set to this root, so the fix needs no prefix)
  const fixCmd = 'npm run experiment -- cifar10-bop --profile smoke --seed 0 --repair';
  assert.match(
    plain.stdout,
    new RegExp(`config\\.json is not valid JSON.*\`${esc(fixCmd)}\` rewrites the file from it`),
  );
  assert.match(plain.stdout, new RegExp(`history\\.csv row 2 \\(epoch 2\\) differs.*\`${esc(fixCmd)}\``));
  const h = JSON.parse(orig['history.json'].toString());
  h[1].valAccuracy = 0.99;
  fs.writeFileSync(path.join(dir, 'history.json'), JSON.stringify(h));
  const w = read(path.join(dir, 'final/weights.bin'));
  w[7] ^= 0x80;
  fs.writeFileSync(path.join(dir, 'final/weights.bin'), w);
  const rep = cli([...ARGS, '--seed', '0', '--repair'], root);
  assert.equal(rep.status, 0, rep.stderr);
  assert.match(rep.stdout, /rewrote config\.json from the checkpoint's copy \([^)]*config\.json is not valid JSON/);
  assert.match(
    rep.stdout,
    /rewrote history\.json from the checkpoint \([^)]*differs from the history in the checkpoint at epoch 2 \("valAccuracy"\)/,
  );
  assert.match(rep.stdout, /rewrote history\.csv from the checkpoint \([^)]*row 2 \(epoch 2\) differs/);
  assert.match(rep.stdout, /rewrote final\/ from the checkpoint/);
  for (const f of files) assert.deepEqual(read(path.join(dir, f)), orig[f], `${f} is what the run wrote`);
  assert.equal(results.inspectRun(dir).kind, 'finished');
  // nothing left to do; --resume rewrites in the same way (in process: the lines it returns)
  const again = await runExperiment({
    experiment: EXP,
    profile: 'smoke',
    seed: 0,
    resultsRoot: root,
    repair: true,
    log: null,
  });
  assert.deepEqual(again.repaired, []);
  fs.writeFileSync(path.join(dir, 'config.json'), '{}');
  fs.rmSync(path.join(dir, 'history.json'));
  const resumed = await runExperiment({
    experiment: EXP,
    profile: 'smoke',
    seed: 0,
    resultsRoot: root,
    resume: true,
    log: null,
  });
  assert.deepEqual(
    resumed.repaired!.map((l) => l.split(' (')[0]),
    ['rewrote history.json from the checkpoint', "rewrote config.json from the checkpoint's copy"],
  );
  for (const f of files) assert.deepEqual(read(path.join(dir, f)), orig[f], `${f} again`);
  // a damaged checkpoint cannot be repaired from: the error names the file and the command that trains again
  const ck = path.join(dir, 'checkpoint.bin');
  const b = read(ck);
  b[b.length - 9] ^= 1;
  fs.writeFileSync(ck, b);
  await assert.rejects(
    runExperiment({ experiment: EXP, profile: 'smoke', seed: 0, resultsRoot: root, repair: true, log: null }),
    (e: Error) =>
      e.message.includes(ck) &&
      /checksum mismatch.*`BNN_RESULTS_DIR=\S+ npm run experiment -- cifar10-bop --profile smoke --seed 0 --force` trains this run again/.test(
        e.message,
      ),
  );
});

test(
  '--force is a transaction: SIGKILLed at its commit rename it is rolled back by the next command; SIGKILLed just after, the folder holds the new run, interrupted',
  { skip: !hasStrace && 'needs strace for the kill at a write point' },
  async () => {
    const ref = await referenceRuns();
    // Killed on entry to the rename of its staged epoch-1 checkpoint over the finished one (rename 5): not committed.
    const [root, [dir]] = await copyOf('force-rollback', [0]);
    const before = Object.fromEntries(
      ['checkpoint.bin', 'config.json', 'history.json', 'history.csv', 'final/weights.bin', 'final/manifest.json'].map(
        (f) => [f, read(path.join(dir, f))],
      ),
    );
    const k = cliKilledAtRename([...ARGS, '--seed', '0', '--force'], root, 5);
    assert.equal(k.signal, 'SIGKILL', k.stderr);
    assert.equal(k.renames.length, 5, k.renames.join('\n'));
    assert.match(
      k.renames[4],
      /\.force-\d+\/checkpoint\.bin", "[^"]*seed-0\/checkpoint\.bin"/,
      'killed at the commit rename',
    );
    assert.equal(loadRuns(EXP, 'smoke', root)[0].complete, true, 'readers still see the previous finished run');
    // The next command: a --resume that only has history.csv to rewrite. It rolls the --force back, never promotes it.
    fs.rmSync(path.join(dir, 'history.csv'));
    const r = cli([...ARGS, '--seed', '0', '--resume'], root);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /rolled back an interrupted --force: removed \.force-\d+, whose run never committed/);
    assert.match(r.stdout, /rewrote history\.csv from the checkpoint \([^)]*history\.csv is missing\)/);
    assert.match(r.stdout, /reusing them/);
    for (const [f, b] of Object.entries(before))
      assert.deepEqual(read(path.join(dir, f)), b, `${f} is the previous run's`);
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.startsWith('.')),
      [],
      'no staging folder, marker, temp file or lock left',
    );

    // Killed on entry to the rename after the commit (the staged config.json): the folder is the new run's, at epoch 1.
    const [root2, [dir2]] = await copyOf('force-committed', [0]);
    const k2 = cliKilledAtRename([...ARGS, '--seed', '0', '--force'], root2, 6);
    assert.equal(k2.signal, 'SIGKILL', k2.stderr);
    assert.equal(k2.renames.length, 6, k2.renames.join('\n'));
    assert.match(
      k2.renames[4],
      /\.force-\d+\/checkpoint\.bin", "[^"]*seed-0\/checkpoint\.bin"/,
      'the commit rename was done',
    );
    assert.match(k2.renames[5], /\.force-\d+\/config\.json", "[^"]*seed-0\/config\.json"/, 'killed at the next rename');
    const s = results.inspectRun(dir2);
    assert.equal(s.kind, 'interrupted');
    assert.equal(s.why, 'interrupted after epoch 1 of 2');
    assert.equal(
      loadRuns(EXP, 'smoke', root2)[0].complete,
      false,
      "the previous run's history.json and final/ are not taken for the new run's",
    );
    assert.equal(loadRun(EXP, 'smoke', root2), null);
    const r2 = cli([...ARGS, '--seed', '0', '--resume'], root2);
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /removed \.force-\d+, the staging folder of an interrupted --force/);
    assert.match(r2.stdout, /resuming after epoch 1/);
    assert.deepEqual(
      strip(JSON.parse(fs.readFileSync(path.join(dir2, 'history.json'), 'utf8'))),
      strip(ref.history[0]),
      'the new run ends as an uninterrupted one',
    );
    assert.equal(results.inspectRun(dir2).kind, 'finished');
    assert.deepEqual(
      fs.readdirSync(dir2).filter((n) => n.startsWith('.')),
      [],
    );
  },
);

test('the lock: an empty lock file is waited out for its staleness age and taken over, not refused', () => {
  const dir = path.join(tmp, 'lock-empty', EXP, 'smoke', 'seed-0');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, '.lock'), ''); // `: > .lock`: what a writer killed mid-write (or a damaged disk) leaves
  const t0 = Date.now();
  const lock = acquireRunLock(dir);
  const waited = Date.now() - t0;
  try {
    const stale = (results as { LOCK_STALE_MS?: number }).LOCK_STALE_MS ?? 2000;
    assert.ok(waited >= stale - 50, `waited ${waited} ms, at least the staleness age ${stale} ms`);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, '.lock'), 'utf8')).pid, process.pid);
  } finally {
    lock.release();
  }
  assert.equal(fs.existsSync(path.join(dir, '.lock')), false);
});

test(
  'the lock on a full disk: the error names .lock, and no lock (empty or partial) is left',
  { skip: !isRoot && 'needs root to mount a small tmpfs' },
  (t) => {
    const mnt = path.join(tmp, 'lock-full');
    fs.mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) return void t.skip(`cannot mount tmpfs: ${m.stderr}`);
    try {
      const dir = path.join(mnt, EXP, 'smoke', 'seed-0');
      fs.mkdirSync(dir, { recursive: true });
      const fd = fs.openSync(path.join(mnt, 'filler'), 'w');
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(1024));
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        fs.closeSync(fd);
      }
      const lockFile = path.join(dir, '.lock');
      assert.throws(
        () => acquireRunLock(dir),
        (e: Error) =>
          e instanceof DiskFullError && e.message.includes(lockFile) && /Disk full while writing/.test(e.message),
      );
      assert.deepEqual(fs.readdirSync(dir), [], 'no lock and no temp file left');
    } finally {
      spawnSync('umount', [mnt]);
    }
  },
);

test(
  'an I/O error while writing a results file names the file (EIO injected on fsync); the previous file stays',
  { skip: !hasStrace && 'needs strace to inject EIO' },
  () => {
    const dir = path.join(tmp, 'eio');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'history.json');
    fs.writeFileSync(file, 'previous');
    const script = path.join(dir, 'write.ts');
    fs.writeFileSync(
      script,
      `import { atomicWrite } from ${JSON.stringify(path.join(ROOT, 'src/util/fs'))};\ntry { atomicWrite(process.argv[2], 'new'); console.log('written'); } catch (e) { console.log(JSON.stringify({ message: (e as Error).message, code: (e as { code?: string }).code })); }\n`,
    );
    const r = spawnSync(
      'strace',
      [
        '-f',
        '-qq',
        '-o',
        '/dev/null',
        '-e',
        'trace=fsync',
        '-e',
        'inject=fsync:error=EIO:when=1',
        process.execPath,
        '--import',
        'tsx',
        script,
        file,
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(out.code, 'EIO');
    assert.ok(out.message.includes(file), out.message);
    assert.match(out.message, /^I\/O error while writing .*EIO: i\/o error, fsync/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'previous');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['history.json', 'write.ts']);
  },
);
