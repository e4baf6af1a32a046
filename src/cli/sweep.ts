/**
 * npm run sweep -- --profile paper [--only name,…] [--seeds 0,1,2] [--set key=value]… --slurm [--partition P]
 *                  [--gpus-per-task N] [--cpus-per-task N] [--time HH:MM:SS] [--max-running K] [--backend tensorflow]
 *                  [--sbatch-arg=--account=proj]… [--id ID] [--dry-run] [--no-estimate]
 * npm run sweep -- status <id> [--json]
 * npm run sweep -- submit <id>
 *
 * Every experiment × seed of a profile as the tasks of one Slurm array job (src/sweep): writes
 * sweeps/<id>/{tasks.tsv,job.sbatch,sweep.json}, prints the sbatch line and submits it (not with --dry-run).
 * The plan shows each task's estimated time on this machine, from probes of its shape (src/experiments/estimate.ts,
 * cached under the results root; --no-estimate skips them).
 * `status` prints each task's state from its results folder, with Slurm's state beside it.
 * Folders: --sweeps-dir or BNN_SWEEPS_DIR (default sweeps/), --results or BNN_RESULTS_DIR (default results/);
 * both must be on the cluster's shared file system, as must this checkout.
 */
import * as path from 'path';
import * as fs from 'fs';
import { resultsRoot } from '../results/paths';
import { parseSeeds, parseSlurmTime, parseTasksTsv, shQuote, type SlurmOptions, type SweepSpec } from '../sweep/sbatch';
import type { SweepTask } from '../sweep/plan';
import {
  fail,
  MAX_SEED,
  parseArgs,
  parseEnumOption,
  parseIntegerOption,
  parseListOption,
  type ParsedArgs,
} from './args';
import { PROFILES } from '../experiments/catalog';
import { envDataDir } from '../util/env';

const USAGE = [
  'usage: npm run sweep -- --profile paper|quick|smoke [--only name,…] [--seeds 0,1,2] [--set key=value]… --slurm',
  '         [--partition P] [--gpus-per-task N] [--cpus-per-task N] [--time HH:MM:SS] [--max-running K]',
  '         [--backend tensorflow|wasm|cpu] [--sbatch-arg=--account=proj]… [--id ID] [--results DIR] [--sweeps-dir DIR] [--dry-run]',
  '         [--no-estimate]   (skip timing each task from probes of its shape on this machine)',
  '       npm run sweep -- status <id> [--json]',
  '       npm run sweep -- submit <id>',
].join('\n');

/** Runs `f`, exiting with its error message and the usage (non-zero, before anything is written). */
function checked<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
}

/** The parser spec of the sweep command line. */
const SPEC = {
  flags: ['slurm', 'dry-run', 'json', 'help', 'no-estimate'],
  values: [
    'profile',
    'only',
    'seeds',
    'set',
    'partition',
    'gpus-per-task',
    'cpus-per-task',
    'time',
    'max-running',
    'backend',
    'sbatch-arg',
    'id',
    'results',
    'sweeps-dir',
  ],
  repeatable: ['set', 'sbatch-arg'],
};

/** What `npm run sweep -- --profile … --slurm …` makes a sweep with (every option checked). */
export interface SweepCreateArgs {
  profile: string;
  only?: string[];
  seeds?: number[];
  set: string[];
  backend?: 'tensorflow' | 'wasm' | 'cpu';
  id?: string;
  results?: string;
  sweepsDir?: string;
  slurm: SlurmOptions;
  dryRun: boolean;
  estimate: boolean;
}

/**
 * Checks the options that make a sweep, each by its rule (src/cli/args.ts; --time by Slurm's formats, --seeds as
 * 0,1,2 or 0-2), before anything is written; throws `--<option> <value>: …` naming what is allowed.
 */
