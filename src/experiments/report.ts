/**
 * The reproduction's findings, read from stored results: the final metrics per experiment and seed, the configs
 * the runs stored, and a verdict on every claim of the catalog judged as one family (./verdict, ./regime). Used by
 * `npm start`, `npm run figures` (summary.csv / summary.md) and the notebooks, so all three say the same thing.
 */
import { finalMetric, loadRuns, resultsRoot, type RunRecord } from '../results';
import type { History } from '../train/history';
import { Claim, EXPERIMENTS, Metric, SECTIONS, Section } from './catalog';
import type { ExperimentConfig } from './config';
import { readGrid } from './calibrate';
import { flipPhaseLine, flipsByPhase } from './flipPhases';
import { publishedComparisons } from './published';
import type { ConfigsByExperiment } from './regime';
import { getExperiment } from './registry';
import { mean, variance } from '../results/stats';
import { profileVerdicts } from './profileVerdicts';
import { seedsNeeded, TARGET_HALF_WIDTH } from './seedsNeeded';
import { FinalValues, formatP, SeedValues, Verdict } from './verdict';

const METRICS: Metric[] = ['accuracy', 'valAccuracy', 'testAccuracy'];

/**
 * The finished runs of an experiment in a profile, every seed found (an entry that is `sameAs` another reads that
 * one's): the profile's own seeds and any more run with `--seed` (what `seedsNeeded` asks for).
 */
export function finishedRuns(name: string, profile: string, root = resultsRoot()): RunRecord[] {
  const e = getExperiment(name);
  return loadRuns(e.sameAs ?? name, profile, root).filter((r) => r.complete);
}

/** A finished run as the final values need it. */
export interface FinalsRun {
  /** The catalog name the values are filed under. */
  experiment: string;
  seed: number;
  history: History;
}

/**
 * Final train / validation / test accuracy of each run, by experiment and seed, and the test accuracy before BN
 * statistics were recomputed (`testAccuracyRaw`, from the last record's `extra`) where the run stored it.
 */
export function finalsFromRuns(runs: FinalsRun[]): FinalValues {
  const out: FinalValues = {};
  for (const r of runs) {
    const f = (out[r.experiment] ??= {});
    const put = (k: keyof FinalValues[string], v: unknown) => {
      if (typeof v === 'number' && Number.isFinite(v)) (f[k] ??= {} as SeedValues)[r.seed] = v;
    };
    for (const m of METRICS) put(m, finalMetric(r.history, m));
    put('testAccuracyRaw', r.history[r.history.length - 1]?.extra?.testAccuracyRaw);
  }
  return out;
}

/** What the verdicts read from a profile's results: the final values and the stored configs, by experiment. */
export interface ProfileResults {
  finals: FinalValues;
  configs: ConfigsByExperiment;
}

/** The final values and stored configs of every experiment with finished runs in `profile`. */
export function collectResults(profile: string, root = resultsRoot()): ProfileResults {
  const runs: FinalsRun[] = [];
  const configs: ConfigsByExperiment = {};
  for (const e of EXPERIMENTS) {
    const found = finishedRuns(e.name, profile, root);
    if (!found.length) continue;
    runs.push(...found.map((r) => ({ experiment: e.name, seed: r.seed, history: r.history })));
    configs[e.name] = found.map((r) => r.config as unknown as ExperimentConfig);
  }
  return { finals: finalsFromRuns(runs), configs };
}

/** Final values per seed of every experiment with finished runs. */
export function collectFinals(profile: string, root = resultsRoot()): FinalValues {
  return collectResults(profile, root).finals;
}

/**
 * The verdicts of the claims of `sections` (default: every section), each judged within the whole profile's family
 * (the Holm correction runs over every testable claim of the catalog, whichever sections are shown).
 */
export function sectionVerdicts(profile: string, sections: Section[] = SECTIONS, root = resultsRoot()): Verdict[] {
  const { finals, configs } = collectResults(profile, root);
  const grid = readGrid(profile, root);
  const points = grid ? grid.points.filter((p) => p.complete) : [];
  const claims: Claim[] = SECTIONS.flatMap((s) => s.claims);
  for (const c of sections.flatMap((s) => s.claims)) if (!claims.some((x) => x.id === c.id)) claims.push(c);
  const wanted = new Set(sections.flatMap((s) => s.claims.map((c) => c.id)));
  return profileVerdicts(claims, finals, { grid: points, configs, profile }).filter((v) => wanted.has(v.claim.id));
}

