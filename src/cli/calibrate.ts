/**
 * npm run calibrate -- [--profile quick|smoke] [--jobs N] [--gamma-factors 0.316,1,3.16] [--tau-factors 0,1,10]
 *                      [--holdout N] [--seed N] [--no-write]
 *
 * The §5.1 sensitivity study at the profile's scale (src/experiments/calibrate.ts): trains Bop over a γ × τ grid of
 * multipliers of the derived values, validated on images held out of the training set, stores the grid in
 * results/calibration/<profile>/grid.json and writes the best point's factors to src/experiments/calibration.json,
 * which the registry applies to the profile's calibrated experiments. Finished grid points are reused.
 */
import { collectGrid, DEFAULT_PLAN, planJobs, saveGrid, writeCalibration, CalibrationPlan } from '../experiments/calibrate';
import { defaultJobs, runJobs } from '../experiments/parallel';
import { meanFlipRatio } from '../experiments/verdict';
import { fail, parseArgs, parseIntegerOption } from './args';

const USAGE =
  'usage: npm run calibrate -- [--profile quick|smoke] [--jobs N] [--gamma-factors a,b,…] [--tau-factors a,b,…] [--holdout N] [--seed N] [--no-write]';

function factors(raw: string | undefined, def: number[], what: string): number[] {
  if (raw === undefined) return def;
  const xs = raw.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !Number.isFinite(x) || x < 0)) fail(`--${what} ${raw}: expected comma-separated numbers ≥ 0, e.g. 0.316,1,3.16`);
  return xs;
}

async function main() {
  let args!: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2), { flags: ['no-write', 'help'], values: ['profile', 'jobs', 'gamma-factors', 'tau-factors', 'holdout', 'seed'] });
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
  if (args.flags.has('help')) return console.log(USAGE);
  const profile = args.values.get('profile')?.[0] ?? 'quick';
  if (profile === 'paper') fail('calibrate: the paper profile uses the paper\'s own γ and τ; calibrate quick or smoke');
  const int = (k: string, d: number) => (args.values.has(k) ? parseIntegerOption(k, args.values.get(k)![0]) : d);
  const plan: CalibrationPlan = {
    ...DEFAULT_PLAN,
    profile,
    seed: int('seed', DEFAULT_PLAN.seed),
    holdoutPerClass: int('holdout', profile === 'smoke' ? 5 : DEFAULT_PLAN.holdoutPerClass),
    gammaFactors: factors(args.values.get('gamma-factors')?.[0], DEFAULT_PLAN.gammaFactors, 'gamma-factors'),
    tauFactors: factors(args.values.get('tau-factors')?.[0], DEFAULT_PLAN.tauFactors, 'tau-factors'),
  };
  if (plan.gammaFactors.some((g) => g <= 0)) fail('--gamma-factors must be > 0');
  const jobs = planJobs(plan);
  const t0 = Date.now();
  console.log(`calibration (${profile}): ${plan.experiment} seed ${plan.seed}, ${jobs.length} grid points, ${plan.holdoutPerClass} held-out images per class`);
  const outcomes = await runJobs(jobs, { jobs: int('jobs', defaultJobs()) });
  const failed = outcomes.filter((o) => !o.ok);
  for (const f of failed) console.error(`error: grid point ${f.job.set?.join(' ')}: ${f.error}`);
  const grid = collectGrid(plan);
  const file = saveGrid(grid);
  const pct = (x: number) => `${(x * 100).toFixed(2)}`;
  console.log(`\nγ factor | τ factor | γ        | τ        | held-out acc % (last 2 epochs) | mean flips/step`);
  for (const p of grid.points) {
    const f = meanFlipRatio(p);
    console.log(`${String(p.gammaFactor).padEnd(8)} | ${String(p.tauFactor).padEnd(8)} | ${p.gamma.toExponential(2)} | ${p.tau.toExponential(2)} | ${pct(p.score).padEnd(30)} | ${f.toExponential(2)}${p.complete ? '' : ' (unfinished)'}`);
  }
  console.log(`grid: ${file}`);
  if (!args.flags.has('no-write')) {
    const cal = writeCalibration(grid);
    console.log(`chosen: γ ×${cal.gammaFactor}, τ ×${cal.tauFactor} → src/experiments/calibration.json (${profile})`);
  }
  console.log(`done in ${((Date.now() - t0) / 60000).toFixed(1)} min`);
  if (failed.length) process.exitCode = 1;
}

main().catch((e) => fail((e as Error).message, 1));
