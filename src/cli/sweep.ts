/**
 * npm run sweep -- --profile paper [--only name,…] [--seeds 0,1,2] [--set key=value]… --slurm [--partition P]
 *                  [--gpus-per-task N] [--cpus-per-task N] [--time HH:MM:SS] [--max-running K] [--backend tensorflow]
 *                  [--sbatch-arg=--account=proj]… [--id ID] [--dry-run]
 * npm run sweep -- status <id> [--json]
 * npm run sweep -- submit <id>
 *
 * Every experiment × seed of a profile as the tasks of one Slurm array job (src/sweep): writes
 * sweeps/<id>/{tasks.tsv,job.sbatch,sweep.json}, prints the sbatch line and submits it (not with --dry-run).
 * `status` prints each task's state from its results folder, with Slurm's state beside it.
 * Folders: --sweeps-dir or BNN_SWEEPS_DIR (default sweeps/), --results or BNN_RESULTS_DIR (default results/);
 * both must be on the cluster's shared file system, as must this checkout.
 */
import * as path from 'path';
import * as fs from 'fs';
import { resultsRoot } from '../results/paths';
import { parseTasksTsv, shQuote } from '../sweep/sbatch';
import { fail, parseArgs } from './args';

const USAGE = [
  'usage: npm run sweep -- --profile paper|quick|smoke [--only name,…] [--seeds 0,1,2] [--set key=value]… --slurm',
  '         [--partition P] [--gpus-per-task N] [--cpus-per-task N] [--time HH:MM:SS] [--max-running K]',
  '         [--backend tensorflow|wasm|cpu] [--sbatch-arg=--account=proj]… [--id ID] [--results DIR] [--sweeps-dir DIR] [--dry-run]',
  '       npm run sweep -- status <id> [--json]',
  '       npm run sweep -- submit <id>',
].join('\n');

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} ${v}: must be an integer ≥ 1`);
  return n;
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2), {
      flags: ['slurm', 'dry-run', 'json', 'help'],
      values: ['profile', 'only', 'seeds', 'set', 'partition', 'gpus-per-task', 'cpus-per-task', 'time', 'max-running', 'backend', 'sbatch-arg', 'id', 'results', 'sweeps-dir'],
      repeatable: ['set', 'sbatch-arg'],
    });
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
  const one = (k: string) => args.values.get(k)?.[args.values.get(k)!.length - 1];
  if (args.flags.has('help')) return void console.log(USAGE);
  const sweepsDir = one('sweeps-dir');
  const [cmd, ...rest] = args.positional;

  if (cmd === 'task-start') {
    // Run by job.sbatch before each task's experiment (light: no tfjs).
    if (rest.length !== 2) fail('task-start takes the sweep folder and the task index');
    const { taskStart } = await import('../sweep/taskstart');
    const tsv = path.join(rest[0], 'tasks.tsv');
    const t = parseTasksTsv(fs.readFileSync(tsv, 'utf8'), tsv)[Number(rest[1])];
    if (!t) fail(`task-start: no task ${rest[1]} in ${tsv}`);
    for (const line of taskStart({ sweepDir: rest[0], index: t.index, runDir: t.dir })) console.log(`[sweep] ${line}`);
    return;
  }
  const { createSweep, formatStatus, loadSweep, parseSeeds, submitSweep, sweepStatus, taskCommand } = await import('../sweep');

  if (cmd === 'status' || cmd === 'submit') {
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
        console.log(`submitted ${sweep.meta.tasks} task(s) as Slurm job ${id}; npm run sweep -- status ${shQuote(sweep.meta.id)}`);
      } catch (e) {
        fail((e as Error).message, 1);
      }
      return;
    }
    const s = sweepStatus(sweep);
    if (args.flags.has('json')) {
      console.log(JSON.stringify({ id: sweep.meta.id, jobId: s.jobId, slurmSource: s.slurm?.source ?? null, tasks: s.tasks.map((t) => ({ ...t.task, state: t.state, text: t.text, epochsDone: t.epochsDone, epochs: t.epochs, slurm: t.slurm, log: t.log })) }, null, 2));
    } else console.log(formatStatus(s));
    return;
  }
  if (cmd !== undefined) fail(`unknown command ${cmd} (status, submit, or options to make a sweep)\n${USAGE}`);

  const profile = one('profile');
  if (!profile) fail(`--profile is required (paper, quick or smoke)\n${USAGE}`);
  if (!args.flags.has('slurm')) fail('pass --slurm: sweeps run as Slurm array jobs (the only executor for now)');
  let created;
  try {
    created = createSweep({
      profile,
      only: args.values.get('only')?.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean),
      seeds: one('seeds') === undefined ? undefined : parseSeeds(one('seeds')!),
      set: args.values.get('set') ?? [],
      resultsRoot: resultsRoot(one('results')),
      dataDir: process.env.BNN_DATA_DIR || undefined,
      backend: one('backend'),
      id: one('id'),
      sweepsDir,
      nodeBinDir: path.dirname(process.execPath),
      slurm: {
        partition: one('partition'),
        gpusPerTask: int('gpus-per-task', one('gpus-per-task')),
        cpusPerTask: int('cpus-per-task', one('cpus-per-task')),
        time: one('time'),
        maxRunning: int('max-running', one('max-running')),
        extra: args.values.get('sbatch-arg') ?? [],
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const { spec, tasks, notes, dir, sbatchLine } = created;
  for (const n of notes) console.log(`note: ${n}`);
  const rows = [['task', 'experiment', 'seed', 'command'], ...tasks.map((t) => [String(t.index), t.experiment, String(t.seed), taskCommand(spec, t)])];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(w[i]))).join('  '));
  console.log(`\nsweep ${spec.id}: ${tasks.length} task(s) in ${dir} (tasks.tsv, job.sbatch); results in ${spec.resultsRoot}`);
  console.log(sbatchLine);
  if (args.flags.has('dry-run')) {
    console.log(`dry run: not submitted (submit later with the line above, or npm run sweep -- submit ${shQuote(spec.id)})`);
    return;
  }
  try {
    const id = submitSweep(dir);
    console.log(`submitted as Slurm job ${id}; follow it with: npm run sweep -- status ${shQuote(spec.id)}`);
  } catch (e) {
    fail(`${(e as Error).message} (the sweep is written; submit it with: ${sbatchLine})`, 1);
  }
}

main().then(
  () => process.exit(0),
  (e) => fail((e as Error).stack ?? String(e), 1),
);
