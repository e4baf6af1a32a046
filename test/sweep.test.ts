import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { experimentNames, getExperiment } from '../src/experiments/registry';
import { resolveConfig, runDir } from '../src/experiments/run';
import {
  arraySpec,
  createSweep,
  expandArrayTasks,
  lastAttempt,
  loadSweep,
  parseSeeds,
  parseTasksTsv,
  parseTaskStates,
  planSweep,
  sbatchQuote,
  shQuote,
  slurmFilename,
  sweepStatus,
} from '../src/sweep';
import { attemptFile, taskStart } from '../src/sweep/taskstart';
import { parseSweepArgv } from '../src/cli/sweep';

const ROOT = path.resolve(__dirname, '..');
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/sweep.ts'), ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });

/** What sbatch makes of an #SBATCH line (Slurm's _get_argument: blanks split, "…" and '…' quote, \ escapes, # starts a comment). */
function sbatchTokens(line: string): string[] {
  const out: string[] = [];
  let i = line.indexOf('#SBATCH') + '#SBATCH'.length;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length) break;
    let arg = '';
    let q: string | null = null;
    let esc = false;
    for (; i < line.length && (q !== null || !/\s/.test(line[i])); i++) {
      const c = line[i];
      if (esc) esc = false;
      else if (c === '\\') {
        esc = true;
        continue;
      } else if (q !== null) {
        if (c === q) {
          q = null;
          continue;
        }
      } else if (c === '"' || c === "'") {
        q = c;
        continue;
      } else if (c === '#') return [...out, ...(arg ? [arg] : [])];
      arg += c;
    }
    out.push(arg);
  }
  return out;
}

test('the task list: every registry entry × its seeds for the profile, sameAs entries left out', () => {
  const root = '/r';
  const plan = planSweep({ profile: 'paper', resultsRoot: root });
  const want = experimentNames()
    .filter((n) => !getExperiment(n).sameAs)
    .flatMap((n) => getExperiment(n).seeds.paper.map((s) => `${n}#${s}`));
  assert.deepEqual(
    plan.tasks.map((t) => `${t.experiment}#${t.seed}`),
    want,
  );
  assert.ok(
    plan.tasks.some((t) => t.experiment === 'cifar10-bop' && t.seed === 2),
    'three CIFAR-10 seeds on paper',
  );
  assert.ok(!plan.tasks.some((t) => getExperiment(t.experiment).sameAs));
  assert.ok(plan.notes.some((n) => /cifar10-bop-constant-lr: skipped, it reuses the runs of cifar10-bop/.test(n)));
  plan.tasks.forEach((t, i) => {
    assert.equal(t.index, i);
    assert.equal(t.dir, runDir(resolveConfig(t.experiment, 'paper', t.seed), [], root));
  });
  // --only, --seeds and --set: overridden configs go to their own folder, as with npm run experiment --set
  const some = planSweep({
    profile: 'smoke',
    only: ['cifar10-bop-constant-lr', 'svhn-bop'],
    seeds: [3, 4],
    set: ['epochs=3'],
    resultsRoot: root,
  });
  assert.deepEqual(
    some.tasks.map((t) => `${t.experiment}#${t.seed}`),
    ['cifar10-bop#3', 'cifar10-bop#4', 'svhn-bop#3', 'svhn-bop#4'],
  );
  assert.match(some.notes[0], /cifar10-bop-constant-lr reuses the runs of cifar10-bop .*running cifar10-bop instead/);
  assert.equal(some.tasks[2].dir, runDir(resolveConfig('svhn-bop', 'smoke', 3, ['epochs=3']), ['epochs=3'], root));
  assert.match(some.tasks[2].dir, /\/svhn-bop\/smoke-[0-9a-f]{8}\/seed-3$/);
  assert.throws(() => planSweep({ profile: 'paper', only: ['nope'], resultsRoot: root }), /Unknown experiment 'nope'/);
  assert.throws(() => planSweep({ profile: 'fast', resultsRoot: root }), /Unknown profile 'fast'/);
  assert.throws(() => planSweep({ profile: 'smoke', set: ['epochs=0'], resultsRoot: root }), /epochs=0 is invalid/);
  assert.deepEqual(parseSeeds('0,1,2'), [0, 1, 2]);
  assert.deepEqual(parseSeeds('3-5,1'), [3, 4, 5, 1]);
  assert.throws(() => parseSeeds('a'), /non-negative integers/);
  assert.throws(() => parseSeeds('0,,1'), /without empty entries/);
  assert.throws(() => parseSeeds('4294967296', 0xffffffff), /seeds go from 0 to 4294967295/);
});

