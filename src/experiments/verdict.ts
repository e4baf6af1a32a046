/**
 * A verdict per claim: consistent / contradicted / inconclusive, from the final metrics of the runs over seeds,
 * with the measured difference and its 95 % interval.
 *
 *   difference  a − b (means over seeds), Welch's t interval (seeds of the two arms are independent runs)
 *   gap         train − validation accuracy of one experiment, paired per seed, one-sample t interval
 *   level       the metric's mean over seeds against a bound, one-sample t interval
 *
 * Decision (interval [lo, hi], margin m ≥ 0):
 *   greater  consistent if lo > 0,   contradicted if hi < 0
 *   less     consistent if hi < 0,   contradicted if lo > 0
 *   notLess  consistent if lo > −m,  contradicted if hi < −m      ("at least as good", within m)
 *   below v  consistent if hi < v,   contradicted if lo > v        (above: mirrored)
 * otherwise inconclusive; fewer than 2 seeds on an arm gives no interval, so inconclusive; a missing run, "not run".
 */
import { mean, variance } from '../results/stats';
import type { Claim, ClaimTest, Metric } from './catalog';

/** The sample statistics live in src/results/stats; re-exported for callers that import them from here. */
export { mean, variance };

export type VerdictWord = 'consistent' | 'contradicted' | 'inconclusive' | 'not run';

export interface Verdict {
  claim: Claim;
  verdict: VerdictWord;
  /** The measured quantity: a difference, a gap or a level (fractions); NaN when not run. */
  estimate: number;
  /** 95 % interval over seeds (null with fewer than 2 seeds). */
  interval: [number, number] | null;
  /** Seeds behind each arm, by experiment name. */
  seeds: Record<string, number>;
  /** One line: what was measured against what was claimed. */
  detail: string;
}

/** Per experiment: the final values of each metric, one per seed. */
export type FinalValues = Record<string, Partial<Record<Metric, number[]>>>;

/** Two-sided 97.5 % quantiles of Student's t for 1…30 degrees of freedom (then the normal's 1.96). */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** t_{0.975, df}; non-integer df (Welch) is rounded down, the conservative side. */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) return NaN;
  const k = Math.floor(df);
  return k <= 30 ? T975[k - 1] : 1.96;
}

/** One-sample 95 % t interval of the mean (null for fewer than 2 values). */
export function meanInterval(xs: number[]): [number, number] | null {
  if (xs.length < 2) return null;
  const m = mean(xs);
  const h = tQuantile975(xs.length - 1) * Math.sqrt(variance(xs) / xs.length);
  return [m - h, m + h];
}

/**
 * Welch's 95 % interval of mean(a) − mean(b) (null when an arm has fewer than 2 values). With both variances 0
 * the interval is the point itself.
 */
export function welchInterval(a: number[], b: number[]): [number, number] | null {
  if (a.length < 2 || b.length < 2) return null;
  const d = mean(a) - mean(b);
  const va = variance(a) / a.length;
  const vb = variance(b) / b.length;
  const se = Math.sqrt(va + vb);
  if (se === 0) return [d, d];
  const df = (va + vb) ** 2 / ((va * va) / (a.length - 1) + (vb * vb) / (b.length - 1));
  const h = tQuantile975(df) * se;
  return [d - h, d + h];
}

/** The decision rule of the module comment. */
export function decide(test: ClaimTest, interval: [number, number] | null): VerdictWord {
  if (!interval) return 'inconclusive';
  const [lo, hi] = interval;
  if (test.kind === 'difference' || test.kind === 'gap') {
    const m = 'margin' in test && test.margin ? test.margin : 0;
    if (test.expect === 'greater') return lo > 0 ? 'consistent' : hi < 0 ? 'contradicted' : 'inconclusive';
    if (test.expect === 'less') return hi < 0 ? 'consistent' : lo > 0 ? 'contradicted' : 'inconclusive';
    return lo > -m ? 'consistent' : hi < -m ? 'contradicted' : 'inconclusive';
  }
  if (test.kind === 'level') {
    if (test.expect === 'below') return hi < test.value ? 'consistent' : lo > test.value ? 'contradicted' : 'inconclusive';
    return lo > test.value ? 'consistent' : hi < test.value ? 'contradicted' : 'inconclusive';
  }
  return 'inconclusive';
}

