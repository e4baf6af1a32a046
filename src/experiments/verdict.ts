/**
 * A verdict per claim, from the final metrics of the runs, one value per seed (seed ids kept: the same seed is the
 * same initialisation and data order in every arm), and from the configs the runs stored (./regime).
 *
 * Words: consistent | contradicted | inconclusive | not testable at this scale | not run.
 *
 * Statistics (./ttest has the formulas), each a two-sided t test of H0 "estimate = boundary":
 *   difference  a − b of `metric`. Paired t on the per-seed differences over the seeds both arms share, when they
 *               share ≥ 2; else Welch's t over each arm's seeds. Boundary 0 (greater, less) or −margin (notLess).
 *               Effect size d_z (paired) or Hedges' g (Welch).
 *   gap         train − test accuracy (validation accuracy where no test score) of one experiment, paired per seed.
 *               Boundary: the margin (default 0). Effect size d_z.
 *   level       the metric's mean over seeds, one-sample t against the level v. Effect size d = (x̄ − v)/s.
 * Each gives the estimate, its 95 % interval, the raw p and, over one family, the Holm-adjusted p.
 *
 * The family: every claim of the profile that has a p-value (two or more seeds) and whose regime is met. The
 * sensitivity (§5.1) claims are read off the calibration grid by a count rule (./sensitivity) and stay outside it,
 * as do claims not testable at this scale. `claimVerdict` alone judges one claim as a family of one;
 * `profileVerdicts` (./profileVerdicts) judges the whole family, which is what every table shows.
 *
 * Decision, on the Holm-adjusted p (α = 0.05): consistent when p_Holm < α and the estimate lies on the claimed
 * side of the boundary (greater: > 0; less: < 0; notLess: > −m; gap: > margin; below v: < v; above v: > v);
 * contradicted when p_Holm < α and it lies on the other side; otherwise inconclusive (also with fewer than 2
 * seeds, when there is no p). Not run: an arm without finished runs. Not testable at this scale: a regime
 * requirement of the claim is not met (./regime), whatever the numbers say.
 *
 * Seeds needed for a ±1.5 pp interval, and the commands that run them: ./seedsNeeded.
 */
import { mean, variance } from '../results/stats';
import type { Claim, ClaimTest, Metric } from './catalog';
import type { RegimeResult } from './regime';
import { oneSampleTest, pairedTest, TTest, welchTest } from './ttest';

/** The sample statistics live in src/results/stats; the intervals in ./ttest; re-exported for callers that import them from here. */
export { mean, variance };
export { meanInterval, tQuantile975, welchInterval } from './ttest';

export type VerdictWord = 'consistent' | 'contradicted' | 'inconclusive' | 'not testable at this scale' | 'not run';

/** The family-wise error rate of the Holm family. */
export const ALPHA = 0.05;

/** Final values of one metric, by seed id. */
export type SeedValues = Record<number, number>;
/** A claim's metrics, and the test score before BN statistics were recomputed (`testAccuracyRaw`). */
export type FinalMetric = Metric | 'testAccuracyRaw';
/** Per experiment: the final value of each metric, by seed id. */
export type FinalValues = Record<string, Partial<Record<FinalMetric, SeedValues>>>;

export interface Verdict {
  claim: Claim;
  verdict: VerdictWord;
  /** The measured quantity: a difference, a gap or a level (fractions); NaN when not run. */
  estimate: number;
  /** 95 % interval (null with fewer than 2 seeds). */
  interval: [number, number] | null;
  /** Seeds behind each arm, by experiment name. */
  seeds: Record<string, number>;
  /** The seed ids behind each arm. */
  seedIds: Record<string, number[]>;
  /** What is compared, e.g. "cifar10-bop − cifar10-adam-baseline, test accuracy, paired over 3 seeds". */
  comparison: string;
  /** The t test behind the verdict (null: fewer than 2 seeds, not run, or a grid claim). */
  test: TTest | null;
  /** Raw two-sided p (NaN without a test). */
  p: number;
  /** Holm-adjusted p over the family (NaN outside it). */
  pHolm: number;
  /** 'holm': in the Holm family; 'count rule': a grid claim; 'none': no p, or not testable. */
  family: 'holm' | 'count rule' | 'none';
  /** The regime check (null: the claim has no requirements). */
  regime: RegimeResult | null;
  /** What was measured against what was claimed, one line. */
  measured: string;
  /** One line: `measured`, then the Holm-adjusted p or why the claim is not testable. */
  detail: string;
}

