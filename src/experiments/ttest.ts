/**
 * Student's t distribution and the t tests the verdicts use (./verdict), with Holm's correction.
 *
 * Distribution. For T ~ t(ν) and x = ν / (ν + t²), the two-sided tail is
 *   P(|T| ≥ |t|) = I_x(ν/2, 1/2)
 * with I the regularized incomplete beta function, I_x(a, b) = B(x; a, b) / B(a, b), computed by its continued
 * fraction (modified Lentz; Numerical Recipes §6.4, `betacf`), on the side x < (a + 1)/(a + b + 2) where it
 * converges fast, else through I_x(a, b) = 1 − I_{1−x}(b, a); ln Γ by Lanczos' approximation (g = 7, 9 terms,
 * relative error < 1e-14). The CDF is F(t) = 1 − ½·I_x(ν/2, ½) for t ≥ 0, ½·I_x(ν/2, ½) below; the quantile
 * t_{p,ν} inverts F by bisection (to 1e-12), for any real ν > 0 (Welch's ν is not an integer).
 *
 * Tests, each of H0 "the estimate equals the boundary b" (the claim's 0, −margin or level), two-sided:
 *   one-sample  x̄ over n values, se = s/√n, ν = n − 1, t = (x̄ − b)/se; effect size d = (x̄ − b)/s
 *   paired      the one-sample test on the per-seed differences dᵢ = aᵢ − bᵢ over the seeds both arms share (same
 *               seed = same initialisation and data order, so the seed's own luck cancels); effect size
 *               d_z = d̄ / s_d (Cohen's d for paired samples)
 *   Welch       arms of n_a, n_b independent runs: se = √(s_a²/n_a + s_b²/n_b), Welch–Satterthwaite
 *               ν = se⁴ / ((s_a²/n_a)²/(n_a − 1) + (s_b²/n_b)²/(n_b − 1)), t = (x̄_a − x̄_b − b)/se; effect size
 *               Hedges' g = (x̄_a − x̄_b)/s_p · J, s_p² = ((n_a − 1)s_a² + (n_b − 1)s_b²)/(n_a + n_b − 2),
 *               J = 1 − 3/(4(n_a + n_b) − 9)
 * 95 % interval: estimate ± t_{0.975,ν}·se. With se = 0 (every value equal) the interval is the point, p is 0 when
 * the estimate differs from the boundary and 1 when it equals it, and the effect size is ±∞ (or 0).
 *
 * Holm (1979), step-down over a family of k p-values: sort p₍₁₎ ≤ … ≤ p₍ₖ₎; the adjusted p₍ᵢ₎ is
 * max_{j ≤ i} min(1, (k − j + 1)·p₍ⱼ₎). Rejecting where the adjusted p < α keeps the family-wise error ≤ α.
 */
import { mean, variance } from '../results/stats';

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9). */
export function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x); // reflection
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The continued fraction of the incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b), a, b > 0, x ∈ [0, 1]. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1))
    throw new Error(`incompleteBeta: needs a, b > 0 and x in [0, 1], got x=${x}, a=${a}, b=${b}`);
  if (x === 0 || x === 1) return x;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** Two-sided p-value P(|T| ≥ |t|) of Student's t with `df` > 0 degrees of freedom (NaN for NaN input). */
export function tTwoSidedP(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** The CDF of Student's t with `df` > 0 degrees of freedom. */
export function tCdf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = tTwoSidedP(t, df) / 2;
  return t >= 0 ? 1 - tail : tail;
}