export function parseSweepCreateArgs(p: ParsedArgs): SweepCreateArgs {
  const one = (k: string) => p.values.get(k)?.[0];
  const posInt = (k: string) =>
    one(k) === undefined ? undefined : parseIntegerOption(k, one(k)!, Number.MAX_SAFE_INTEGER, 1);
  if (one('profile') === undefined) throw new Error('--profile is required (paper, quick or smoke)');
  const profile = parseEnumOption('profile', one('profile')!, PROFILES);
  if (!p.flags.has('slurm'))
    throw new Error('pass --slurm: sweeps run as Slurm array jobs (the only executor for now)');
  for (const k of ['id', 'results', 'sweeps-dir', 'partition'])
    if (one(k) === '') throw new Error(`--${k} "": needs a value`);
  const time = one('time');
  if (time !== undefined) parseSlurmTime(time);
  return {
    profile,
    only: one('only') === undefined ? undefined : parseListOption('only', one('only')!, (s) => s, 'experiment names'),
    seeds: one('seeds') === undefined ? undefined : parseSeeds(one('seeds')!, MAX_SEED),
    set: p.values.get('set') ?? [],
    backend:
      one('backend') === undefined
        ? undefined
        : parseEnumOption('backend', one('backend')!, ['tensorflow', 'wasm', 'cpu'] as const),
    id: one('id'),
    results: one('results'),
    sweepsDir: one('sweeps-dir'),
    slurm: {
      partition: one('partition'),
      gpusPerTask: posInt('gpus-per-task'),
      cpusPerTask: posInt('cpus-per-task'),
      time,
      maxRunning: posInt('max-running'),
      extra: p.values.get('sbatch-arg') ?? [],
    },
    dryRun: p.flags.has('dry-run'),
    estimate: !p.flags.has('no-estimate'),
  };
}

/** parseArgs with the sweep's spec, then parseSweepCreateArgs (for tests and for main). */
export function parseSweepArgv(argv: string[]): SweepCreateArgs {
  return parseSweepCreateArgs(parseArgs(argv, SPEC));
}

