/**
 * npm run experiment -- <name> [--profile quick|paper|smoke] [--seed N] [--resume | --repair | --force] [--set key=value]…
 * npm run experiment -- --list
 *
 * Runs one experiment headless and writes its results (see src/experiments/run.ts).
 */
import { experimentNames } from '../experiments/registry';
import { listExperiments } from './estimates';
import { resolveConfig, runExperiment } from '../experiments/run';
import { resultsRoot } from '../results';
import { checkWritableDir, describeFsError } from '../util/fs';
import { DEFAULT_PROFILE } from '../util/env';
import { canonicalOverridesFor } from '../experiments/overrides';
import { fail, MAX_SEED, parseArgs, parseIntegerOption } from './args';

async function list(profile?: string) {
  try {
    await listExperiments(profile);
  } catch (e) {
    fail((e as Error).message, 1);
  }
}

const USAGE = [
  'usage: npm run experiment -- <name> [--profile quick|paper|smoke] [--seed N] [--resume | --repair | --force] [--set key=value]…',
  '       npm run experiment -- --list [--profile quick|paper|smoke]',
  "  --seed N       an integer 0..4294967295 (default: the profile's first seed)",
  '  --resume       continue an interrupted run from its checkpoint; first rewrites from it every file that differs (as --repair)',
  '  --repair       rewrite config.json, history.json, history.csv and final/ from the checkpoint where they differ, saying which; trains nothing',
  '  --force        train again; the previous results are replaced once the new run has written its first checkpoint (a --force',
  '                 stopped before that is rolled back by the next command that writes the folder)',
  '  --set k=v      override a profile setting (repeatable); overridden configs are written to their own folder',
];

/** A readable message for a file-system error, naming the results folder. */
function fsMessage(e: unknown, root: string): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code && ['EROFS', 'EACCES', 'EPERM', 'ENOENT', 'ENOTDIR', 'ENOSPC', 'EDQUOT'].includes(code)) {
    return `${describeFsError(e)} (results folder: ${root})`;
  }
  return (e as Error).message;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2), {
      flags: ['list', 'resume', 'repair', 'force', 'help'],
      values: ['profile', 'seed', 'set'],
      repeatable: ['set'],
    });
  } catch (e) {
    fail(`${(e as Error).message} (--help for usage)`);
  }
  if (args.flags.has('help') || (args.positional.length === 0 && !args.flags.has('list'))) {
    const out = args.flags.has('help') ? console.log : console.error;
    for (const l of USAGE) out(l);
    out(`experiments: ${experimentNames().join(', ')}`);
    if (!args.flags.has('help')) process.exit(2);
    return;
  }
  if (args.flags.has('list')) return list(args.values.get('profile')?.[0]);
  if (args.positional.length > 1) fail(`one experiment at a time; got ${args.positional.join(', ')}`);
  if (args.flags.has('resume') && args.flags.has('force'))
    fail('--resume and --force exclude each other: --resume continues the stored run, --force replaces it');
  if (args.flags.has('repair') && (args.flags.has('resume') || args.flags.has('force'))) {
    fail(
      `--repair and --${args.flags.has('resume') ? 'resume' : 'force'} exclude each other: --repair rewrites the stored run's files from its checkpoint and trains nothing`,
    );
  }
  const name = args.positional[0];
  const profile = args.values.get('profile')?.[0] ?? DEFAULT_PROFILE;
  const seedRaw = args.values.get('seed')?.[0];
  let seed: number | undefined;
  try {
    seed = seedRaw === undefined ? undefined : parseIntegerOption('seed', seedRaw, MAX_SEED);
  } catch (e) {
    fail((e as Error).message);
  }
  let set: string[] = [];
  try {
    // one spelling per setting, so that equal values name the same run folder (src/experiments/overrides.ts)
    set = canonicalOverridesFor(name, profile, args.values.get('set') ?? []);
  } catch (e) {
    fail((e as Error).message);
  }
  try {
    // Validate everything before touching the disk.
    const c = resolveConfig(name, profile, seed, set);
    console.log(`resolved config: ${JSON.stringify(c)}`);
  } catch (e) {
    fail((e as Error).message);
  }
  const root = resultsRoot();
  const unwritable = checkWritableDir(root);
  if (unwritable) fail(`cannot write results: ${unwritable}`);
  try {
    const r = await runExperiment({
      experiment: name,
      profile,
      seed,
      set,
      resume: args.flags.has('resume'),
      force: args.flags.has('force'),
      repair: args.flags.has('repair'),
    });
    const last = r.history[r.history.length - 1];
    const what = `${r.config.experiment}/${r.config.profile}/seed-${r.config.seed}`;
    const fixed = r.repaired?.length ? `; rewrote ${r.repaired.length} file(s) from the checkpoint` : '';
    if (!last || r.history.length < r.config.epochs) {
      console.log(
        `${what}: interrupted after epoch ${r.history.length} of ${r.config.epochs}, no final numbers yet${fixed}; --resume continues it. Results in ${r.dir}`,
      );
    } else {
      console.log(
        `done: ${what} final train acc ${(last.accuracy * 100).toFixed(2)}% val acc ${(last.valAccuracy * 100).toFixed(2)}% ` +
          `(${r.reused ? 'reused' : `${r.wallSeconds.toFixed(0)} s`}, ${r.backend}${fixed}); results in ${r.dir}`,
      );
    }
  } catch (e) {
    fail(fsMessage(e, root), 1);
  }
}

main().then(
  () => process.exit(0),
  (e) => fail((e as Error).stack ?? String(e), 1),
);
