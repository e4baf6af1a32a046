/**
 * The reproduction's findings, read from stored results: the final metrics per experiment and seed, and a verdict
 * on every claim of the catalog (./verdict). Used by `npm start`, `npm run figures` (summary.csv / summary.md) and
 * the notebooks, so all three say the same thing.
 */
import { finalMetric, loadRuns, resultsRoot, type RunRecord } from '../results';
import { EXPERIMENTS, Metric, Profile, SECTIONS, Section } from './catalog';
import { readGrid } from './calibrate';
import { getExperiment } from './registry';
import { mean, variance } from '../results/stats';
import { claimVerdict, FinalValues, sensitivityVerdict, Verdict } from './verdict';

const METRICS: Metric[] = ['accuracy', 'valAccuracy', 'testAccuracy'];

/** The finished runs of an experiment in a profile (an entry that is `sameAs` another reads that one's). */
export function finishedRuns(name: string, profile: string, root = resultsRoot()): RunRecord[] {
  const e = getExperiment(name);
  const seeds = new Set(e.seeds[profile as Profile] ?? [0]);
  return loadRuns(e.sameAs ?? name, profile, root).filter((r) => r.complete && seeds.has(r.seed));
}

/** Final train / validation / test accuracy per seed of every experiment with finished runs. */
export function collectFinals(profile: string, root = resultsRoot()): FinalValues {
  const out: FinalValues = {};
  for (const e of EXPERIMENTS) {
    const runs = finishedRuns(e.name, profile, root);
    if (!runs.length) continue;
    out[e.name] = Object.fromEntries(METRICS.map((m) => [m, runs.map((r) => finalMetric(r.history, m)).filter((x) => Number.isFinite(x))]));
  }
  return out;
}

/** The verdicts of one section (or of every section). */
export function sectionVerdicts(profile: string, sections: Section[] = SECTIONS, root = resultsRoot()): Verdict[] {
  const finals = collectFinals(profile, root);
  const grid = readGrid(profile, root);
  const points = grid ? grid.points.filter((p) => p.complete) : [];
  return sections.flatMap((s) => s.claims.map((c) => (c.test.kind === 'sensitivity' ? sensitivityVerdict(c, points) : claimVerdict(c, finals))));
}

export interface FindingRow {
  experiment: string;
  section: string;
  seeds: number;
  /** Means over seeds (fractions; NaN when absent). */
  train: number;
  val: number;
  test: number;
  testStd: number;
  published: string;
}

/** One row per experiment with finished runs: final accuracies (mean over seeds) beside the published numbers. */
export function findingRows(profile: string, root = resultsRoot()): FindingRow[] {
  const finals = collectFinals(profile, root);
  return EXPERIMENTS.filter((e) => finals[e.name]).map((e) => {
    const f = finals[e.name];
    const m = (k: Metric) => (f[k]?.length ? mean(f[k]!) : NaN);
    const t = f.testAccuracy ?? [];
    const sd = t.length > 1 ? Math.sqrt(variance(t)) : NaN;
    return {
      experiment: e.name,
      section: e.section,
      seeds: Math.max(f.valAccuracy?.length ?? 0, f.accuracy?.length ?? 0),
      train: m('accuracy'),
      val: m('valAccuracy'),
      test: m('testAccuracy'),
      testStd: sd,
      published: e.references.map((r) => `${(r.value * 100).toFixed(2)} ${r.metric === 'accuracy' ? 'train' : 'val'} (${r.tag})`).join('; '),
    };
  });
}

const pct = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(2) : '–');

/** The verdicts as a Markdown table (claim, source, verdict, measured, published). */
export function verdictMarkdown(verdicts: Verdict[], profile: string): string {
  const head = `| section | claim | source | verdict (${profile}) | measured | published |\n|---|---|---|---|---|---|`;
  const rows = verdicts.map((v) => {
    const s = SECTIONS.find((x) => x.claims.includes(v.claim));
    return `| ${s?.id ?? ''} | ${v.claim.text} | ${v.claim.tag}: ${v.claim.source} | **${v.verdict}** | ${v.detail} | ${v.claim.published ?? '–'} |`;
  });
  return [head, ...rows].join('\n');
}

/** The findings as a Markdown table (final accuracies beside the published numbers). */
export function findingsMarkdown(rows: FindingRow[], profile: string): string {
  const head = `| experiment | section | seeds | train % | val % (per-epoch subset) | test % (full split) | published |\n|---|---|---:|---:|---:|---:|---|`;
  return [head, ...rows.map((r) => `| ${r.experiment} | ${r.section} | ${r.seeds} | ${pct(r.train)} | ${pct(r.val)} | ${pct(r.test)}${Number.isFinite(r.testStd) ? ` ± ${pct(r.testStd)}` : ''} | ${r.published || '–'} |`)].join('\n') + `\n\n(${profile} profile; published numbers are for the paper's full setting.)`;
}

/** Plain-text table for terminals. */
export function textTable(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((x, i) => (x ?? '').padEnd(w[i])).join(' | ');
  return [line(header), w.map((n) => '-'.repeat(n)).join('-|-'), ...rows.map(line)].join('\n');
}
