/**
 * Results that survive a full disk, a bad byte, a killed --force and a second writer: each test makes the
 * real fault (a full tmpfs, a flipped byte, SIGKILL, SIGSTOP) on `smoke` runs of a few seconds, on a small
 * CIFAR-10 fixture. The disk-full test mounts a tmpfs and so needs root; it is skipped, saying so, otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync, ChildProcess } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { writeCifarFixture } from './helpers/cifarFixture';
import { runExperiment } from '../src/experiments/run';
import { encodeCheckpoint, readCheckpoint, readCheckpointHeader, writeCheckpoint } from '../src/results/checkpoint';
import { runState } from '../src/results/state';
import { acquireRunLock, readRunLock, RunLockedError } from '../src/results';
import { atomicWrite, DiskFullError } from '../src/util/fs';

const ROOT = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-rel-'));
const data = path.join(tmp, 'data');
writeCifarFixture(path.join(data, 'cifar10', 'cifar-10-batches-bin'), 20, 10);
process.env.BNN_DATA_DIR = data;
process.env.BNN_THREADS = '1';

const EXP = 'cifar10-bop';
const SET = ['epochs=3', 'trainPerClass=20'];
const ARGS = [EXP, '--profile', 'smoke', ...SET.flatMap((s) => ['--set', s])];
const run = (
  root: string,
  o: { resume?: boolean; force?: boolean; onEpoch?: (r: unknown, h: unknown[]) => void } = {},
) => runExperiment({ experiment: EXP, profile: 'smoke', set: SET, resultsRoot: root, log: null, ...o });
const strip = (h: { seconds: number }[]) => h.map(({ seconds, ...r }) => r);
const cli = (args: string[], root: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/experiment.ts'), ...args], {
    env: { ...process.env, BNN_RESULTS_DIR: root, BNN_DATA_DIR: data, BNN_THREADS: '1' },
    encoding: 'utf8',
    timeout: 120_000,
  });
const spawnCli = (args: string[], root: string): ChildProcess =>
  spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/experiment.ts'), ...args], {
    env: { ...process.env, BNN_RESULTS_DIR: root, BNN_DATA_DIR: data, BNN_THREADS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
async function until(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const exited = (c: ChildProcess) =>
  new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.on('exit', () => r())));
const copyDir = (from: string, to: string) => fs.cpSync(from, to, { recursive: true });

/** The uninterrupted reference run (3 epochs), shared by the tests. */
let reference: { root: string; dir: string; history: { seconds: number }[] } | null = null;
async function referenceRun() {
  if (!reference) {
    const root = path.join(tmp, 'reference');
    const r = await run(root);
    reference = { root, dir: r.dir, history: JSON.parse(fs.readFileSync(path.join(r.dir, 'history.json'), 'utf8')) };
    assert.equal(reference.history.length, 3);
  }
  return reference;
}
/** A copy of the finished reference run under a fresh results root; returns [root, run folder]. */
async function finishedCopy(name: string): Promise<[string, string]> {
  const ref = await referenceRun();
  const root = path.join(tmp, name);
  const dir = path.join(root, path.relative(ref.root, ref.dir));
  copyDir(ref.dir, dir);
  return [root, dir];
}

test(
  'atomicWrite: whole or absent, short writes looped; a full disk leaves the previous file and says so',
  { skip: process.getuid?.() !== 0 && 'needs root to mount a small tmpfs' },
  (t) => {
    const mnt = path.join(tmp, 'tiny');
    fs.mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=600k', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) return void t.skip(`cannot mount tmpfs: ${m.stderr}`);
    try {
      const f = path.join(mnt, 'a.bin');
      const good = Buffer.alloc(200_000, 1);
      atomicWrite(f, good);
      assert.throws(
        () => atomicWrite(f, Buffer.alloc(500_000, 2)),
        (e: Error) => e instanceof DiskFullError && e.message.includes(f) && /Disk full/.test(e.message),
      );
      assert.deepEqual(fs.readFileSync(f), good, 'previous content intact');
      assert.deepEqual(fs.readdirSync(mnt), ['a.bin'], 'no temp file left');
    } finally {
      spawnSync('umount', [mnt]);
    }
  },
);