const pp = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} pp`;
const pc = (x: number) => `${(x * 100).toFixed(2)} %`;
const iv = (i: [number, number] | null, f: (x: number) => string) => (i ? `[${f(i[0])}, ${f(i[1])}]` : 'no interval (fewer than 2 seeds)');

/** The verdict of a one-sample test: the mean of `xs` (one value per seed) and its 95 % t-interval. */
function oneSample(claim: Claim, t: ClaimTest & { experiment: string }, xs: number[], detail: (mean: number, interval: [number, number] | null) => string): Verdict {
  const interval = meanInterval(xs);
  return { claim, verdict: decide(t, interval), estimate: mean(xs), interval, seeds: { [t.experiment]: xs.length }, detail: detail(mean(xs), interval) };
}

/** The verdict on one claim from the runs' final values (sensitivity claims: see `sensitivityVerdict`). */
export function claimVerdict(claim: Claim, finals: FinalValues): Verdict {
  const t = claim.test;
  const get = (name: string, metric: Metric) => (finals[name]?.[metric] ?? []).filter((x) => Number.isFinite(x));
  const notRun = (names: string[]): Verdict => ({
    claim,
    verdict: 'not run',
    estimate: NaN,
    interval: null,
    seeds: Object.fromEntries(names.map((n) => [n, 0])),
    detail: `no finished runs of ${names.join(' / ')} in this profile`,
  });
  if (t.kind === 'difference') {
    const a = get(t.a, t.metric);
    const b = get(t.b, t.metric);
    if (!a.length || !b.length) return notRun([t.a, t.b].filter((n) => !get(n, t.metric).length));
    const d = mean(a) - mean(b);
    const interval = welchInterval(a, b);
    return {
      claim,
      verdict: decide(t, interval),
      estimate: d,
      interval,
      seeds: { [t.a]: a.length, [t.b]: b.length },
      detail: `${t.a} − ${t.b} (${t.metric}): ${pp(d)}, 95 % interval ${iv(interval, pp)}; expected ${t.expect === 'notLess' ? `≥ ${pp(-(t.margin ?? 0))}` : t.expect === 'greater' ? '> 0' : '< 0'}`,
    };
  }
  if (t.kind === 'gap') {
    const tr = get(t.experiment, 'accuracy');
    const va = get(t.experiment, 'testAccuracy').length ? get(t.experiment, 'testAccuracy') : get(t.experiment, 'valAccuracy');
    if (!tr.length || tr.length !== va.length) return notRun([t.experiment]);
    const diffs = tr.map((x, i) => x - va[i]);
    return oneSample(claim, t, diffs, (m, interval) => `${t.experiment} train − validation accuracy: ${pp(m)}, 95 % interval ${iv(interval, pp)}; expected > 0`);
  }
  if (t.kind === 'level') {
    const xs = get(t.experiment, t.metric);
    if (!xs.length) return notRun([t.experiment]);
    return oneSample(claim, t, xs, (m, interval) => `${t.experiment} ${t.metric}: ${pc(m)}, 95 % interval ${iv(interval, pc)}; expected ${t.expect} ${pc(t.value)}`);
  }
  return { claim, verdict: 'inconclusive', estimate: NaN, interval: null, seeds: {}, detail: 'read off the γ × τ grid (notebook 08)' };
}

/** One point of the calibration grid: multipliers of the derived γ and τ, and what the run measured. */
export interface GridPoint {
  gammaFactor: number;
  tauFactor: number;
  gamma: number;
  tau: number;
  /** Held-out accuracy per epoch. */
  valAccuracy: number[];
  /** Mean flip ratio over the binary layers per epoch (fraction of weights flipped per step). */
  flipRatio: number[];
}

/** A grid point's flips per step (mean over binary layers), averaged over its epochs. */
export function meanFlipRatio(p: Pick<GridPoint, 'flipRatio'>): number {
  return mean(p.flipRatio);
}

/**
 * Verdicts on the §5.1 claims from a γ × τ grid (one seed per point: qualitative, so the rule is a count, not an
 * interval). Flips: the mean flip ratio over the run, compared between neighbours along one axis; consistent
 * when every comparison goes the claimed way, contradicted when none does, inconclusive otherwise.
 * "High γ / low τ plateaus lower": the highest γ at the lowest nonzero τ leads the lowest γ after the first
 * quarter of the run and ends below it. "τ = 0 deteriorates": at τ = 0, the last epoch is below the run's best by
 * more than 1 pp at every γ.
 */
export function sensitivityVerdict(claim: Claim, grid: GridPoint[]): Verdict {
  const t = claim.test;
  const base = { claim, interval: null, seeds: { grid: grid.length } } as const;
  if (t.kind !== 'sensitivity') return claimVerdict(claim, {});
  if (grid.length < 2) return { ...base, verdict: 'not run', estimate: NaN, detail: 'no calibration grid in this profile (npm run calibrate)' };
  const gammas = [...new Set(grid.map((g) => g.gammaFactor))].sort((a, b) => a - b);
  const taus = [...new Set(grid.map((g) => g.tauFactor))].sort((a, b) => a - b);
  const at = (gf: number, tf: number) => grid.find((g) => g.gammaFactor === gf && g.tauFactor === tf);
  const count = (pairs: [GridPoint | undefined, GridPoint | undefined][], ok: (a: GridPoint, b: GridPoint) => boolean) => {
    const ps = pairs.filter((p): p is [GridPoint, GridPoint] => !!p[0] && !!p[1]);
    const good = ps.filter(([a, b]) => ok(a, b)).length;
    return { good, n: ps.length };
  };
  const word = (c: { good: number; n: number }): VerdictWord => (c.n === 0 ? 'not run' : c.good === c.n ? 'consistent' : c.good === 0 ? 'contradicted' : 'inconclusive');
  if (t.expect === 'flipsRiseWithGamma' || t.expect === 'flipsFallWithTau') {
    const pairs: [GridPoint | undefined, GridPoint | undefined][] = [];
    if (t.expect === 'flipsRiseWithGamma') for (const tf of taus) for (let i = 1; i < gammas.length; i++) pairs.push([at(gammas[i - 1], tf), at(gammas[i], tf)]);
    else for (const gf of gammas) for (let i = 1; i < taus.length; i++) pairs.push([at(gf, taus[i - 1]), at(gf, taus[i])]);
    const c = count(pairs, (a, b) => (t.expect === 'flipsRiseWithGamma' ? meanFlipRatio(b) > meanFlipRatio(a) : meanFlipRatio(b) < meanFlipRatio(a)));
    return { ...base, verdict: word(c), estimate: c.n ? c.good / c.n : NaN, detail: `${c.good} of ${c.n} neighbouring grid points show ${t.expect === 'flipsRiseWithGamma' ? 'more flips at the higher γ' : 'fewer flips at the higher τ'}` };
  }
  if (t.expect === 'highGammaLowTauPlateausLower') {
    const tf = taus.find((x) => x > 0);
    const hi = tf !== undefined ? at(gammas[gammas.length - 1], tf) : undefined;
    const lo = tf !== undefined ? at(gammas[0], tf) : undefined;
    if (!hi || !lo) return { ...base, verdict: 'not run', estimate: NaN, detail: 'the grid lacks the corner points' };
    const q = Math.max(1, Math.floor(hi.valAccuracy.length / 4));
    const early = hi.valAccuracy[q - 1] - lo.valAccuracy[q - 1];
    const late = hi.valAccuracy[hi.valAccuracy.length - 1] - lo.valAccuracy[lo.valAccuracy.length - 1];
    const verdict: VerdictWord = early > 0 && late < 0 ? 'consistent' : early <= 0 && late >= 0 ? 'contradicted' : 'inconclusive';
    return { ...base, verdict, estimate: late, detail: `γ ×${gammas[gammas.length - 1]} vs ×${gammas[0]} at τ ×${tf}: ${pp(early)} after epoch ${q}, ${pp(late)} at the end` };
  }
  // tauZeroDeteriorates
  const zero = gammas.map((gf) => at(gf, 0)).filter((g): g is GridPoint => !!g);
  if (!zero.length) return { ...base, verdict: 'not run', estimate: NaN, detail: 'no τ = 0 column in the grid' };
  const drops = zero.map((g) => Math.max(...g.valAccuracy) - g.valAccuracy[g.valAccuracy.length - 1]);
  const c = { good: drops.filter((d) => d > 0.01).length, n: drops.length };
  return { ...base, verdict: word(c), estimate: mean(drops), detail: `τ = 0: last epoch below the best by ${drops.map(pp).join(', ')} (γ ×${gammas.join(', ×')})` };
}
