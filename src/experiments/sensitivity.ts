/**
 * The §5.1 claims (sensitivity to γ and τ) read off the calibration grid by a count rule, outside the Holm family
 * (./verdict): each claim's comparisons between grid points are counted, on the per-point means over seeds.
 */
import { mean } from '../results/stats';
import type { Claim, ClaimTest } from './catalog';
import { claimVerdict, pp, seedsText, type Verdict, type VerdictWord } from './verdict';

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

/** The axes of a grid: its γ and τ factors, ascending, and the point at a (γ, τ) pair of factors. */
interface GridAxes {
  gammas: number[];
  taus: number[];
  at: (gf: number, tf: number) => GridPoint | undefined;
}

/** What a count rule found: the word, the estimate behind it and the measured line. */
interface Outcome {
  verdict: VerdictWord;
  estimate: number;
  text: string;
}

type PointPair = [GridPoint | undefined, GridPoint | undefined];
type Count = { good: number; n: number };

/** The axes of `grid` (`GridAxes`). */
function axesOf(grid: GridPoint[]): GridAxes {
  const gammas = [...new Set(grid.map((g) => g.gammaFactor))].sort((a, b) => a - b);
  const taus = [...new Set(grid.map((g) => g.tauFactor))].sort((a, b) => a - b);
  const at = (gf: number, tf: number) => grid.find((g) => g.gammaFactor === gf && g.tauFactor === tf);
  return { gammas, taus, at };
}

/** Of the pairs whose two points exist, how many satisfy `ok`. */
function countPairs(pairs: PointPair[], ok: (a: GridPoint, b: GridPoint) => boolean): Count {
  const ps = pairs.filter((p): p is [GridPoint, GridPoint] => !!p[0] && !!p[1]);
  const good = ps.filter(([a, b]) => ok(a, b)).length;
  return { good, n: ps.length };
}

/** The count rule: consistent when every comparison goes the claimed way, contradicted when none does. */
function countWord(c: Count): VerdictWord {
  return c.n === 0 ? 'not run' : c.good === c.n ? 'consistent' : c.good === 0 ? 'contradicted' : 'inconclusive';
}

/** Flips between neighbours along γ (more at the higher γ) or along τ (fewer at the higher τ). */
function flipsOutcome(expect: 'flipsRiseWithGamma' | 'flipsFallWithTau', { gammas, taus, at }: GridAxes): Outcome {
  const pairs: PointPair[] = [];
  if (expect === 'flipsRiseWithGamma')
    for (const tf of taus)
      for (let i = 1; i < gammas.length; i++) pairs.push([at(gammas[i - 1], tf), at(gammas[i], tf)]);
  else
    for (const gf of gammas) for (let i = 1; i < taus.length; i++) pairs.push([at(gf, taus[i - 1]), at(gf, taus[i])]);
  const c = countPairs(pairs, (a, b) =>
    expect === 'flipsRiseWithGamma' ? meanFlipRatio(b) > meanFlipRatio(a) : meanFlipRatio(b) < meanFlipRatio(a),
  );
  return {
    verdict: countWord(c),
    estimate: c.n ? c.good / c.n : NaN,
    text: `${c.good} of ${c.n} neighbouring grid points show ${expect === 'flipsRiseWithGamma' ? 'more flips at the higher γ' : 'fewer flips at the higher τ'}`,
  };
}

/** The highest γ against the lowest at the lowest nonzero τ: ahead after a quarter of the run, behind at the end. */
function plateauOutcome({ gammas, taus, at }: GridAxes): Outcome {
  const tf = taus.find((x) => x > 0);
  const hi = tf !== undefined ? at(gammas[gammas.length - 1], tf) : undefined;
  const lo = tf !== undefined ? at(gammas[0], tf) : undefined;
  if (!hi || !lo) return { verdict: 'not run', estimate: NaN, text: 'the grid lacks the corner points' };
  const q = Math.max(1, Math.floor(hi.valAccuracy.length / 4));
  const early = hi.valAccuracy[q - 1] - lo.valAccuracy[q - 1];
  const late = hi.valAccuracy[hi.valAccuracy.length - 1] - lo.valAccuracy[lo.valAccuracy.length - 1];
  const verdict: VerdictWord =
    early > 0 && late < 0 ? 'consistent' : early <= 0 && late >= 0 ? 'contradicted' : 'inconclusive';
  return {
    verdict,
    estimate: late,
    text: `γ ×${gammas[gammas.length - 1]} vs ×${gammas[0]} at τ ×${tf}: ${pp(early)} after epoch ${q}, ${pp(late)} at the end`,
  };
}

/** At τ = 0, the last epoch below the run's best by more than 1 pp, counted over γ. */
function tauZeroOutcome({ gammas, at }: GridAxes): Outcome {
  const zero = gammas.map((gf) => at(gf, 0)).filter((g): g is GridPoint => !!g);
  if (!zero.length) return { verdict: 'not run', estimate: NaN, text: 'no τ = 0 column in the grid' };
  const drops = zero.map((g) => Math.max(...g.valAccuracy) - g.valAccuracy[g.valAccuracy.length - 1]);
  const c = { good: drops.filter((d) => d > 0.01).length, n: drops.length };
  return {
    verdict: countWord(c),
    estimate: mean(drops),
    text: `τ = 0: last epoch below the best by ${drops.map(pp).join(', ')} (γ ×${gammas.join(', ×')})`,
  };
}

/** The count rule of one §5.1 claim on a grid of at least two points. */
function outcomeOf(expect: Extract<ClaimTest, { kind: 'sensitivity' }>['expect'], axes: GridAxes): Outcome {
  if (expect === 'flipsRiseWithGamma' || expect === 'flipsFallWithTau') return flipsOutcome(expect, axes);
  if (expect === 'highGammaLowTauPlateausLower') return plateauOutcome(axes);
  return tauZeroOutcome(axes); // tauZeroDeteriorates
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
  const out = ({ verdict, estimate, text }: Outcome): Verdict => ({
    ...base,
    verdict,
    estimate,
    measured: text,
    detail: text,
  });
  if (grid.length < 2)
    return out({ verdict: 'not run', estimate: NaN, text: 'no calibration grid in this profile (npm run calibrate)' });
  return out(outcomeOf(t.expect, axesOf(grid)));
}