test('sweep options: each checked by its rule before anything is written', () => {
  const ok = parseSweepArgv([
    '--profile',
    'paper',
    '--slurm',
    '--cpus-per-task',
    '4',
    '--time',
    '3-00:00:00',
    '--seeds',
    '0-2',
    '--only',
    'cifar10-bop, svhn-bop',
    '--backend',
    'tensorflow',
  ]);
  assert.equal(ok.slurm.cpusPerTask, 4);
  assert.equal(ok.slurm.time, '3-00:00:00');
  assert.deepEqual(ok.seeds, [0, 1, 2]);
  assert.deepEqual(ok.only, ['cifar10-bop', 'svhn-bop']);
  assert.equal(ok.estimate, true);
  assert.equal(parseSweepArgv(['--profile', 'smoke', '--slurm', '--no-estimate']).estimate, false);
  const bad: [string[], RegExp][] = [
    [['--cpus-per-task', '0x4'], /--cpus-per-task 0x4: must be an integer ≥ 1 written in decimal digits/],
    [['--gpus-per-task', '1e0'], /--gpus-per-task 1e0: must be an integer ≥ 1 written in decimal digits/],
    [['--max-running', '0'], /--max-running 0: must be an integer ≥ 1/],
    [['--time', '99:99'], /--time 99:99: 99 seconds; allowed: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS/],
    [['--time', '1:60:00'], /--time 1:60:00: 60 minutes/],
    [['--backend', 'gpu'], /--backend gpu: allowed: tensorflow, wasm, cpu/],
    [
      ['--only', 'cifar10-bop,'],
      /--only cifar10-bop,: expected a comma-separated list of experiment names, without empty entries/,
    ],
    [['--seeds', '1,x'], /--seeds 1,x: expected non-negative integers/],
    [['--results', ''], /--results "": needs a value/],
  ];
  for (const [extra, re] of bad)
    assert.throws(() => parseSweepArgv(['--profile', 'paper', '--slurm', ...extra]), re, extra.join(' '));
  assert.throws(() => parseSweepArgv(['--profile', 'tiny', '--slurm']), /--profile tiny: allowed: paper, quick, smoke/);
});

test('quoting: shell words, #SBATCH values as sbatch reads them, literal % in Slurm file names', () => {
  for (const s of ['plain', 'a b', "it's", 'x"y', '$HOME `id`', 'tab\there', '']) {
    const r = spawnSync('bash', ['-c', `printf %s ${shQuote(s)}`], { encoding: 'utf8' });
    assert.equal(r.stdout, s);
  }
  assert.equal(shQuote('/a/b-c.d'), '/a/b-c.d');
  for (const s of ['/x/sweeps dir/logs', `/x/it's "q"/logs`, '/x/#hash/a'])
    assert.deepEqual(sbatchTokens(`#SBATCH --output=${sbatchQuote(s)}`), [`--output=${s}`]);
  assert.equal(slurmFilename('/a/100%/b'), '/a/100%%/b');
  assert.equal(arraySpec(21, 8), '0-20%8');
  assert.equal(arraySpec(1), '0');
  assert.deepEqual(expandArrayTasks('[0-3,7]'), [0, 1, 2, 3, 7]);
  assert.deepEqual(expandArrayTasks('[4-8:2%2]'), [4, 6, 8]);
  const st = parseTaskStates(
    '12_0|COMPLETED\n12_1|CANCELLED by 0\n12_1.batch|CANCELLED\n12_[2-3%2]|PENDING\n13_0|RUNNING\n',
    '12',
  );
  assert.deepEqual(
    [...st],
    [
      [0, 'COMPLETED'],
      [1, 'CANCELLED'],
      [2, 'PENDING'],
      [3, 'PENDING'],
    ],
  );
});

