/**
 * A real one-node Slurm cluster on this machine (scripts/slurm-local.sh: Debian's munge, slurmctld, slurmd;
 * installed and started when run as root), a `smoke` sweep of 4 tasks submitted with `npm run sweep`, its
 * results folders and the figures built from them; then one task cancelled mid-run with scancel, requeued
 * with scontrol requeue, resumed from its checkpoint, and ending with the history of an uninterrupted run.
 * Skipped, with the reason printed, where a local cluster cannot be started (not root, not Linux, another
 * Slurm configuration in place) or with BNN_SLURM_TEST=0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { loadRunDir } from '../src/results';
import { checkModelDir } from '../src/results/final';
import { parseTasksTsv } from '../src/sweep/sbatch';
import { writeCifarFixture } from './helpers/cifarFixture';

const ROOT = path.resolve(__dirname, '..');
const EPOCHS = 32;
const EXPERIMENTS = ['cifar10-adam-baseline', 'cifar10-bop', 'cifar10-bop-dropout', 'cifar10-bop-lr-decay'];

const sh = (cmd: string, args: string[], timeout = 60_000) => spawnSync(cmd, args, { encoding: 'utf8', timeout });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  timeoutMs: number,
  fn: () => T | null | undefined | false,
  everyMs = 250,
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Slurm's state of each task of an array job (squeue, which keeps ended jobs for MinJobAge). */
function states(jobId: string): Map<number, string> {
  const r = sh('squeue', ['-j', jobId, '-r', '-h', '-t', 'all', '-o', '%i|%T']);
  const out = new Map<number, string>();
  for (const l of r.stdout.split('\n')) {
    const m = /^(\d+)_(\d+)\|(\S+)/.exec(l.trim());
    if (m && m[1] === jobId) out.set(Number(m[2]), m[3]);
  }
  return out;
}

const ENDED = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
]);

function history(dir: string): { seconds: number }[] | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'history.json'), 'utf8'));
  } catch {
    return null;
  }
}

