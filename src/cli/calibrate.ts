/**
 * npm run calibrate -- [--profile quick|smoke] [--experiments cifar10-bop,cifar10-adam-baseline] [--jobs N]
 *                      [--seeds 0,1] [--holdout N] [--no-write]
 *
 * Equal tuning (src/experiments/calibrate.ts): for every calibrated experiment, its grid of multipliers of the
 * derived values (Bop: γ × τ, the paper's §5.1 study at this scale; the latent-weight baseline: the learning rate),
 * the same number of points and seeds for each, validated on images held out of the training set. Stores each grid
 * in results/calibration/<profile>/<experiment>-grid.json and writes the factors the selection rule chooses to
 * calibration/factors.json (src/experiments/calibrationFile.ts), which the registry applies. Finished grid runs are reused.
 */
import * as path from 'path';
import {
  collectGrid,
  planFor,
  planJobs,
  PLANS,
  saveGrid,
  writeCalibration,
  CalibrationPlan,
  GridResult,
} from '../experiments/calibrate';
import { CALIBRATION_FILE, type CalibrationFactors } from '../experiments/calibrationFile';
import { defaultJobs, runJobs } from '../experiments/parallel';
import { meanFlipRatio } from '../experiments/sensitivity';
import { fail, parseArgs, parseIntegerOption } from './args';
import { DEFAULT_PROFILE } from '../util/env';

const USAGE =
  'usage: npm run calibrate -- [--profile quick|smoke] [--experiments a,b] [--jobs N] [--seeds 0,1] [--holdout N] [--no-write]';

function seedList(raw: string): number[] {
  const xs = raw.split(',').map((s) => s.trim());
  if (!xs.length || xs.some((x) => !/^\d+$/.test(x)))
    fail(`--seeds ${raw}: expected comma-separated integers ≥ 0, e.g. 0,1`);
  return xs.map(Number);
}

const fx = (f: CalibrationFactors) =>
  Object.entries(f)
    .map(([k, v]) => `${k === 'gamma' ? 'γ' : k === 'tau' ? 'τ' : k} ×${v}`)
    .join(', ');

function printGrid(grid: GridResult): void {
  const pct = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(2) : '–');
  console.log(
    `\n${grid.plan.experiment}: factors | values | held-out % per seed (settled) | mean | flips/step${grid.plan.exclude?.length ? ' | excluded' : ''}`,
  );
  for (const p of grid.points) {
    const vals = Object.entries(p.values)
      .map(([k, v]) => `${k} ${v!.toExponential(2)}`)
      .join(', ');
    const seeds = p.seeds.map((s) => `${s.seed}: ${pct(s.score)}`).join(' ');
    console.log(
      `${fx(p.factors).padEnd(18)} | ${vals.padEnd(28)} | ${seeds.padEnd(22)} | ${pct(p.score).padEnd(5)} | ${meanFlipRatio(p).toExponential(2)}${p.excluded ? ' | excluded' : ''}${p.complete ? '' : ' (unfinished)'}`,
    );
  }
  console.log(`rule: ${grid.rule}`);
  for (const x of grid.plan.exclude ?? []) console.log(`excluded: ${x.factor} ×${x.equals}: ${x.why}`);
  if (grid.chosen) console.log(`chosen: ${fx(grid.chosen.factors)} (${pct(grid.chosen.score)} %)`);
  if (grid.withoutExclusions)
    console.log(
      `without the exclusion the rule would choose ${fx(grid.withoutExclusions.factors)} (${pct(grid.withoutExclusions.score)} %)`,
    );
}

async function main() {
  let args!: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2), {
      flags: ['no-write', 'help'],
      values: ['profile', 'jobs', 'experiments', 'holdout', 'seeds'],
    });
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
  if (args.flags.has('help')) return console.log(USAGE);
  const profile = args.values.get('profile')?.[0] ?? DEFAULT_PROFILE;
  if (profile !== 'quick' && profile !== 'smoke')
    fail(`--profile ${profile}: calibrate quick or smoke (the paper profile uses the paper's own settings)`);
  const int = (k: string, d: number) => (args.values.has(k) ? parseIntegerOption(k, args.values.get(k)![0]) : d);
  const names =
    args.values
      .get('experiments')?.[0]
      ?.split(',')
      .map((s) => s.trim()) ?? PLANS.map((p) => p.experiment);
  const plans: CalibrationPlan[] = names.map((n) => {
    const p = planFor(n, profile);
    return {
      ...p,
      seeds: args.values.has('seeds') ? seedList(args.values.get('seeds')![0]) : p.seeds,
      holdoutPerClass: int('holdout', p.holdoutPerClass),
    };
  });
  const jobs = plans.flatMap(planJobs);
  const t0 = Date.now();
  console.log(
    `calibration (${profile}): ${plans.map((p) => `${p.experiment} ${planJobs(p).length} runs (seeds ${p.seeds.join(', ')})`).join('; ')}; ${plans[0]?.holdoutPerClass} held-out images per class`,
  );
  const outcomes = await runJobs(jobs, { jobs: int('jobs', defaultJobs()) });
  const failed = outcomes.filter((o) => !o.ok);
  for (const f of failed)
    console.error(`error: ${f.job.experiment} seed ${f.job.seed} ${f.job.set?.join(' ')}: ${f.error}`);
  for (const plan of plans) {
    const grid = collectGrid(plan);
    const file = saveGrid(grid);
    printGrid(grid);
    console.log(`grid: ${file}`);
    if (!args.flags.has('no-write')) {
      if (!grid.chosen) {
        console.error(`${plan.experiment}: no grid point finished every seed; nothing written`);
        process.exitCode = 1;
        continue;
      }
      writeCalibration(grid);
      console.log(
        `${plan.experiment}: ${fx(grid.chosen.factors)} → ${path.relative(process.cwd(), CALIBRATION_FILE) || CALIBRATION_FILE} (${profile})`,
      );
    }
  }
  console.log(`done in ${((Date.now() - t0) / 60000).toFixed(1)} min`);
  if (failed.length) process.exitCode = 1;
}

main().catch((e) => fail((e as Error).message, 1));