test('--dry-run: tasks.tsv from the registry, the array job with its options, paths with spaces, nothing submitted', () => {
  const base = tmp('bnn-sweep-');
  const sweeps = path.join(base, `sweeps 'q' 100%`);
  const results = path.join(base, 'shared results');
  const fakeBin = path.join(base, 'bin');
  fs.mkdirSync(fakeBin);
  const calls = path.join(base, 'sbatch-calls');
  fs.writeFileSync(path.join(fakeBin, 'sbatch'), `#!/bin/sh\nprintf '%s\\n' "$@" >> ${shQuote(calls)}\necho 4242\n`, {
    mode: 0o755,
  });
  const env = {
    BNN_RESULTS_DIR: results,
    BNN_SWEEPS_DIR: sweeps,
    BNN_SBATCH: path.join(fakeBin, 'sbatch'),
    PATH: `${fakeBin}:${process.env.PATH}`,
  };
  const args = [
    '--profile',
    'paper',
    '--slurm',
    '--partition',
    'gpu',
    '--gpus-per-task',
    '1',
    '--cpus-per-task',
    '4',
    '--time',
    '72:00:00',
    '--max-running',
    '6',
    '--backend',
    'tensorflow',
    '--sbatch-arg=--account=bnn',
    '--id',
    'paper run',
  ];
  // (--no-estimate: probing the paper-size models on this machine takes a minute; test/cli-estimate.test.ts times them)
  const r = cli([...args, '--dry-run', '--no-estimate'], env);
  assert.equal(r.status, 0, r.stderr);
  const dir = path.join(sweeps, 'paper run');
  const script = path.join(dir, 'job.sbatch');
  assert.match(
    r.stdout,
    new RegExp(`sbatch '${base.replace(/[/.]/g, '\\$&')}/sweeps '\\\\''q'\\\\'' 100%/paper run/job.sbatch'`),
  );
  assert.match(r.stdout, /dry run: not submitted/);
  assert.ok(!fs.existsSync(calls), 'sbatch not called');

  const plan = planSweep({ profile: 'paper', resultsRoot: results });
  const tasks = parseTasksTsv(fs.readFileSync(path.join(dir, 'tasks.tsv'), 'utf8'));
  assert.deepEqual(tasks, plan.tasks);
  assert.equal(
    fs.readFileSync(path.join(dir, 'tasks.tsv'), 'utf8').split('\n')[0],
    'task\texperiment\tprofile\tseed\trun_dir',
  );
  for (const t of tasks)
    assert.match(
      r.stdout,
      new RegExp(
        `npm run --silent experiment -- ${t.experiment.replace('.', '\\.')} --profile paper --seed ${t.seed} --resume`,
      ),
    );

  const text = fs.readFileSync(script, 'utf8');
  const opts = text
    .split('\n')
    .filter((l) => l.startsWith('#SBATCH'))
    .map((l) => sbatchTokens(l));
  assert.ok(
    opts.every((o) => o.length === 1),
    'one option per #SBATCH line',
  );
  assert.deepEqual(
    opts.map((o) => o[0]),
    [
      '--job-name=bop-paper_run',
      `--array=0-${tasks.length - 1}%6`,
      '--requeue',
      '--ntasks=1',
      `--output=${path.join(base, `sweeps 'q' 100%%`, 'paper run', 'logs')}/task-%a.log`,
      '--open-mode=append',
      '--partition=gpu',
      '--gpus-per-task=1',
      '--cpus-per-task=4',
      '--time=72:00:00',
      '--account=bnn',
    ],
  );
  assert.ok(fs.statSync(path.join(dir, 'logs')).isDirectory(), 'log folder exists before the job runs');
  assert.match(text, /^export BNN_RESULTS_DIR='[^\n]*\/shared results'$/m);
  assert.match(text, /^export BNN_BACKEND=tensorflow$/m);
  assert.match(
    text,
    /npm run --silent experiment -- "\$experiment" --profile "\$profile" --seed "\$seed" --resume &$/m,
  );
  assert.equal(spawnSync('bash', ['-n', script]).status, 0, 'the script parses');

  // the same sweep id again is refused; submit records the job id
  const again = cli([...args, '--dry-run', '--no-estimate'], env);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /sweep paper run exists/);
  const sub = cli(['submit', 'paper run'], env);
  assert.equal(sub.status, 0, sub.stderr);
  assert.match(sub.stdout, /as Slurm job 4242/);
  assert.deepEqual(fs.readFileSync(calls, 'utf8').trim().split('\n'), ['--parsable', script]);
  assert.equal(loadSweep('paper run', sweeps).meta.jobs[0].id, '4242');

  // bad options: one line, non-zero, nothing written
  for (const [bad, re] of [
    [['--profile', 'paper', '--slurm', '--gpus-per-task', '0'], /--gpus-per-task 0: must be an integer ≥ 1/],
    [['--profile', 'paper', '--slurm', '--time', 'tomorrow'], /--time tomorrow/],
    [
      ['--profile', 'paper', '--slurm', '--time', '99:99'],
      /--time 99:99: 99 seconds; allowed: minutes, MM:SS, HH:MM:SS/,
    ],
    [['--profile', 'paper'], /pass --slurm/],
    [['--slurm'], /--profile is required/],
    [['--profile', 'paper', '--slurm', '--only', 'cifar10-nope'], /Unknown experiment 'cifar10-nope'/],
  ] as [string[], RegExp][]) {
    const e = cli([...bad, '--id', 'bad', '--dry-run'], env);
    assert.notEqual(e.status, 0, bad.join(' '));
    assert.match(e.stderr, re);
    assert.ok(!fs.existsSync(path.join(sweeps, 'bad')));
  }
});