const METRIC_NAME: Record<FinalMetric, string> = {
  accuracy: 'train accuracy',
  valAccuracy: 'validation accuracy (per-epoch subset)',
  testAccuracy: 'test accuracy',
  testAccuracyRaw: 'test accuracy before BN statistics are recomputed',
};
/** A difference in percentage points, signed: "+1.23 pp". */
export const pp = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} pp`;
const pc = (x: number) => `${(x * 100).toFixed(2)} %`;
/** A p-value as printed: three decimals, "< 0.001" below. */
export const formatP = (p: number) => (!Number.isFinite(p) ? '–' : p < 0.001 ? '< 0.001' : p.toFixed(3));

/** The boundary of H0 (module comment). */
export function boundaryOf(t: ClaimTest): number {
  if (t.kind === 'difference') return t.expect === 'notLess' ? -(t.margin ?? 0) : 0;
  if (t.kind === 'gap') return t.margin ?? 0;
  if (t.kind === 'level') return t.value;
  return NaN;
}

/** True when `estimate` lies on the side of the boundary the claim states, false on the other, null on it. */
export function claimedSide(t: ClaimTest, estimate: number): boolean | null {
  const b = boundaryOf(t);
  if (!Number.isFinite(estimate) || estimate === b || !Number.isFinite(b)) return null;
  const above = estimate > b;
  if (t.kind === 'difference') return t.expect === 'less' ? !above : above;
  if (t.kind === 'level') return t.expect === 'below' ? !above : above;
  return above; // gap: greater
}

/** The decision rule of the module comment, on the Holm-adjusted p. */
export function decide(t: ClaimTest, estimate: number, pAdjusted: number): VerdictWord {
  if (!(pAdjusted < ALPHA)) return 'inconclusive';
  const side = claimedSide(t, estimate);
  return side === null ? 'inconclusive' : side ? 'consistent' : 'contradicted';
}

/** What the claim expects, as text. */
function expected(t: ClaimTest): string {
  const b = boundaryOf(t);
  if (t.kind === 'difference') return t.expect === 'less' ? '< 0' : `> ${t.expect === 'notLess' ? pp(b) : '0'}`;
  if (t.kind === 'gap') return `> ${b ? pp(b) : '0'}`;
  if (t.kind === 'level') return `${t.expect === 'below' ? '<' : '>'} ${pc(b)}`;
  return t.expect;
}

/** The finite values of a metric of an experiment, by seed. */
function valuesOf(finals: FinalValues, name: string, metric: FinalMetric): Map<number, number> {
  const m = new Map<number, number>();
  for (const [k, v] of Object.entries(finals[name]?.[metric] ?? {})) if (Number.isFinite(v)) m.set(Number(k), v);
  return m;
}

const sortedSeeds = (m: Map<number, number>) => [...m.keys()].sort((a, b) => a - b);
const vals = (m: Map<number, number>, seeds: number[]) => seeds.map((s) => m.get(s)!);
/** "1 seed", "3 seeds". */
export const seedsText = (n: number) => `${n} seed${n === 1 ? '' : 's'}`;

/** The measured line of a verdict. */
function detailOf(v: Omit<Verdict, 'detail' | 'measured'>, f: (x: number) => string): string {
  const t = v.test;
  const stat = t
    ? `${f(v.estimate)}, 95 % interval [${f(t.interval[0])}, ${f(t.interval[1])}], ${t.effect.name} ${t.effect.value.toFixed(2)}, p ${formatP(v.p)}`
    : `${f(v.estimate)}, no interval (fewer than 2 seeds)`;
  return `${v.comparison}: ${stat}; claimed ${expected(v.claim.test)}`;
}

/** A verdict with its measured line (`detailOf`) as both `measured` and `detail`. */
function finish(v: Omit<Verdict, 'detail' | 'measured'>, f: (x: number) => string): Verdict {
  const line = detailOf(v, f);
  return { ...v, measured: line, detail: line };
}

/** The fields of a verdict that its measurement gives (the judging adds the rest). */
type Measured = Omit<Verdict, 'detail' | 'measured' | 'verdict' | 'p' | 'pHolm' | 'family' | 'regime' | 'claim'>;
/** A difference, gap or level test of the catalog. */
type MeasuredTest<K extends ClaimTest['kind']> = Extract<ClaimTest, { kind: K }>;

/** What every verdict of `claimVerdict` starts from: no regime, outside the family, no adjusted p. */
function baseOf(claim: Claim) {
  return { claim, regime: null, family: 'none' as Verdict['family'], pHolm: NaN };
}

/** The 'not run' verdict of a claim: `names` of its arms `all` have no finished runs. */
function notRunVerdict(claim: Claim, finals: FinalValues, names: string[], all: string[]): Verdict {
  const t = claim.test;
  return {
    ...baseOf(claim),
    verdict: 'not run',
    estimate: NaN,
    interval: null,
    seeds: Object.fromEntries(
      all.map((n) => [
        n,
        names.includes(n) ? 0 : valuesOf(finals, n, t.kind === 'difference' ? t.metric : 'testAccuracy').size,
      ]),
    ),
    seedIds: {},
    comparison: all.join(' vs '),
    test: null,
    p: NaN,
    measured: `no finished runs of ${names.join(' / ')} in this profile`,
    detail: `no finished runs of ${names.join(' / ')} in this profile`,
  };
}

/** A measured claim judged as a family of one (p_Holm = p); `f` formats its numbers. */
function judgedVerdict(claim: Claim, v: Measured, f: (x: number) => string): Verdict {
  const p = v.test?.p ?? NaN;
  const family: Verdict['family'] = Number.isFinite(p) ? 'holm' : 'none';
  return finish({ ...baseOf(claim), ...v, p, pHolm: p, family, verdict: decide(claim.test, v.estimate, p) }, f);
}

/** A difference a − b: paired over the shared seeds when they are ≥ 2, else Welch (module comment). */
function differenceVerdict(claim: Claim, t: MeasuredTest<'difference'>, finals: FinalValues): Verdict {
  const a = valuesOf(finals, t.a, t.metric);
  const b = valuesOf(finals, t.b, t.metric);
  if (!a.size || !b.size)
    return notRunVerdict(
      claim,
      finals,
      [t.a, t.b].filter((n) => !valuesOf(finals, n, t.metric).size),
      [t.a, t.b],
    );
  const shared = sortedSeeds(a).filter((s) => b.has(s));
  const seeds = { [t.a]: a.size, [t.b]: b.size };
  const seedIds = { [t.a]: sortedSeeds(a), [t.b]: sortedSeeds(b) };
  const what = `${t.a} − ${t.b}, ${METRIC_NAME[t.metric]}`;
  if (shared.length >= 2) {
    const test = pairedTest(vals(a, shared), vals(b, shared), boundaryOf(t))!;
    const left = a.size + b.size - 2 * shared.length;
    return judgedVerdict(
      claim,
      {
        estimate: test.estimate,
        interval: test.interval,
        seeds,
        seedIds,
        test,
        comparison: `${what}, paired over ${seedsText(shared.length)}${left ? ` (${left} unshared run(s) left out)` : ''}`,
      },
      pp,
    );
  }
  const test = welchTest(vals(a, sortedSeeds(a)), vals(b, sortedSeeds(b)), boundaryOf(t));
  const estimate = mean([...a.values()]) - mean([...b.values()]);
  const how = test
    ? `Welch over ${a.size} and ${b.size} seeds (fewer than 2 shared)`
    : `${a.size} and ${b.size} seed(s): no test (fewer than 2)`;
  return judgedVerdict(
    claim,
    { estimate, interval: test?.interval ?? null, seeds, seedIds, test, comparison: `${what}, ${how}` },
    pp,
  );
}

/** The train − test gap of one experiment (validation where no test score), paired per seed. */
function gapVerdict(claim: Claim, t: MeasuredTest<'gap'>, finals: FinalValues): Verdict {
  const tr = valuesOf(finals, t.experiment, 'accuracy');
  const te = valuesOf(finals, t.experiment, 'testAccuracy');
  const other = te.size ? te : valuesOf(finals, t.experiment, 'valAccuracy');
  const shared = sortedSeeds(tr).filter((s) => other.has(s));
  if (!shared.length) return notRunVerdict(claim, finals, [t.experiment], [t.experiment]);
  const test = pairedTest(vals(tr, shared), vals(other, shared), boundaryOf(t));
  const d = vals(tr, shared).map((x, i) => x - vals(other, shared)[i]);
  const comparison = `${t.experiment} train − ${te.size ? 'test' : 'validation'} accuracy, paired over ${seedsText(shared.length)}`;
  return judgedVerdict(
    claim,
    {
      estimate: mean(d),
      interval: test?.interval ?? null,
      seeds: { [t.experiment]: shared.length },
      seedIds: { [t.experiment]: shared },
      test,
      comparison,
    },
    pp,
  );
}

/** The mean of one metric over seeds, one-sample against the claimed level. */
function levelVerdict(claim: Claim, t: MeasuredTest<'level'>, finals: FinalValues): Verdict {
  const xs = valuesOf(finals, t.experiment, t.metric);
  if (!xs.size) return notRunVerdict(claim, finals, [t.experiment], [t.experiment]);
  const seeds = sortedSeeds(xs);
  const test = oneSampleTest(vals(xs, seeds), t.value);
  const comparison = `${t.experiment} ${METRIC_NAME[t.metric]} against ${pc(t.value)}, one-sample over ${seedsText(seeds.length)}`;
  return judgedVerdict(
    claim,
    {
      estimate: mean(vals(xs, seeds)),
      interval: test?.interval ?? null,
      seeds: { [t.experiment]: seeds.length },
      seedIds: { [t.experiment]: seeds },
      test,
      comparison,
    },
    pc,
  );
}

/**
 * The verdict on one claim from the runs' final values, as a family of one (p_Holm = p). Sensitivity claims: see
 * `sensitivityVerdict` (./sensitivity); the regime and the family: `profileVerdicts` (./profileVerdicts).
 */
export function claimVerdict(claim: Claim, finals: FinalValues): Verdict {
  const t = claim.test;
  if (t.kind === 'difference') return differenceVerdict(claim, t, finals);
  if (t.kind === 'gap') return gapVerdict(claim, t, finals);
  if (t.kind === 'level') return levelVerdict(claim, t, finals);
  return {
    ...baseOf(claim),
    verdict: 'inconclusive',
    estimate: NaN,
    interval: null,
    seeds: {},
    seedIds: {},
    comparison: 'γ × τ grid',
    test: null,
    p: NaN,
    measured: 'read off the γ × τ grid (sensitivityVerdict)',
    detail: 'read off the γ × τ grid (sensitivityVerdict)',
  };
}
