/**
 * The verdicts a notebook shows: the catalog's claims judged as one family (./verdict `profileVerdicts`, Holm over
 * the profile, as `npm start` does) with this notebook's runs in place of the stored results of the same experiments.
 */
import { resultsRoot } from '../../results';
import { SECTIONS, sectionOf, type Claim } from '../catalog';
import { readGrid } from '../calibrate';
import { getExperiment } from '../registry';
import { collectResults, finalsFromRuns, verdictMarkdown } from '../report';
import { profileVerdicts } from '../profileVerdicts';
import type { FinalValues, Verdict } from '../verdict';
import type { SectionRun } from './section';

/** Final train / validation / test values (and the raw test score) per seed of a notebook's runs, by experiment (and the one it reuses). */
export function finalsOf(runs: SectionRun[]): FinalValues {
  return finalsFromRuns(
    runs.flatMap((r) => {
      const same = getExperiment(r.experiment).sameAs;
      return r.results.flatMap((x) =>
        [r.experiment, ...(same ? [same] : [])].map((experiment) => ({
          experiment,
          seed: x.config.seed,
          history: x.history,
        })),
      );
    }),
  );
}

/**
 * The verdicts of `claims` with this notebook's runs in place of the stored results of the same experiments: every
 * claim of the catalog is judged as one family (Holm over the profile, ./verdict `profileVerdicts`, as `npm start`
 * does), the regimes from the runs' configs, the §5.1 claims on the stored grid; the claims asked for are returned.
 */
export function notebookVerdicts(
  claims: Claim[],
  runs: SectionRun[],
  profile: string,
  root = resultsRoot(),
): Verdict[] {
  const stored = collectResults(profile, root);
  const finals = { ...stored.finals, ...finalsOf(runs) };
  const configs = { ...stored.configs };
  for (const r of runs) {
    configs[r.experiment] = r.results.map((x) => x.config);
    const same = getExperiment(r.experiment).sameAs;
    if (same) configs[same] = configs[r.experiment];
  }
  const grid = readGrid(profile, root);
  const all = SECTIONS.flatMap((s) => s.claims);
  const wanted = new Set(claims.map((c) => c.id));
  return profileVerdicts(all, finals, {
    grid: grid ? grid.points.filter((p) => p.complete) : [],
    configs,
    profile,
  }).filter((v) => wanted.has(v.claim.id));
}

/** The verdicts of a section's claims on this notebook's runs (`notebookVerdicts`), as a Markdown table with its notes. */
export function sectionVerdictMarkdown(sectionId: string, runs: SectionRun[], profile: string): string {
  const s = sectionOf(sectionId);
  const verdicts = notebookVerdicts(s.claims, runs, profile);
  const seeds = [...new Set(runs.map((r) => r.results.length))].sort((a, b) => a - b);
  return (
    verdictMarkdown(verdicts, profile) +
    `\n\n${seeds.length ? `${seeds.join(' to ')} seed(s) per run. ` : ''}The test accuracy is the whole test split, scored once after the last epoch with BN statistics settled on the training set.` +
    (profile === 'paper'
      ? ''
      : ` These are verdicts at the ${profile} profile's scale, not at the paper's: they say whether the effect shows up in a short, narrow run.`)
  );
}

/** Every claim of every section, judged on the summary notebook's runs (and the stored γ × τ grid for §5.1), as one family. */
export function summaryVerdictMarkdown(runs: SectionRun[], profile: string): string {
  const verdicts = notebookVerdicts(
    SECTIONS.flatMap((s) => s.claims),
    runs,
    profile,
  );
  const count = (w: string) => verdicts.filter((v) => v.verdict === w).length;
  return (
    verdictMarkdown(verdicts, profile) +
    `\n\n${count('consistent')} consistent, ${count('contradicted')} contradicted, ${count('inconclusive')} inconclusive, ${count('not testable at this scale')} not testable at this scale, ${count('not run')} not run (${profile} profile).`
  );
}