test(
  'disk full during a checkpoint write: previous checkpoint stays valid, the run resumes to the uninterrupted history',
  { skip: process.getuid?.() !== 0 && 'needs root to mount a small tmpfs' },
  async (t) => {
    const ref = await referenceRun();
    const mnt = path.join(tmp, 'full');
    fs.mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1500k', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) return void t.skip(`cannot mount tmpfs: ${m.stderr}`);
    try {
      const filler = path.join(mnt, 'filler');
      // After epoch 1 is safely stored, fill the disk: epoch 2's checkpoint write hits ENOSPC.
      const onEpoch = (_r: unknown, h: unknown[]) => {
        if (h.length !== 1) return;
        const fd = fs.openSync(filler, 'w');
        try {
          for (;;) fs.writeSync(fd, Buffer.alloc(4096));
        } catch (e) {
          assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
        } finally {
          fs.closeSync(fd);
        }
      };
      await assert.rejects(
        run(mnt, { onEpoch }),
        (e: Error) => e instanceof DiskFullError && /checkpoint\.bin|history\.(json|csv)/.test(e.message),
      );
      const dir = path.join(mnt, path.relative(ref.root, ref.dir));
      const header = readCheckpointHeader(path.join(dir, 'checkpoint.bin'));
      assert.equal(header.epoch, 1, 'the epoch-1 checkpoint is intact and verifies');
      assert.equal(runState(dir, { configHash: header.configHash, epochs: 3 }).kind, 'interrupted');
      assert.deepEqual(
        fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')),
        [],
        'no temp files left',
      );
      fs.rmSync(filler);
      const resumed = await run(mnt, { resume: true });
      assert.deepEqual(strip(resumed.history as { seconds: number }[]), strip(ref.history));
      assert.deepEqual(strip(JSON.parse(fs.readFileSync(path.join(dir, 'history.json'), 'utf8'))), strip(ref.history));
    } finally {
      spawnSync('umount', [mnt]);
    }
  },
);