test(
  'a smoke sweep on a real one-node Slurm: 4 tasks, figures, a cancelled and requeued task resumes',
  { timeout: 600_000 },
  async (t) => {
    const why =
      process.platform !== 'linux'
        ? 'not Linux'
        : process.getuid?.() !== 0
          ? 'not root (a local Slurm is installed and started as root, as in CI)'
          : process.env.BNN_SLURM_TEST === '0'
            ? 'BNN_SLURM_TEST=0'
            : null;
    if (why) {
      console.log(`# skipped: ${why}`);
      return t.skip(why);
    }
    const t0 = Date.now();
    const wasUp = sh('bash', [path.join(ROOT, 'scripts/slurm-local.sh'), 'status']).status === 0;
    const up = sh('bash', [path.join(ROOT, 'scripts/slurm-local.sh'), 'start'], 600_000);
    if (up.status === 3) {
      console.log(`# skipped: ${up.stdout.trim()}`);
      return t.skip(up.stdout.trim());
    }
    assert.equal(up.status, 0, `slurm-local.sh start: ${up.stdout}${up.stderr}`);
    if (!wasUp) t.after(() => void sh('bash', [path.join(ROOT, 'scripts/slurm-local.sh'), 'stop']));
    console.log(`# ${up.stdout.trim()} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);

    // Paths with a space, a quote and a % (a Slurm filename pattern character) on the way to every file.
    const base = fs.mkdtempSync(path.join(os.tmpdir(), `bnn sweep 'it' 100% `));
    t.after(() => fs.rmSync(base, { recursive: true, force: true }));
    const data = path.join(base, 'data');
    writeCifarFixture(path.join(data, 'cifar10', 'cifar-10-batches-bin'), 10, 5);
    const sweeps = path.join(base, 'sweeps');
    const env: NodeJS.ProcessEnv = { ...process.env, BNN_DATA_DIR: data, BNN_SWEEPS_DIR: sweeps };
    delete env.BNN_RESULTS_DIR;
    delete env.BNN_THREADS;
    const sweep = (args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/sweep.ts'), ...args], {
        env,
        encoding: 'utf8',
        timeout: 120_000,
      });
      assert.equal(r.status, 0, `npm run sweep -- ${args.join(' ')}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    const submitted = (out: string) =>
      /submitted as Slurm job (\d+)/.exec(out)?.[1] ?? assert.fail(`no job id in: ${out}`);
    const common = [
      '--profile',
      'smoke',
      '--set',
      `epochs=${EPOCHS}`,
      '--slurm',
      '--cpus-per-task',
      '1',
      '--time',
      '00:10:00',
    ];

    // 1. Four tasks, at most two at a time, into results folder A.
    const resultsA = path.join(base, 'results A');
    const jobA = submitted(
      sweep([
        ...common,
        '--only',
        EXPERIMENTS.join(','),
        '--max-running',
        '2',
        '--results',
        resultsA,
        '--id',
        'smoke a',
      ]),
    );
    const dirA = path.join(sweeps, 'smoke a');
    const tasksA = parseTasksTsv(fs.readFileSync(path.join(dirA, 'tasks.tsv'), 'utf8'));
    assert.deepEqual(tasksA.map((x) => x.experiment).sort(), [...EXPERIMENTS].sort());
    await until(
      'sweep A to end',
      240_000,
      () => {
        const s = states(jobA);
        return s.size === 4 && [...s.values()].every((v) => ENDED.has(v));
      },
      1000,
    );
    console.log(`# sweep A: 4 tasks done at ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const logs = (dir: string, i: number) => fs.readFileSync(path.join(dir, 'logs', `task-${i}.log`), 'utf8');
    for (const task of tasksA) {
      assert.equal(states(jobA).get(task.index), 'COMPLETED', logs(dirA, task.index));
      const run = loadRunDir(task.dir);
      assert.ok(run, `${task.dir} has results`);
      assert.equal(run.complete, true, task.dir);
      assert.equal(run.history.length, EPOCHS);
      assert.equal(run.config.experiment, task.experiment);
      assert.ok(checkModelDir(path.join(task.dir, 'final')).ok);
      assert.match(logs(dirA, task.index), new RegExp(`^\\[sweep\\] task ${task.index} exit 0 at `, 'm'));
    }
    const statusA = JSON.parse(sweep(['status', 'smoke a', '--json']));
    assert.equal(statusA.jobId, jobA);
    assert.deepEqual(
      statusA.tasks.map((x: { state: string }) => x.state),
      ['done', 'done', 'done', 'done'],
    );
    assert.deepEqual(
      statusA.tasks.map((x: { slurm: string }) => x.slurm),
      ['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED'],
    );
    assert.match(sweep(['status', 'smoke a']), /4 done/);

    // 2. The figures from the same folders (npm run figures; PNG through Chromium where there is one).
    const profileDir = path.basename(path.dirname(tasksA[0].dir));
    const figDir = path.join(base, 'figures');
    const chromium =
      spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser || command -v google-chrome'], {
        encoding: 'utf8',
      }).status === 0 || !!process.env.BNN_CHROMIUM;
    const format = chromium ? 'png' : 'html';
    const figs = ['fig1-baseline-vs-bop', 'fig2-3-learning-rate', 'fig4-5-dropout'];
    const f = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'src/cli/figures.ts'),
        ...figs,
        '--profile',
        profileDir,
        '--results',
        resultsA,
        '--out',
        figDir,
        '--format',
        format,
      ],
      {
        env,
        encoding: 'utf8',
        timeout: 180_000,
      },
    );
    assert.equal(f.status, 0, f.stderr + f.stdout);
    for (const name of figs)
      assert.ok(fs.statSync(path.join(figDir, `${name}.${format}`)).size > 1000, `${name}.${format}`);
    console.log(`# figures (${format}) at ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    // 3. The same cifar10-bop run alone into results folder B: cancelled mid-run, requeued, resumed.
    const resultsB = path.join(base, 'results B');
    const jobB = submitted(
      sweep([...common, '--only', 'cifar10-bop', '--seeds', '0', '--results', resultsB, '--id', 'smoke b']),
    );
    const dirB = path.join(sweeps, 'smoke b');
    const [taskB] = parseTasksTsv(fs.readFileSync(path.join(dirB, 'tasks.tsv'), 'utf8'));
    const reference = tasksA.find((x) => x.experiment === 'cifar10-bop')!;
    assert.equal(
      path.relative(resultsB, taskB.dir),
      path.relative(resultsA, reference.dir),
      'the same run folder under another results root',
    );
    const k = await until(
      'epoch 2 of the task to be written',
      120_000,
      () => (history(taskB.dir)?.length ?? 0) >= 2 && history(taskB.dir)!.length,
      100,
    );
    assert.ok(k < EPOCHS, `cancelled mid-run (${k} of ${EPOCHS} epochs written)`);
    assert.equal(sh('scancel', [`${jobB}_0`]).status, 0);
    await until('the task to be cancelled', 60_000, () => states(jobB).get(0) === 'CANCELLED');
    const stopped = history(taskB.dir)!.length;
    assert.ok(stopped < EPOCHS, `stopped before the end (${stopped} epochs)`);
    assert.ok(fs.existsSync(path.join(taskB.dir, 'checkpoint.bin')));
    assert.ok(!checkModelDir(path.join(taskB.dir, 'final')).ok, 'no final model yet');
    const mid = JSON.parse(sweep(['status', 'smoke b', '--json'])).tasks[0];
    assert.equal(mid.state, 'interrupted', mid.text);
    assert.equal(mid.slurm, 'CANCELLED');
    console.log(`# cancelled after epoch ${stopped} at ${((Date.now() - t0) / 1000).toFixed(0)} s: ${mid.text}`);

    const rq = sh('scontrol', ['requeue', `${jobB}_0`]);
    assert.equal(rq.status, 0, rq.stderr);
    await until(
      'the requeued task to end',
      180_000,
      () => {
        const s = states(jobB).get(0);
        return s !== undefined && ENDED.has(s) && s !== 'CANCELLED';
      },
      500,
    );
    const logB = logs(dirB, 0);
    assert.equal(states(jobB).get(0), 'COMPLETED', logB);
    assert.equal(logB.match(/^\[sweep\] task 0: cifar10-bop seed 0/gm)?.length, 2, `two attempts in one log:\n${logB}`);
    assert.match(logB, /attempt 2 on /);
    assert.match(
      logB,
      /^\[sweep\] task 0 stopped by SIGTERM at /m,
      "the job script passed scancel's SIGTERM to the run",
    );
    const resumed = /resuming after epoch (\d+)/.exec(logB);
    assert.ok(resumed, `the second attempt resumed from its checkpoint:\n${logB}`);
    assert.ok(
      Number(resumed[1]) >= stopped - 1 && Number(resumed[1]) >= 2,
      `resumed after epoch ${resumed[1]} (stopped at ${stopped})`,
    );
    const strip = (h: { seconds: number }[]) => h.map(({ seconds, ...r }) => r);
    const hA = history(reference.dir)!;
    const hB = history(taskB.dir)!;
    assert.equal(hB.length, EPOCHS);
    assert.deepEqual(strip(hB), strip(hA), 'the requeued run ends with the history of the uninterrupted one');
    const done = JSON.parse(sweep(['status', 'smoke b', '--json'])).tasks[0];
    assert.equal(done.state, 'done', done.text);
    console.log(
      `# requeued task resumed after epoch ${resumed[1]} and matched the uninterrupted history; total ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
  },
);
