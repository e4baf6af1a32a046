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
 * sensitivity (§5.1) claims are read off the calibration grid by a count rule and stay outside it, as do claims
 * not testable at this scale. `claimVerdict` alone judges one claim as a family of one; `profileVerdicts` judges
 * the whole family, which is what every table shows.
 *
 * Decision, on the Holm-adjusted p (α = 0.05): consistent when p_Holm < α and the estimate lies on the claimed
 * side of the boundary (greater: > 0; less: < 0; notLess: > −m; gap: > margin; below v: < v; above v: > v);
 * contradicted when p_Holm < α and it lies on the other side; otherwise inconclusive (also with fewer than 2
 * seeds, when there is no p). Not run: an arm without finished runs. Not testable at this scale: a regime
 * requirement of the claim is not met (./regime), whatever the numbers say.
 *
 * Seeds needed (`seedsNeeded`, difference claims): from the observed sd s of one seed's difference (paired: of the
 * differences; Welch: √(s_a² + s_b²)), the smallest n ≥ 2 with t_{0.975,n−1}·s/√n ≤ 0.015 (±1.5 pp), and the
 * commands that run the missing seeds of each arm.
 */
import { mean, variance } from '../results/stats';
import type { Claim, ClaimTest, Metric } from './catalog';
import { ConfigsByExperiment, regimeCheck, type RegimeResult } from './regime';
import { holm, oneSampleTest, pairedTest, tQuantile975, TTest, welchTest } from './ttest';

/** The sample statistics live in src/results/stats; the intervals in ./ttest; re-exported for callers that import them from here. */
export { mean, variance };
export { meanInterval, tQuantile975, welchInterval } from './ttest';

export type VerdictWord = 'consistent' | 'contradicted' | 'inconclusive' | 'not testable at this scale' | 'not run';