export interface FindingRow {
  experiment: string;
  section: string;
  seeds: number;
  /** Means over seeds (fractions; NaN when absent). */
  train: number;
  val: number;
  test: number;
  /** Seed standard deviation of the test accuracy (NaN with fewer than 2 seeds). */
  testStd: number;
  /** Test accuracy before BN statistics were recomputed: mean and seed sd (NaN where the runs did not store it). */
  testRaw: number;
  testRawStd: number;
  published: string;
}

const sdOf = (xs: number[]) => (xs.length > 1 ? Math.sqrt(variance(xs)) : NaN);

/** One row per experiment with finished runs: final accuracies (mean over seeds, seed sd) beside the published numbers. */
export function findingRows(profile: string, root = resultsRoot()): FindingRow[] {
  const finals = collectFinals(profile, root);
  return EXPERIMENTS.filter((e) => finals[e.name]).map((e) => {
    const f = finals[e.name];
    const xs = (k: keyof typeof f) => Object.values(f[k] ?? {});
    const m = (k: keyof typeof f) => (xs(k).length ? mean(xs(k)) : NaN);
    return {
      experiment: e.name,
      section: e.section,
      seeds: Math.max(...METRICS.map((k) => xs(k).length)),
      train: m('accuracy'),
      val: m('valAccuracy'),
      test: m('testAccuracy'),
      testStd: sdOf(xs('testAccuracy')),
      testRaw: m('testAccuracyRaw'),
      testRawStd: sdOf(xs('testAccuracyRaw')),
      published: publishedComparisons(e.name)
        .flatMap((c) =>
          c.reference
            ? [
                `${(c.reference.value * 100).toFixed(2)} ${c.measured === 'accuracy' ? 'train' : 'val'} (${c.reference.tag})`,
              ]
            : [],
        )
        .join('; '),
    };
  });
}

const pct = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(2) : '–');
const withSd = (m: number, sd: number) => `${pct(m)}${Number.isFinite(sd) ? ` ± ${pct(sd)}` : ''}`;

/** The header of the findings tables. */
export const FINDING_HEADER = [
  'experiment',
  'section',
  'seeds',
  'train %',
  'val % (subset)',
  'test % ± seed sd (settled)',
  'test % ± seed sd (raw)',
  'published',
];

/** The cells of one findings row (FINDING_HEADER's order). */
export function findingCells(r: FindingRow): string[] {
  return [
    r.experiment,
    r.section,
    String(r.seeds),
    pct(r.train),
    pct(r.val),
    withSd(r.test, r.testStd),
    withSd(r.testRaw, r.testRawStd),
    r.published || '–',
  ];
}

/** The section a claim belongs to. */
export function sectionIdOf(claim: Claim): string {
  return SECTIONS.find((s) => s.claims.some((c) => c.id === claim.id))?.id ?? '';
}

/** The header of the verdict tables (the verdict column names the profile). */
export function verdictHeader(profile: string): string[] {
  return [
    'section',
    'claim',
    'whose',
    'comparison',
    'estimate [95 % interval]',
    'effect size',
    'p',
    'Holm p',
    `verdict (${profile})`,
  ];
}

/** The cells of one verdict (verdictHeader's order); the claim is its id (`text: true`: its text). */
export function verdictCells(v: Verdict, opts: { text?: boolean } = {}): string[] {
  const t = v.claim.test;
  const f = (x: number) => (t.kind === 'level' ? `${pct(x)} %` : `${x >= 0 ? '+' : ''}${pct(x)} pp`);
  const estimate =
    v.family === 'count rule' || t.kind === 'sensitivity'
      ? v.measured
      : !Number.isFinite(v.estimate)
        ? '–'
        : `${f(v.estimate)}${v.interval ? ` [${f(v.interval[0])}, ${f(v.interval[1])}]` : ' (no interval: < 2 seeds)'}`;
  const effect = v.test
    ? `${v.test.effect.name} ${Number.isFinite(v.test.effect.value) ? v.test.effect.value.toFixed(2) : String(v.test.effect.value)}`
    : '–';
  const holmCell =
    v.family === 'holm'
      ? formatP(v.pHolm)
      : v.family === 'count rule'
        ? 'count rule: outside the family'
        : v.verdict === 'not testable at this scale'
          ? 'outside the family'
          : '–';
  return [
    sectionIdOf(v.claim),
    opts.text ? v.claim.text : v.claim.id,
    v.claim.tag,
    v.comparison,
    estimate,
    effect,
    formatP(v.p),
    holmCell,
    v.verdict,
  ];
}

