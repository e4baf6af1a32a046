/**
 * `npm run experiment -- --list`: every experiment × profile with its size and the estimated time of one seed on
 * this machine, from probes of each run's own shape (src/experiments/estimate.ts), followed by the probes used.
 */
import * as path from 'path';
import { describeEstimates, estimateConfigs, formatEstimate } from '../experiments/estimate';
import { experimentNames, getExperiment, PROFILES, profileConfig } from '../experiments/registry';
import { runSizes } from '../experiments/estimate';
import { describeBackend, initBackend } from '../backend';
import { resultsRoot } from '../results/paths';
import { repoRoot } from '../util/paths';

/** Aligns the columns of a table of strings (first row: the header). */
export function alignRows(rows: string[][]): string[] {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(w[i]))).join('  '));
}

/** A path relative to the project when inside it. */
function rel(f: string): string {
  const r = path.relative(repoRoot(), f);
  return r.startsWith('..') || path.isAbsolute(r) ? f : r;
}

/**
 * Prints the experiment list with estimates (probing the shapes not cached yet, a few seconds each), for every
 * profile or only `profile`.
 */
export async function listExperiments(profile?: string, log: (line: string) => void = console.log): Promise<void> {
  if (profile !== undefined && !(PROFILES as readonly string[]).includes(profile))
    throw new Error(`--profile ${profile}: allowed: ${PROFILES.join(', ')}`);
  const profiles = profile === undefined ? PROFILES : PROFILES.filter((p) => p === profile);
  const entries = experimentNames().flatMap((name) =>
    profiles.map((p) => ({ name, profile: p, config: profileConfig(name, p, 0) })),
  );
  await initBackend();
  log(`${describeBackend()}; estimating each run from a probe of its own shape (model, width, batch, image size)…`);
  const est = await estimateConfigs(
    entries.map((e) => e.config),
    { root: resultsRoot(), log },
  );
  const rows: string[][] = [
    ['experiment', 'section', 'profile', 'epochs', 'width', 'batch', 'train imgs', 'seeds', 'est. time/seed', 'probe'],
  ];
  entries.forEach(({ name, profile, config: c }, i) => {
    const e = getExperiment(name);
    rows.push([
      name,
      e.section,
      profile,
      String(c.epochs),
      String(c.width),
      String(c.batchSize),
      String(runSizes(c).nTrain),
      e.seeds[profile as keyof typeof e.seeds].join(','),
      e.sameAs ? `= ${e.sameAs}` : formatEstimate(est.seconds[i]),
      est.shapes[i],
    ]);
  });
  for (const l of alignRows(rows)) log(l);
  log('');
  for (const l of describeEstimates(est, rel)) log(l);
}