test('a flipped byte or a NaN in a checkpoint is refused, naming the file', async () => {
  const dir = path.join(tmp, 'ckpt');
  fs.mkdirSync(dir);
  const f = path.join(dir, 'checkpoint.bin');
  writeCheckpoint(f, { configHash: 'h', epoch: 2, meta: { history: [] } }, { w: tf.tensor1d([1, 2, 3, 4]) });
  assert.deepEqual(Array.from(readCheckpoint(f).tensors.w.dataSync()), [1, 2, 3, 4]);
  const good = fs.readFileSync(f);
  for (const at of [good.length - 5, 60]) {
    const bad = Buffer.from(good);
    bad[at] ^= 0x10; // one bit, in the payload, then in the header
    fs.writeFileSync(f, bad);
    assert.throws(
      () => readCheckpoint(f),
      (e: Error) => e.message.includes(f) && /corrupt \(checksum mismatch/.test(e.message) && /--force/.test(e.message),
    );
  }
  // A NaN that a buggy writer sealed with a valid checksum is still refused; writeCheckpoint never writes one.
  fs.writeFileSync(
    f,
    encodeCheckpoint({ configHash: 'h', epoch: 2, meta: {} }, { w: { shape: [2], data: new Float32Array([1, NaN]) } }),
  );
  assert.throws(
    () => readCheckpoint(f),
    (e: Error) => e.message.includes(f) && /tensor w holds NaN/.test(e.message),
  );
  fs.writeFileSync(f, good);
  assert.throws(
    () => writeCheckpoint(f, { configHash: 'h', epoch: 3, meta: {} }, { w: tf.tensor1d([Infinity]) }),
    /holds Infinity.*previous checkpoint is kept/,
  );
  assert.deepEqual(fs.readFileSync(f), good);

  // In a run: --resume on a damaged checkpoint stops with the file named; nothing is trained on it.
  const [root, run1] = await finishedCopy('flipped');
  const ck = path.join(run1, 'checkpoint.bin');
  const b = fs.readFileSync(ck);
  b[b.length - 100] ^= 0x01;
  fs.writeFileSync(ck, b);
  const r = cli([...ARGS, '--resume'], root);
  assert.equal(r.status, 1, r.stdout);
  assert.match(
    r.stderr,
    new RegExp(`Checkpoint ${ck.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt \\(checksum mismatch`),
  );
  assert.match(r.stderr, /--force/);
});

test('a finished run with a damaged history.json or final/ is repaired by --resume; stale temp files are removed', async () => {
  const ref = await referenceRun();
  const [root, dir] = await finishedCopy('repair');
  const hist = path.join(dir, 'history.json');
  const csv = fs.readFileSync(path.join(dir, 'history.csv'), 'utf8');
  fs.writeFileSync(hist, fs.readFileSync(hist, 'utf8').slice(0, 200)); // truncated
  // a temp file of an interrupted write by a process that no longer exists
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
  const stale = path.join(dir, `.checkpoint.bin.${dead}.123.tmp`);
  fs.writeFileSync(stale, 'half a checkpoint');
  // a plain run still sees a finished run (state from checkpoint + manifest), and says how to repair
  const lines: string[] = [];
  const plain = await runExperiment({
    experiment: EXP,
    profile: 'smoke',
    set: SET,
    resultsRoot: root,
    log: (l) => lines.push(l),
  });
  assert.equal(plain.reused, true);
  assert.deepEqual(plain.history, ref.history);
  assert.match(lines.join('\n'), /history\.json is not valid JSON.*--repair` rewrites the file from it/);
  const resumed = await run(root, { resume: true });
  assert.equal(resumed.reused, true);
  assert.deepEqual(JSON.parse(fs.readFileSync(hist, 'utf8')), ref.history);
  assert.equal(fs.readFileSync(path.join(dir, 'history.csv'), 'utf8'), csv);
  assert.equal(fs.existsSync(stale), false, 'stale temp file removed when the folder was opened');
  // final/ counts only when its manifest matches: a flipped byte in weights.bin makes the run unfinalized
  const w = path.join(dir, 'final', 'weights.bin');
  const wb = fs.readFileSync(w);
  wb[10] ^= 0xff;
  fs.writeFileSync(w, wb);
  const st = runState(dir, {
    configHash: readCheckpointHeader(path.join(dir, 'checkpoint.bin')).configHash,
    epochs: 3,
  });
  assert.equal(st.kind, 'unfinalized');
  assert.match(st.why!, /weights\.bin does not match the SHA-256/);
  const noResume = cli(ARGS, root);
  assert.notEqual(noResume.status, 0);
  assert.match(
    noResume.stderr,
    /training is complete \(epoch 3 of 3\) but the final model is not.*pass --repair to rewrite it from the checkpoint or --force to start over: `npm run experiment -- cifar10-bop --profile smoke --seed 0 --set .*--repair`/,
  );
  const fixed = await run(root, { resume: true });
  assert.deepEqual(strip(fixed.history as { seconds: number }[]), strip(ref.history));
  assert.equal(runState(dir, { configHash: st.checkpoint!.configHash, epochs: 3 }).kind, 'finished');
});

test('a --force run killed before its first checkpoint leaves the previous results intact', async () => {
  const ref = await referenceRun();
  const [root, dir] = await finishedCopy('force');
  const before = Object.fromEntries(
    ['checkpoint.bin', 'history.json', 'final/weights.bin', 'final/manifest.json'].map((f) => [
      f,
      fs.readFileSync(path.join(dir, f)),
    ]),
  );
  const child = spawnCli([...ARGS, '--force'], root);
  await until(
    () => fs.readdirSync(dir).some((n) => n.startsWith('.force-')) || child.exitCode !== null,
    'the --force staging folder',
  );
  assert.equal(child.exitCode, null, 'still running when killed');
  child.kill('SIGKILL');
  await exited(child);
  assert.equal(child.signalCode, 'SIGKILL');
  for (const [f, b] of Object.entries(before))
    assert.deepEqual(fs.readFileSync(path.join(dir, f)), b, `${f} unchanged`);
  const again = cli(ARGS, root);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /reusing them/);
  // --force to the end replaces them (and removes the dead run's staging folder)
  const forced = cli([...ARGS, '--force'], root);
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(forced.stdout, /first checkpoint; it now replaces the previous results/);
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.startsWith('.')),
    [],
  );
  assert.notDeepEqual(fs.readFileSync(path.join(dir, 'checkpoint.bin')), before['checkpoint.bin'], 'a new run id');
  assert.deepEqual(strip(JSON.parse(fs.readFileSync(path.join(dir, 'history.json'), 'utf8'))), strip(ref.history));
});

test('one writer per run folder: a second process is refused while the first lives, proceeds once it is killed', async () => {
  const ref = await referenceRun();
  const root = path.join(tmp, 'lock');
  const dir = path.join(root, path.relative(ref.root, ref.dir));
  const first = spawnCli(ARGS, root);
  await until(
    () => fs.existsSync(path.join(dir, '.lock')) || first.exitCode !== null,
    'the first writer to take the lock',
  );
  assert.equal(first.exitCode, null, 'the first writer is running');
  first.kill('SIGSTOP'); // alive, frozen while holding the lock
  try {
    const owner = readRunLock(dir);
    assert.ok(owner && owner !== 'unreadable');
    assert.equal(owner.pid, first.pid);
    const second = cli(ARGS, root);
    assert.equal(second.status, 1);
    assert.match(
      second.stderr,
      new RegExp(`is being written by another process \\(pid ${first.pid} on ${os.hostname()}`),
    );
    assert.throws(
      () => acquireRunLock(dir),
      (e: Error) => e instanceof RunLockedError && e.message.includes(String(first.pid)),
    );
  } finally {
    first.kill('SIGKILL');
    await exited(first);
  }
  const after = cli([...ARGS, '--resume'], root);
  assert.equal(after.status, 0, after.stderr);
  assert.deepEqual(strip(JSON.parse(fs.readFileSync(path.join(dir, 'history.json'), 'utf8'))), strip(ref.history));
  assert.equal(fs.existsSync(path.join(dir, '.lock')), false, 'released at exit');
});

test('command line: integer seeds only, a repeated option is an error, -h prints usage, unwritable results folder explained', () => {
  const root = path.join(tmp, 'cli');
  for (const [args, re] of [
    [['cifar10-bop', '--seed', ''], /--seed "": must be an integer/],
    [['cifar10-bop', '--seed', '1e30'], /--seed 1e30: must be an integer .*written in decimal digits/],
    [['cifar10-bop', '--seed', '0x10'], /--seed 0x10: must be an integer/],
    [['cifar10-bop', '--seed', '4294967296'], /--seed 4294967296: must be an integer from 0 to 4294967295/],
    [['cifar10-bop', '--profile', 'smoke', '--profile', 'quick'], /--profile is given twice \(smoke, quick\)/],
    [['cifar10-bop', '-x'], /unknown option -x/],
  ] as [string[], RegExp][]) {
    const r = cli(args, root);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, re);
  }
  const help = cli(['-h'], root);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: npm run experiment/);
  assert.equal(fs.existsSync(root), false, 'nothing written');
  const file = path.join(tmp, 'a-file');
  fs.writeFileSync(file, '');
  const notDir = cli(ARGS, path.join(file, 'results'));
  assert.equal(notDir.status, 2);
  assert.match(notDir.stderr, /cannot write results: .*a-file is a file, not a folder/);
  if (process.getuid?.() === 0) {
    const ro = path.join(tmp, 'ro');
    fs.mkdirSync(ro);
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', ro]).status === 0) {
      try {
        const r = cli(ARGS, ro);
        assert.equal(r.status, 2);
        assert.match(r.stderr, /cannot write results: .*ro is on a read-only file system; set BNN_RESULTS_DIR/);
      } finally {
        spawnSync('umount', [ro]);
      }
    }
  }
});

test('CIFAR-10: a batch file truncated to whole records, or with a changed byte, is refused by name', async () => {
  const dir = path.join(tmp, 'cifar-trunc', 'cifar10', 'cifar-10-batches-bin');
  writeCifarFixture(dir, 20, 10);
  const { loadCifar10 } = await import('../src/data/cifar10');
  const base = path.dirname(dir);
  assert.equal((await loadCifar10({ dir: base })).train.n, 200);
  const f = path.join(dir, 'data_batch_2.bin');
  const good = fs.readFileSync(f);
  fs.writeFileSync(f, good.subarray(0, 3073 * 30)); // 30 of its 40 records: whole records, smaller split
  await assert.rejects(
    loadCifar10({ dir: base }),
    (e: Error) => e.message.startsWith(f) && /holds 30 records, expected 40 \(its MANIFEST\.json\)/.test(e.message),
  );
  const flipped = Buffer.from(good);
  flipped[5000] ^= 1;
  fs.writeFileSync(f, flipped);
  await assert.rejects(
    loadCifar10({ dir: base }),
    (e: Error) => e.message.startsWith(f) && /SHA-256 does not match/.test(e.message),
  );
  // without a manifest the official counts apply: 10,000 records per file
  fs.writeFileSync(f, good);
  fs.rmSync(path.join(dir, 'MANIFEST.json'));
  await assert.rejects(
    loadCifar10({ dir: base }),
    /data_batch_1\.bin: holds 40 records, expected 10000 \(an official CIFAR-10 batch file\)/,
  );
});