async function main(): Promise<void> {
  let args: ParsedArgs;
  try {
    args = parseArgs(process.argv.slice(2), SPEC);
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
  const one = (k: string) => args.values.get(k)?.[args.values.get(k)!.length - 1];
  if (args.flags.has('help')) return void console.log(USAGE);
  const sweepsDir = one('sweeps-dir');
  const [cmd, ...rest] = args.positional;

  if (cmd === 'task-start') return taskStartCommand(rest);
  if (cmd === 'status' || cmd === 'submit') return statusOrSubmit(cmd, rest, sweepsDir, args.flags.has('json'));
  if (cmd !== undefined) fail(`unknown command ${cmd} (status, submit, or options to make a sweep)\n${USAGE}`);
  return createCommand(args);
}

/** `task-start <sweep folder> <index>`: run by job.sbatch before each task's experiment (light: no tfjs). */
async function taskStartCommand(rest: string[]): Promise<void> {
  if (rest.length !== 2) fail('task-start takes the sweep folder and the task index');
  const { taskStart } = await import('../sweep/taskstart');
  const tsv = path.join(rest[0], 'tasks.tsv');
  const t = parseTasksTsv(fs.readFileSync(tsv, 'utf8'), tsv)[checked(() => parseIntegerOption('task index', rest[1]))];
  if (!t) fail(`task-start: no task ${rest[1]} in ${tsv}`);
  for (const line of taskStart({ sweepDir: rest[0], index: t.index, runDir: t.dir })) console.log(`[sweep] ${line}`);
}

/** `status <id>` (each task's state, Slurm's beside it; `json`: as JSON) or `submit <id>` ((re)submits the array job). */
async function statusOrSubmit(
  cmd: 'status' | 'submit',
  rest: string[],
  sweepsDir: string | undefined,
  json: boolean,
): Promise<void> {
  const { formatStatus, loadSweep, submitSweep, sweepStatus } = await import('../sweep');
  if (rest.length !== 1) fail(`${cmd} takes one sweep id\n${USAGE}`);
  let sweep;
  try {
    sweep = loadSweep(rest[0], sweepsDir);
  } catch (e) {
    fail((e as Error).message);
  }
  if (cmd === 'submit') {
    try {
      const id = submitSweep(sweep.dir);
      console.log(
        `submitted ${sweep.meta.tasks} task(s) as Slurm job ${id}; npm run sweep -- status ${shQuote(sweep.meta.id)}`,
      );
    } catch (e) {
      fail((e as Error).message, 1);
    }
    return;
  }
  const s = sweepStatus(sweep);
  if (json) {
    console.log(
      JSON.stringify(
        {
          id: sweep.meta.id,
          jobId: s.jobId,
          slurmSource: s.slurm?.source ?? null,
          tasks: s.tasks.map((t) => ({
            ...t.task,
            state: t.state,
            text: t.text,
            epochsDone: t.epochsDone,
            epochs: t.epochs,
            slurm: t.slurm,
            log: t.log,
          })),
        },
        null,
        2,
      ),
    );
  } else console.log(formatStatus(s));
}

/** Makes a sweep (tasks.tsv, job.sbatch), prints its tasks with their estimated times, and submits it unless --dry-run. */
async function createCommand(args: ParsedArgs): Promise<void> {
  const { createSweep, submitSweep, taskCommand } = await import('../sweep');
  // Every option checked before anything is written.
  const o = checked(() => parseSweepCreateArgs(args));
  let created;
  try {
    created = createSweep({
      profile: o.profile,
      only: o.only,
      seeds: o.seeds,
      set: o.set,
      resultsRoot: resultsRoot(o.results),
      dataDir: envDataDir(),
      backend: o.backend,
      id: o.id,
      sweepsDir: o.sweepsDir,
      nodeBinDir: path.dirname(process.execPath),
      slurm: o.slurm,
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const { spec, tasks, notes, dir, sbatchLine } = created;
  for (const n of notes) console.log(`note: ${n}`);
  const { est, estText } = o.estimate ? await taskEstimates(tasks, spec) : { est: null, estText: [] };
  const fmt = est ? (await import('../experiments/estimate')).formatEstimate : null;
  const rows = [
    ['task', 'experiment', 'seed', ...(est ? ['est. time'] : []), 'command'],
    ...tasks.map((t, i) => [
      String(t.index),
      t.experiment,
      String(t.seed),
      ...(est && fmt ? [fmt(est.seconds[i])] : []),
      taskCommand(spec, t),
    ]),
  ];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(w[i]))).join('  '));
  for (const l of estText) console.log(l);
  console.log(
    `\nsweep ${spec.id}: ${tasks.length} task(s) in ${dir} (tasks.tsv, job.sbatch); results in ${spec.resultsRoot}`,
  );
  console.log(sbatchLine);
  if (o.dryRun) {
    console.log(
      `dry run: not submitted (submit later with the line above, or npm run sweep -- submit ${shQuote(spec.id)})`,
    );
    return;
  }
  try {
    const id = submitSweep(dir);
    console.log(`submitted as Slurm job ${id}; follow it with: npm run sweep -- status ${shQuote(spec.id)}`);
  } catch (e) {
    fail(`${(e as Error).message} (the sweep is written; submit it with: ${sbatchLine})`, 1);
  }
}

type Estimates = Awaited<ReturnType<typeof import('../experiments/estimate').estimateConfigs>>;

/**
 * Time per task from probes of each task's shape on this machine (cached under the results root), and the lines that
 * say it: the total, the longest task, the wall time at --max-running, the probes used; one line of why when it fails.
 */
async function taskEstimates(
  tasks: SweepTask[],
  spec: SweepSpec,
): Promise<{ est: Estimates | null; estText: string[] }> {
  const { describeEstimates, estimateConfigs, formatEstimate } = await import('../experiments/estimate');
  const { resolveConfig } = await import('../experiments/run');
  try {
    const est = await estimateConfigs(
      tasks.map((t) => resolveConfig(t.experiment, t.profile, t.seed, spec.set)),
      { root: spec.resultsRoot, log: (l) => console.log(l) },
    );
    const total = est.seconds.reduce((a, b) => a + b, 0);
    const estText = [
      `estimated task time on this machine: ${formatEstimate(total)} in all, the longest task ${formatEstimate(Math.max(...est.seconds))}` +
        `${spec.slurm.maxRunning ? `; at most ${spec.slurm.maxRunning} at a time: at least ${formatEstimate(Math.max(Math.max(...est.seconds), total / spec.slurm.maxRunning))} of wall time` : ''}` +
        (spec.slurm.time ? `; --time ${spec.slurm.time} per task` : ''),
      ...describeEstimates(est),
    ];
    return { est, estText };
  } catch (e) {
    return {
      est: null,
      estText: [`no time estimate: ${(e as Error).message.split('\n')[0]} (--no-estimate skips it)`],
    };
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e) => fail((e as Error).stack ?? String(e), 1),
  );
}
