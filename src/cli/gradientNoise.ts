/**
 * npm run gradient-noise -- <experiment> [--profile quick|smoke] [--seeds 0,1,2] [--batches 32]
 *
 * Measures σ_g, the per-weight spread of the mini-batch gradient of the experiment's binary kernels at
 * initialisation (src/experiments/gradientNoise.ts), per seed and as the mean over the seeds, and prints it beside
 * the value its sizing records (`Sizing.gradientNoise` in src/experiments/catalog.ts), which places τ against the
 * noise of m. Nothing is written: a new measurement goes into the catalog by hand, with the seeds and batches used.
 */
import { initBackend } from '../backend';
import { measureGradientNoise } from '../experiments/gradientNoise';
import { getExperiment, profileConfig } from '../experiments/registry';
import { fail, parseArgs, parseEnumOption, parseIntegerOption, parseListOption } from './args';

const USAGE = 'usage: npm run gradient-noise -- <experiment> [--profile quick|smoke] [--seeds 0,1,2] [--batches 32]';

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2), { flags: ['help'], values: ['profile', 'seeds', 'batches'] });
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
  if (args.flags.has('help')) return console.log(USAGE);
  if (args.positional.length !== 1) fail(USAGE);
  const name = args.positional[0];
  let entry;
  try {
    entry = getExperiment(name);
  } catch (e) {
    fail((e as Error).message);
  }
  const profile = parseEnumOption('profile', args.values.get('profile')?.[0] ?? 'quick', ['quick', 'smoke'] as const);
  const seeds = parseListOption(
    'seeds',
    args.values.get('seeds')?.[0] ?? '0,1,2',
    (s) => parseIntegerOption('seeds', s),
    'seeds',
  );
  const batches = parseIntegerOption('batches', args.values.get('batches')?.[0] ?? '32', 100_000, 2);
  await initBackend({});
  const values: number[] = [];
  for (const seed of seeds) {
    const r = await measureGradientNoise(profileConfig(name, profile, seed), batches);
    values.push(r.sigmaG);
    console.log(
      `${name}/${profile} seed ${seed}: σ_g ${r.sigmaG.toExponential(3)} (rms mean gradient ${r.meanG.toExponential(3)}; ${r.weights} binary weights, ${batches} batches of ${r.batchSize})`,
    );
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const recorded = entry[profile].gradientNoise;
  console.log(
    `mean σ_g over seeds ${seeds.join(',')}: ${mean.toExponential(3)}; recorded in the catalog: ${recorded ? `${recorded.sigmaG.toExponential(3)} (seeds ${recorded.seeds.join(',')}, ${recorded.batches} batches)` : 'none'}`,
  );
}

main().catch((e) => fail((e as Error).message, 1));