/** Notes under a verdict table: why each untestable claim is, how the family was formed. */
export function verdictNotes(verdicts: Verdict[]): string[] {
  const family = verdicts.filter((v) => v.family === 'holm').length;
  const notes = verdicts
    .filter((v) => v.verdict === 'not testable at this scale' && v.regime)
    .map(
      (v) =>
        `${v.claim.id}: not testable at this scale: ${v
          .regime!.checks.filter((c) => !c.met)
          .map((c) => c.detail)
          .join('; ')}`,
    );
  notes.push(
    `p: two-sided t test of "estimate = the claim's boundary" (0, −margin, or the level); paired over the seeds both arms share, Welch where they share fewer than 2. ` +
      `Holm p: adjusted over the ${family} claim(s) with a p-value whose regime is met (one family per profile); consistent / contradicted need Holm p < 0.05, with the estimate on / against the claimed side. ` +
      `Grid (§5.1) claims use a count rule on the per-point means and are outside the family.`,
  );
  return notes;
}

/** Seeds-needed lines for the difference claims whose interval is wider than ±1.5 pp ([] when none). */
export function seedsNeededLines(verdicts: Verdict[], profile: string): string[] {
  const out: string[] = [];
  for (const v of verdicts) {
    if (v.verdict === 'not testable at this scale') continue;
    const s = seedsNeeded(v, profile);
    if (!s || !s.wider) continue;
    const need =
      s.need === null ? 'more than 1000 seeds' : `${s.need} seeds (${s.method === 'paired' ? 'paired' : 'per arm'})`;
    out.push(
      `${v.claim.id}: ±${pct(s.halfWidth)} pp now over ${s.have} seed(s), seed sd of the difference ${pct(s.sd)} pp; ±${pct(TARGET_HALF_WIDTH)} pp needs ${need}`,
    );
    for (const c of s.commands) out.push(`  ${c}`);
  }
  return out;
}

/**
 * The flip metric per γ phase of every finished Bop run whose γ decays (./flipPhases), one line per run: whether the
 * flips fall after each decay, the regime the §5.1 claims and the UNet's Bop arm are read in.
 */
export function flipPhaseLines(profile: string, root = resultsRoot()): string[] {
  const out: string[] = [];
  for (const e of EXPERIMENTS) {
    if (e.sameAs || e.paper.optimizer !== 'bop') continue;
    for (const r of finishedRuns(e.name, profile, root)) {
      const config = r.config as unknown as ExperimentConfig;
      const phases = flipsByPhase(config, r.history);
      if (phases.filter((p) => p.epochs.length).length >= 2)
        out.push(flipPhaseLine(`${e.name} seed ${r.seed}`, phases));
    }
  }
  return out;
}

const cell = (x: string) => x.replace(/\|/g, '\\|');

/** The verdicts as a Markdown table (verdictHeader's columns plus the published numbers), its notes and the seeds needed. */
export function verdictMarkdown(verdicts: Verdict[], profile: string): string {
  const header = [...verdictHeader(profile), 'published'];
  const rows = verdicts.map((v) => {
    const c = verdictCells(v, { text: true });
    c[8] = `**${v.verdict}**`;
    return [...c, v.claim.published ?? '–'].map(cell);
  });
  const table = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  const seeds = seedsNeededLines(verdicts, profile);
  return (
    table +
    '\n\n' +
    verdictNotes(verdicts)
      .map((n) => `- ${n}`)
      .join('\n') +
    (seeds.length
      ? `\n\nSeeds needed for a 95 % interval of ±${pct(TARGET_HALF_WIDTH)} pp:\n\n\`\`\`\n${seeds.join('\n')}\n\`\`\``
      : '')
  );
}

/** Plain-text table for terminals. */
export function textTable(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((x, i) => (x ?? '').padEnd(w[i])).join(' | ');
  return [line(header), w.map((n) => '-'.repeat(n)).join('-|-'), ...rows.map(line)].join('\n');
}