/** The quantile t_{p, df} (0 < p < 1, df > 0, real), by bisection on `tCdf`. */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return NaN;
  if (p < 0.5) return -tQuantile(1 - p, df);
  if (p === 0.5) return 0;
  let lo = 0;
  let hi = 1;
  while (tCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
    if (hi > 1e12) return Infinity;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** t_{0.975, df}: the half-width multiplier of a 95 % two-sided interval (NaN for df ≤ 0). */
export function tQuantile975(df: number): number {
  return tQuantile(0.975, df);
}

/** One t test (module comment): what was estimated, its interval, and the test of it against the boundary. */
export interface TTest {
  method: 'one-sample' | 'paired' | 'welch';
  /** Values behind it: [n] for one-sample and paired, [n_a, n_b] for Welch. */
  n: number[];
  estimate: number;
  /** Standard error of the estimate. */
  se: number;
  df: number;
  /** 95 % two-sided interval. */
  interval: [number, number];
  boundary: number;
  t: number;
  /** Two-sided p of H0 "estimate = boundary". */
  p: number;
  effect: { name: 'd' | 'd_z' | 'g'; value: number };
  /**
   * The standard deviation of one seed's contribution to the estimate: s of the values (one-sample), of the
   * differences (paired), √(s_a² + s_b²) for Welch (the spread of a difference of two independent runs).
   */
  sdUnit: number;
}

/** t, p and interval from an estimate, its standard error and degrees of freedom (se = 0: module comment). */
function assemble(
  method: TTest['method'],
  n: number[],
  estimate: number,
  se: number,
  df: number,
  boundary: number,
  effect: TTest['effect'],
  sdUnit: number,
): TTest {
  if (se === 0) {
    const same = estimate === boundary;
    return {
      method,
      n,
      estimate,
      se,
      df,
      interval: [estimate, estimate],
      boundary,
      t: same ? 0 : Math.sign(estimate - boundary) * Infinity,
      p: same ? 1 : 0,
      effect,
      sdUnit,
    };
  }
  const t = (estimate - boundary) / se;
  const h = tQuantile975(df) * se;
  return {
    method,
    n,
    estimate,
    se,
    df,
    interval: [estimate - h, estimate + h],
    boundary,
    t,
    p: tTwoSidedP(t, df),
    effect,
    sdUnit,
  };
}

const ratio = (num: number, den: number) => (den > 0 ? num / den : num === 0 ? 0 : Math.sign(num) * Infinity);

/** One-sample t test of mean(xs) = boundary (null for fewer than 2 values); effect size d = (x̄ − b)/s. */
export function oneSampleTest(xs: number[], boundary = 0): TTest | null {
  if (xs.length < 2) return null;
  const m = mean(xs);
  const s = Math.sqrt(variance(xs));
  return assemble(
    'one-sample',
    [xs.length],
    m,
    s / Math.sqrt(xs.length),
    xs.length - 1,
    boundary,
    { name: 'd', value: ratio(m - boundary, s) },
    s,
  );
}

/** Paired t test over equally long, seed-aligned `a` and `b`: the one-sample test of aᵢ − bᵢ; effect size d_z = d̄/s_d. */
export function pairedTest(a: number[], b: number[], boundary = 0): TTest | null {
  if (a.length !== b.length)
    throw new Error(`pairedTest: the arms must be aligned by seed (${a.length} vs ${b.length} values)`);
  const t = oneSampleTest(
    a.map((x, i) => x - b[i]),
    boundary,
  );
  return t && { ...t, method: 'paired', effect: { name: 'd_z', value: ratio(t.estimate, t.sdUnit) } };
}

/** Welch's t test of mean(a) − mean(b) = boundary (null when an arm has fewer than 2 values); effect size Hedges' g. */
export function welchTest(a: number[], b: number[], boundary = 0): TTest | null {
  if (a.length < 2 || b.length < 2) return null;
  const [na, nb] = [a.length, b.length];
  const [sa2, sb2] = [variance(a), variance(b)];
  const va = sa2 / na;
  const vb = sb2 / nb;
  const se = Math.sqrt(va + vb);
  const d = mean(a) - mean(b);
  const df = se === 0 ? na + nb - 2 : (va + vb) ** 2 / ((va * va) / (na - 1) + (vb * vb) / (nb - 1));
  const sp = Math.sqrt(((na - 1) * sa2 + (nb - 1) * sb2) / (na + nb - 2));
  const g = ratio(d, sp) * (1 - 3 / (4 * (na + nb) - 9));
  return assemble('welch', [na, nb], d, se, df, boundary, { name: 'g', value: g }, Math.sqrt(sa2 + sb2));
}

/** One-sample 95 % t interval of the mean (null for fewer than 2 values). */
export function meanInterval(xs: number[]): [number, number] | null {
  return oneSampleTest(xs)?.interval ?? null;
}

/** Welch's 95 % interval of mean(a) − mean(b) (null when an arm has fewer than 2 values; the point when both sds are 0). */
export function welchInterval(a: number[], b: number[]): [number, number] | null {
  return welchTest(a, b)?.interval ?? null;
}

/** Holm-adjusted p-values of one family, in the input's order (module comment). NaN entries stay NaN and are not counted. */
export function holm(ps: number[]): number[] {
  const idx = ps
    .map((p, i) => [p, i] as const)
    .filter(([p]) => Number.isFinite(p))
    .sort((x, y) => x[0] - y[0]);
  const k = idx.length;
  const out = ps.map(() => NaN);
  let running = 0;
  idx.forEach(([p, i], j) => {
    running = Math.max(running, Math.min(1, (k - j) * p));
    out[i] = running;
  });
  return out;
}