test('job.sbatch runs its task line as one npm run experiment (bash, fake npm), with the sweep folder in odd paths', () => {
  const base = tmp('bnn-sweep-job-');
  const fakeBin = path.join(base, 'bin');
  fs.mkdirSync(fakeBin);
  const calls = path.join(base, 'npm-calls');
  fs.writeFileSync(
    path.join(fakeBin, 'npm'),
    `#!/bin/sh\n{ printf '%s|' "$PWD" "$BNN_RESULTS_DIR" "$BNN_THREADS" "$@"; echo; } >> ${shQuote(calls)}\n`,
    { mode: 0o755 },
  );
  const results = path.join(base, "res ults '1'");
  const c = createSweep({
    profile: 'smoke',
    only: ['cifar10-bop', 'cifar10-adam-baseline'],
    seeds: [0, 1],
    set: ['epochs=3'],
    resultsRoot: results,
    sweepsDir: path.join(base, 'sw $x "y" %a'),
    id: 's',
    nodeBinDir: fakeBin,
    slurm: {},
  });
  const r = spawnSync('bash', [path.join(c.dir, 'job.sbatch')], {
    env: {
      ...process.env,
      PATH: `${fakeBin}:/usr/bin:/bin`,
      SLURM_ARRAY_TASK_ID: '3',
      SLURM_CPUS_PER_TASK: '2',
      BNN_THREADS: '',
    },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^\[sweep\] task 3: cifar10-adam-baseline seed 1, .*attempt 1 on .*; results in .*\/seed-1$/m);
  assert.match(r.stdout, /^\[sweep\] task 3 exit 0 at /m);
  const lines = fs.readFileSync(calls, 'utf8').trim().split('\n');
  assert.equal(lines.length, 2, 'task-start, then the experiment');
  assert.equal(lines[0], `${ROOT}|${results}|2|run|--silent|sweep|--|task-start|${c.dir}|3|`);
  assert.equal(
    lines[1],
    `${ROOT}|${results}|2|run|--silent|experiment|--|cifar10-adam-baseline|--profile|smoke|--seed|1|--resume|--set|epochs=3|`,
  );
  const missing = spawnSync('bash', [path.join(c.dir, 'job.sbatch')], {
    env: { ...process.env, PATH: `${fakeBin}:/usr/bin:/bin`, SLURM_ARRAY_TASK_ID: '9' },
    encoding: 'utf8',
  });
  assert.equal(missing.status, 2);
  assert.match(missing.stdout, /error: task 9 is not in .*tasks\.tsv/);
});

test('job.sbatch passes a SIGTERM (scancel, preemption) to the whole run and waits for it', async () => {
  const base = tmp('bnn-sweep-term-');
  const fakeBin = path.join(base, 'bin');
  fs.mkdirSync(fakeBin);
  const marker = `${process.pid}.${Date.now() % 100000}`;
  // npm → sh → sleep: the sleep is a grandchild of the job script, as the training process is under npm/tsx
  fs.writeFileSync(
    path.join(fakeBin, 'npm'),
    `#!/bin/sh\n[ "$3" = experiment ] || exit 0\necho started\nsh -c 'sleep 300 ${marker}; true'\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(fakeBin, 'sleep'), `#!/bin/sh\nexec /bin/sleep "$1"\n`, { mode: 0o755 });
  const c = createSweep({
    profile: 'smoke',
    only: ['cifar10-bop'],
    seeds: [0],
    resultsRoot: path.join(base, 'r'),
    sweepsDir: base,
    id: 't',
    nodeBinDir: fakeBin,
    slurm: {},
  });
  const { spawn } = await import('child_process');
  const child = spawn('bash', [path.join(c.dir, 'job.sbatch')], {
    env: { ...process.env, PATH: `${fakeBin}:/usr/bin:/bin`, SLURM_ARRAY_TASK_ID: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const alive = () =>
    fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .some((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker);
        } catch {
          return false;
        }
      });
  for (let i = 0; i < 100 && !(out.includes('started') && alive()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(alive(), `the run started: ${out}`);
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 143, out);
  assert.match(out, /^\[sweep\] task 0 got SIGTERM, stopping the run/m);
  assert.match(out, /^\[sweep\] task 0 stopped by SIGTERM at /m);
  assert.ok(!alive(), 'the grandchild is gone too');
  assert.deepEqual(lastAttempt(out, 0), { started: true, exit: null, stopped: 'SIGTERM', error: null });
});

test('status: each task from its results folder and log, Slurm state beside it', () => {
  const base = tmp('bnn-sweep-status-');
  const results = path.join(base, 'results');
  const c = createSweep({
    profile: 'smoke',
    only: ['cifar10-bop', 'cifar10-bop-dropout', 'cifar10-adam-baseline', 'cifar10-bop-lr-decay'],
    seeds: [0],
    resultsRoot: results,
    sweepsDir: base,
    id: 'st',
    slurm: {},
  });
  const [t0, , t2, t3] = c.tasks;
  const rec = (epoch: number) => ({
    epoch,
    step: epoch * 4,
    loss: 1,
    accuracy: 0.5,
    valLoss: 1,
    valAccuracy: 0.25,
    gamma: null,
    threshold: null,
    lr: 0.01,
    seconds: 0.1,
    flipRatio: {},
  });
  const config = (t: typeof t0) => ({ config: resolveConfig(t.experiment, 'smoke', 0), configHash: 'x' });
  // task 0: two of its epochs written, Slurm says RUNNING
  fs.mkdirSync(t0.dir, { recursive: true });
  fs.writeFileSync(path.join(t0.dir, 'config.json'), JSON.stringify(config(t0)));
  fs.writeFileSync(path.join(t0.dir, 'history.json'), JSON.stringify([rec(1)]));
  // task 1: failed with an error line
  fs.writeFileSync(
    path.join(c.dir, 'logs', 'task-1.log'),
    '[sweep] task 1: cifar10-bop-dropout seed 0, job 7_1, attempt 1\nresolved config: {}\nerror: CIFAR-10 not found; run npm run data -- cifar10\n[sweep] task 1 exit 1 at now\n',
  );
  // task 2: cancelled after one epoch (checkpoint), Slurm says CANCELLED
  fs.mkdirSync(t2.dir, { recursive: true });
  fs.writeFileSync(path.join(t2.dir, 'config.json'), JSON.stringify(config(t2)));
  fs.writeFileSync(path.join(t2.dir, 'history.json'), JSON.stringify([rec(1)]));
  fs.writeFileSync(path.join(t2.dir, 'checkpoint.bin'), 'x');
  void t3; // task 3: nothing yet
  const meta = JSON.parse(fs.readFileSync(path.join(c.dir, 'sweep.json'), 'utf8'));
  meta.jobs.push({ id: '7', submittedAt: '' });
  fs.writeFileSync(path.join(c.dir, 'sweep.json'), JSON.stringify(meta));
  const s = sweepStatus(loadSweep('st', base), (id) => {
    assert.equal(id, '7');
    return {
      source: 'squeue',
      states: new Map([
        [0, 'RUNNING'],
        [1, 'FAILED'],
        [2, 'CANCELLED'],
        [3, 'PENDING'],
      ]),
    };
  });
  const n = resolveConfig('cifar10-bop', 'smoke', 0).epochs;
  assert.deepEqual(
    s.tasks.map((t) => [t.state, t.text, t.slurm]),
    [
      ['running', `running at epoch ${Math.min(2, n)}/${n}`, 'RUNNING'],
      ['failed', 'failed: error: CIFAR-10 not found; run npm run data -- cifar10', 'FAILED'],
      [
        'interrupted',
        `interrupted after epoch 1/${resolveConfig('cifar10-adam-baseline', 'smoke', 0).epochs}; resubmit to resume from its checkpoint`,
        'CANCELLED',
      ],
      ['not started', 'not started (queued)', 'PENDING'],
    ],
  );
  // queued again after a failure or an interruption: the queue state wins over the last attempt's
  const again = sweepStatus(loadSweep('st', base), () => ({
    source: 'sacct',
    states: new Map([
      [1, 'PENDING'],
      [2, 'PENDING'],
    ]),
  }));
  assert.deepEqual(
    again.tasks.slice(1, 3).map((t) => [t.state, t.text]),
    [
      ['not started', 'not started (queued)'],
      ['pending', `waiting to resume after epoch 1/${resolveConfig('cifar10-adam-baseline', 'smoke', 0).epochs}`],
    ],
  );
  // no word from Slurm: the run-folder lock tells a live writer from a dead one
  fs.writeFileSync(path.join(c.dir, 'logs', 'task-0.log'), '[sweep] task 0: cifar10-bop seed 0, job 7_0, attempt 1\n');
  const lockOf = (pid: number) =>
    fs.writeFileSync(
      path.join(t0.dir, '.lock'),
      JSON.stringify({ pid, host: os.hostname(), procStart: null, since: new Date().toISOString(), command: 'x' }),
    );
  lockOf(process.pid);
  const noSlurm = () => ({ source: null, states: new Map<number, string>() });
  assert.match(
    sweepStatus(loadSweep('st', base), noSlurm).tasks[0].text,
    new RegExp(`^running at epoch 2/${n} \\(pid ${process.pid} on `),
  );
  lockOf(2 ** 22 + 12345); // no such pid
  assert.equal(sweepStatus(loadSweep('st', base), noSlurm).tasks[0].state, 'interrupted');
  fs.rmSync(path.join(t0.dir, '.lock'));
  // the command prints the same, without Slurm when it does not answer
  const r = cli(['status', 'st', '--sweeps-dir', base], { PATH: '/nonexistent' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /no state from Slurm/);
  assert.match(r.stdout, /^1 +cifar10-bop-dropout +0 +failed: error: CIFAR-10 not found/m);
  assert.match(r.stdout, /^3 +cifar10-bop-lr-decay +0 +not started +-$/m);

  assert.deepEqual(lastAttempt('[sweep] task 4: a\nx\n[sweep] task 4 exit 0 at t\n[sweep] task 4: a\nepoch 1\n', 4), {
    started: true,
    exit: null,
    error: null,
  });
  assert.deepEqual(lastAttempt('[sweep] task 4: a\nTypeError: boom\n    at x\n[sweep] task 4 exit 1 at t\n', 4), {
    started: true,
    exit: 1,
    error: 'TypeError: boom',
  });
});

test("task start: removes the lock of this task's earlier attempt on another node, and only that", () => {
  const base = tmp('bnn-sweep-lock-');
  const run = path.join(base, 'run');
  fs.mkdirSync(path.join(base, 'logs'), { recursive: true });
  fs.mkdirSync(run);
  const lockFile = path.join(run, '.lock');
  const writeLock = (host: string, since: string) =>
    fs.writeFileSync(lockFile, JSON.stringify({ pid: 4321, host, procStart: null, since, command: 'x' }));
  const marker = (host: string, jobId: string, start: string) =>
    fs.writeFileSync(attemptFile(base, 0), JSON.stringify({ host, jobId, start }));
  const start = (host: string, jobId: string, running = false) =>
    taskStart({ sweepDir: base, index: 0, runDir: run, host, env: { SLURM_JOB_ID: jobId }, jobRunning: () => running });

  // the same job requeued on node-b: node-a's attempt is over
  marker('node-a', '17', '2026-01-01T00:00:00Z');
  writeLock('node-a', '2026-01-01T00:00:05Z');
  assert.match(
    start('node-b', '17').join('\n'),
    /removed .*\.lock: left by the previous attempt of this task on node-a/,
  );
  assert.ok(!fs.existsSync(lockFile));
  assert.deepEqual(JSON.parse(fs.readFileSync(attemptFile(base, 0), 'utf8')).host, 'node-b');
  // a resubmitted sweep (new job): removed only when Slurm says the old job is not running
  marker('node-a', '17', '2026-01-01T00:00:00Z');
  writeLock('node-a', '2026-01-01T00:00:05Z');
  assert.match(start('node-b', '30', true).join('\n'), /is held on node-a \(pid 4321\); left in place/);
  assert.ok(fs.existsSync(lockFile));
  assert.equal(
    JSON.parse(fs.readFileSync(attemptFile(base, 0), 'utf8')).jobId,
    '17',
    'the record still names the attempt holding the lock',
  );
  marker('node-a', '17', '2026-01-01T00:00:00Z');
  assert.equal(start('node-b', '30', false).length, 1);
  // a lock from another host than the last attempt's, or older than that attempt: not ours to remove
  marker('node-a', '17', '2026-01-01T00:00:00Z');
  writeLock('node-c', '2026-01-01T00:00:05Z');
  assert.match(start('node-b', '17').join('\n'), /left in place/);
  marker('node-a', '17', '2026-01-01T00:00:00Z');
  writeLock('node-a', '2025-12-31T00:00:00Z');
  assert.match(start('node-b', '17').join('\n'), /left in place/);
  // the same host: left to the lock itself (it takes over a dead pid's lock)
  marker('node-b', '17', '2026-01-01T00:00:00Z');
  writeLock('node-b', '2026-01-01T00:00:05Z');
  assert.deepEqual(start('node-b', '17'), []);
  assert.ok(fs.existsSync(lockFile));
});