/** The family-wise error rate of the Holm family. */
export const ALPHA = 0.05;
/** The half-width of the 95 % interval a difference should reach (±1.5 pp). */
export const TARGET_HALF_WIDTH = 0.015;

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
const pp = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} pp`;
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
const seedsText = (n: number) => `${n} seed${n === 1 ? '' : 's'}`;

/** The measured line of a verdict. */
function detailOf(v: Omit<Verdict, 'detail' | 'measured'>, f: (x: number) => string): string {
  const t = v.test;
  const stat = t
    ? `${f(v.estimate)}, 95 % interval [${f(t.interval[0])}, ${f(t.interval[1])}], ${t.effect.name} ${t.effect.value.toFixed(2)}, p ${formatP(v.p)}`
    : `${f(v.estimate)}, no interval (fewer than 2 seeds)`;
  return `${v.comparison}: ${stat}; claimed ${expected(v.claim.test)}`;
}

function finish(v: Omit<Verdict, 'detail' | 'measured'>, f: (x: number) => string): Verdict {
  const line = detailOf(v, f);
  return { ...v, measured: line, detail: line };
}

/**
 * The verdict on one claim from the runs' final values, as a family of one (p_Holm = p). Sensitivity claims: see
 * `sensitivityVerdict`; the regime and the family: `profileVerdicts`.
 */
export function claimVerdict(claim: Claim, finals: FinalValues): Verdict {
  const t = claim.test;
  const base = { claim, regime: null, family: 'none' as Verdict['family'], pHolm: NaN };
  const notRun = (names: string[], all: string[]): Verdict => ({
    ...base,
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
  });
  const judged = (
    v: Omit<Verdict, 'detail' | 'measured' | 'verdict' | 'p' | 'pHolm' | 'family' | 'regime' | 'claim'>,
    f: (x: number) => string,
  ): Verdict => {
    const p = v.test?.p ?? NaN;
    const family: Verdict['family'] = Number.isFinite(p) ? 'holm' : 'none';
    return finish({ ...base, ...v, p, pHolm: p, family, verdict: decide(t, v.estimate, p) }, f);
  };
  if (t.kind === 'difference') {
    const a = valuesOf(finals, t.a, t.metric);
    const b = valuesOf(finals, t.b, t.metric);
    if (!a.size || !b.size)
      return notRun(
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
      return judged(
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
    return judged(
      { estimate, interval: test?.interval ?? null, seeds, seedIds, test, comparison: `${what}, ${how}` },
      pp,
    );
  }
  if (t.kind === 'gap') {
    const tr = valuesOf(finals, t.experiment, 'accuracy');
    const te = valuesOf(finals, t.experiment, 'testAccuracy');
    const other = te.size ? te : valuesOf(finals, t.experiment, 'valAccuracy');
    const shared = sortedSeeds(tr).filter((s) => other.has(s));
    if (!shared.length) return notRun([t.experiment], [t.experiment]);
    const test = pairedTest(vals(tr, shared), vals(other, shared), boundaryOf(t));
    const d = vals(tr, shared).map((x, i) => x - vals(other, shared)[i]);
    const comparison = `${t.experiment} train − ${te.size ? 'test' : 'validation'} accuracy, paired over ${seedsText(shared.length)}`;
    return judged(
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
  if (t.kind === 'level') {
    const xs = valuesOf(finals, t.experiment, t.metric);
    if (!xs.size) return notRun([t.experiment], [t.experiment]);
    const seeds = sortedSeeds(xs);
    const test = oneSampleTest(vals(xs, seeds), t.value);
    const comparison = `${t.experiment} ${METRIC_NAME[t.metric]} against ${pc(t.value)}, one-sample over ${seedsText(seeds.length)}`;
    return judged(
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
  return {
    ...base,
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

/**
 * Every claim judged as one family (module comment): the regime of each from `configs` (./regime; with `profile`,
 * experiments without runs are judged on the profile's config), sensitivity claims on `grid`, Holm over the claims
 * with a p-value whose regime is met. The order of `claims` is kept.
 */
export function profileVerdicts(
  claims: Claim[],
  finals: FinalValues,
  opts: { grid?: GridPoint[]; configs?: ConfigsByExperiment; profile?: string } = {},
): Verdict[] {
  const out = claims.map((c): Verdict => {
    const regime = c.regime?.length ? regimeCheck(c, opts.configs ?? {}, opts.profile) : null;
    const v = c.test.kind === 'sensitivity' ? sensitivityVerdict(c, opts.grid ?? []) : claimVerdict(c, finals);
    if (!regime || regime.met) return { ...v, regime, pHolm: NaN };
    const unknown = regime.checks.every((x) => x.met || x.noConfig);
    if (v.verdict === 'not run' && unknown) return { ...v, regime, pHolm: NaN };
    const unmet = regime.checks.filter((x) => !x.met).map((x) => x.detail);
    return {
      ...v,
      regime,
      verdict: 'not testable at this scale',
      family: 'none',
      pHolm: NaN,
      detail: `not testable at this scale: ${unmet.join('; ')} (measured: ${v.measured})`,
    };
  });
  const inFamily = out.map((v, i) => (v.family === 'holm' ? i : -1)).filter((i) => i >= 0);
  const adjusted = holm(inFamily.map((i) => out[i].p));
  inFamily.forEach((i, j) => {
    const v = out[i];
    const verdict = decide(v.claim.test, v.estimate, adjusted[j]);
    out[i] = {
      ...v,
      pHolm: adjusted[j],
      verdict,
      detail: `${v.detail}, Holm-adjusted p ${formatP(adjusted[j])} (family of ${inFamily.length})`,
    };
  });
  return out;
}

/**
 * One shell command that runs `seeds` of an experiment one after the other: the plain command for one seed, a loop
 * over `$(seq a b)` for a contiguous range, a loop over the list otherwise.
 */
export function seedLoopCommand(experiment: string, profile: string, seeds: number[]): string {
  const run = (s: string) => `npm run experiment -- ${experiment} --profile ${profile} --seed ${s}`;
  if (seeds.length === 1) return run(String(seeds[0]));
  const contiguous = seeds.every((s, i) => i === 0 || s === seeds[i - 1] + 1);
  const list = contiguous && seeds.length > 2 ? `$(seq ${seeds[0]} ${seeds[seeds.length - 1]})` : seeds.join(' ');
  return `for s in ${list}; do ${run('$s')}; done`;
}

/** How many seeds a difference claim needs for a 95 % interval of ±`target`, and the commands that run them. */
export interface SeedsNeeded {
  claim: Claim;
  method: TTest['method'];
  /** The sd of one seed's difference (module comment). */
  sd: number;
  /** Half-width of the current 95 % interval. */
  halfWidth: number;
  /** True when the current interval is wider than ±target. */
  wider: boolean;
  /** Seeds behind the current interval (paired: shared seeds; Welch: the smaller arm). */
  have: number;
  /** The smallest n with t_{0.975,n−1}·sd/√n ≤ target (null: more than `max`). */
  need: number | null;
  /** The seed ids both arms should have, and the commands that run the missing ones. */
  seeds: number[];
  commands: string[];
}

/** The smallest n ≥ 2 with t_{0.975,n−1}·sd/√n ≤ target (null when more than `max`). */
export function seedsFor(sd: number, target = TARGET_HALF_WIDTH, max = 1000): number | null {
  if (!(sd >= 0) || !(target > 0)) return null;
  for (let n = 2; n <= max; n++) if ((tQuantile975(n - 1) * sd) / Math.sqrt(n) <= target) return n;
  return null;
}

/** `SeedsNeeded` of a difference verdict with a test (null otherwise). */
export function seedsNeeded(v: Verdict, profile: string, target = TARGET_HALF_WIDTH, max = 1000): SeedsNeeded | null {
  const t = v.claim.test;
  if (t.kind !== 'difference' || !v.test || !v.interval) return null;
  const halfWidth = (v.interval[1] - v.interval[0]) / 2;
  const ids = { a: v.seedIds[t.a] ?? [], b: v.seedIds[t.b] ?? [] };
  const shared = ids.a.filter((s) => ids.b.includes(s));
  const have = v.test.method === 'paired' ? shared.length : Math.min(ids.a.length, ids.b.length);
  const need = seedsFor(v.test.sdUnit, target, max);
  const seeds: number[] = [...shared];
  for (const s of [...ids.a, ...ids.b].sort((x, y) => x - y))
    if (seeds.length < (need ?? 0) && !seeds.includes(s)) seeds.push(s);
  for (let k = 0; seeds.length < (need ?? 0); k++) if (!seeds.includes(k)) seeds.push(k);
  seeds.sort((x, y) => x - y);
  const commands = [t.a, t.b].flatMap((name, i) => {
    const missing = seeds.filter((s) => !(i ? ids.b : ids.a).includes(s));
    return missing.length ? [seedLoopCommand(name, profile, missing)] : [];
  });
  return {
    claim: v.claim,
    method: v.test.method,
    sd: v.test.sdUnit,
    halfWidth,
    wider: halfWidth > target,
    have,
    need,
    seeds,
    commands,
  };
}

/** One point of the calibration grid: multipliers of the derived γ and τ, and what the run measured (means over its seeds). */
export interface GridPoint {
  gammaFactor: number;
  tauFactor: number;
  gamma: number;
  tau: number;
  /** Held-out accuracy per epoch (mean over the point's seeds). */
  valAccuracy: number[];
  /** Mean flip ratio over the binary layers per epoch (fraction of weights flipped per step). */
  flipRatio: number[];
}

/** Seeds behind a grid point: the length of its `seeds` list where it has one (the calibration grid's points do), else 1. */
function seedsOfPoint(g: GridPoint): number {
  const s = (g as { seeds?: unknown }).seeds;
  return Array.isArray(s) ? s.length : 1;
}

/** A grid point's flips per step (mean over binary layers), averaged over its epochs. */
export function meanFlipRatio(p: Pick<GridPoint, 'flipRatio'>): number {
  return mean(p.flipRatio);
}

/**
 * Verdicts on the §5.1 claims from a γ × τ grid, on the per-point means over seeds. A count rule, not a test: these
 * claims stay outside the Holm family. Flips: the mean flip ratio over the run, compared between neighbours along
 * one axis; consistent when every comparison goes the claimed way, contradicted when none does, inconclusive
 * otherwise. "High γ / low τ plateaus lower": the highest γ at the lowest nonzero τ leads the lowest γ after the
 * first quarter of the run and ends below it. "τ = 0 deteriorates": at τ = 0, the last epoch is below the run's
 * best by more than 1 pp at every γ.
 */
export function sensitivityVerdict(claim: Claim, grid: GridPoint[]): Verdict {
  const t = claim.test;
  if (t.kind !== 'sensitivity') return claimVerdict(claim, {});
  const k = grid.length ? Math.min(...grid.map(seedsOfPoint)) : 0;
  const comparison = `γ × τ grid, ${grid.length} points × ${seedsText(k)} (means per point), count rule outside the Holm family`;
  const base = {
    claim,
    interval: null,
    seeds: { grid: grid.length },
    seedIds: {},
    comparison,
    test: null,
    p: NaN,
    pHolm: NaN,
    family: 'count rule',
    regime: null,
  } as const;
  const out = (verdict: VerdictWord, estimate: number, text: string): Verdict => ({
    ...base,
    verdict,
    estimate,
    measured: text,
    detail: text,
  });
  if (grid.length < 2) return out('not run', NaN, 'no calibration grid in this profile (npm run calibrate)');
  const gammas = [...new Set(grid.map((g) => g.gammaFactor))].sort((a, b) => a - b);
  const taus = [...new Set(grid.map((g) => g.tauFactor))].sort((a, b) => a - b);
  const at = (gf: number, tf: number) => grid.find((g) => g.gammaFactor === gf && g.tauFactor === tf);
  const count = (
    pairs: [GridPoint | undefined, GridPoint | undefined][],
    ok: (a: GridPoint, b: GridPoint) => boolean,
  ) => {
    const ps = pairs.filter((p): p is [GridPoint, GridPoint] => !!p[0] && !!p[1]);
    const good = ps.filter(([a, b]) => ok(a, b)).length;
    return { good, n: ps.length };
  };
  const word = (c: { good: number; n: number }): VerdictWord =>
    c.n === 0 ? 'not run' : c.good === c.n ? 'consistent' : c.good === 0 ? 'contradicted' : 'inconclusive';
  if (t.expect === 'flipsRiseWithGamma' || t.expect === 'flipsFallWithTau') {
    const pairs: [GridPoint | undefined, GridPoint | undefined][] = [];
    if (t.expect === 'flipsRiseWithGamma')
      for (const tf of taus)
        for (let i = 1; i < gammas.length; i++) pairs.push([at(gammas[i - 1], tf), at(gammas[i], tf)]);
    else
      for (const gf of gammas) for (let i = 1; i < taus.length; i++) pairs.push([at(gf, taus[i - 1]), at(gf, taus[i])]);
    const c = count(pairs, (a, b) =>
      t.expect === 'flipsRiseWithGamma' ? meanFlipRatio(b) > meanFlipRatio(a) : meanFlipRatio(b) < meanFlipRatio(a),
    );
    return out(
      word(c),
      c.n ? c.good / c.n : NaN,
      `${c.good} of ${c.n} neighbouring grid points show ${t.expect === 'flipsRiseWithGamma' ? 'more flips at the higher γ' : 'fewer flips at the higher τ'}`,
    );
  }
  if (t.expect === 'highGammaLowTauPlateausLower') {
    const tf = taus.find((x) => x > 0);
    const hi = tf !== undefined ? at(gammas[gammas.length - 1], tf) : undefined;
    const lo = tf !== undefined ? at(gammas[0], tf) : undefined;
    if (!hi || !lo) return out('not run', NaN, 'the grid lacks the corner points');
    const q = Math.max(1, Math.floor(hi.valAccuracy.length / 4));
    const early = hi.valAccuracy[q - 1] - lo.valAccuracy[q - 1];
    const late = hi.valAccuracy[hi.valAccuracy.length - 1] - lo.valAccuracy[lo.valAccuracy.length - 1];
    const verdict: VerdictWord =
      early > 0 && late < 0 ? 'consistent' : early <= 0 && late >= 0 ? 'contradicted' : 'inconclusive';
    return out(
      verdict,
      late,
      `γ ×${gammas[gammas.length - 1]} vs ×${gammas[0]} at τ ×${tf}: ${pp(early)} after epoch ${q}, ${pp(late)} at the end`,
    );
  }
  // tauZeroDeteriorates
  const zero = gammas.map((gf) => at(gf, 0)).filter((g): g is GridPoint => !!g);
  if (!zero.length) return out('not run', NaN, 'no τ = 0 column in the grid');
  const drops = zero.map((g) => Math.max(...g.valAccuracy) - g.valAccuracy[g.valAccuracy.length - 1]);
  const c = { good: drops.filter((d) => d > 0.01).length, n: drops.length };
  return out(
    word(c),
    mean(drops),
    `τ = 0: last epoch below the best by ${drops.map(pp).join(', ')} (γ ×${gammas.join(', ×')})`,
  );
}
