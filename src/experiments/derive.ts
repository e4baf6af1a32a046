/**
 * Small profiles derived from the paper's dynamics, not from its epoch count.
 *
 * Bop's moving average m_t = (1 − γ)·m + γ·g forgets with time constant 1/γ steps, so what a phase of the paper's
 * γ schedule does is set by γ·T, the number of time constants it lasts (T = steps in the phase). The paper's
 * CIFAR-10 schedule holds γ = 1e-4 for 100,000 steps (γ·T = 10), then 1e-5 (γ·T = 1), 1e-6 (0.1), 1e-7, 1e-8: only
 * the first two phases move weights; in the later ones m can no longer cross τ often enough to flip anything and
 * the network is frozen. Scaling every schedule by the epoch ratio alone (3,000 steps instead of 500,000) holds
 * γ = 1e-4 for 600 steps, γ·T = 0.06: m never leaves its zero start and nothing trains.
 *
 * The rules, applied to every experiment of a small profile (`rule: 'dynamics'`):
 *
 * 1. **Time axis.** The small run covers the paper's phases that still move weights, those with γ·T ≥ 1 (of the
 *    reference Bop schedule named by the profile, e.g. cifar10-bop's), compressed onto its own steps: paper step p
 *    maps to p·s with s = (small run's steps) / (paper steps those phases span). Phases that only freeze are
 *    dropped, and the notebooks say so.
 * 2. **γ.** Every γ value is divided by s, so γ·T per phase equals the paper's (first phase ≈ 10, second ≈ 1);
 *    decays happen at the same places on the compressed axis.
 * 3. **τ.** Scaled to the noise of m: at stationarity σ_m ≈ σ_g·√(γ/2), with σ_g the per-weight gradient noise,
 *    which grows as 1/width (fan-in shrinks) and as 1/√batch. τ_small = τ_paper · (1/width) · √(B_paper/B_small) ·
 *    √(γ_small/γ_paper), so τ/σ_m is the paper's.
 * 4. **Learning rates** (Adam on latent weights, Adam on the BN betas): the paper's values, decayed at the same
 *    places on the compressed axis (Adam's step is already ≈ lr per step). The baseline keeps Xavier learning-rate
 *    scaling (./optimizers `xavierLrMultipliers`).
 *
 * Calibration (the §5.1 sensitivity study at this scale) may then multiply γ and τ by factors chosen on a split
 * held out of the training set; the registry applies them.
 */
import type { DecaySchedule } from './config';

/** One phase of a staircase γ schedule on the paper's run. */
export interface Phase {
  gamma: number;
  /** Steps the phase lasts. */
  steps: number;
  /** γ·T: time constants of m the phase lasts. */
  gammaT: number;
}

/** Steps between decays of a schedule on a run with `stepsPerEpoch` (null: never decays). */
export function decayEverySteps(s: DecaySchedule, stepsPerEpoch: number): number | null {
  if (s.decay === 1) return null;
  if (s.everySteps != null) return s.everySteps;
  return s.everyEpochs === null ? null : s.everyEpochs * stepsPerEpoch;
}

/** The phases of a γ schedule over a whole run of `totalSteps` (a constant schedule is one phase). */
export function gammaPhases(s: DecaySchedule, totalSteps: number, stepsPerEpoch: number): Phase[] {
  const every = decayEverySteps(s, stepsPerEpoch);
  const out: Phase[] = [];
  if (every === null || every >= totalSteps)
    return [{ gamma: s.initial, steps: totalSteps, gammaT: s.initial * totalSteps }];
  for (let start = 0, k = 0; start < totalSteps; start += every, k++) {
    const steps = Math.min(every, totalSteps - start);
    const gamma = s.initial * Math.pow(s.decay, k);
    out.push({ gamma, steps, gammaT: gamma * steps });
  }
  return out;
}

/** The compressed time axis of a small run. */
export interface TimeAxis {
  /** Paper steps the small run covers (the phases with γ·T ≥ minGammaT). */
  paperSteps: number;
  /** Small-run steps per paper step. */
  scale: number;
  kept: Phase[];
  dropped: Phase[];
}

/**
 * Rule 1: the paper phases of the reference γ schedule that move weights (γ·T ≥ `minGammaT`, default 1) and the
 * scale s that maps them onto `runSteps`. At least the first phase is always kept.
 */
export function timeAxis(
  refGamma: DecaySchedule,
  paperEpochs: number,
  paperStepsPerEpoch: number,
  runSteps: number,
  minGammaT = 1,
): TimeAxis {
  if (!(runSteps > 0)) throw new Error(`timeAxis: runSteps must be > 0, got ${runSteps}`);
  const phases = gammaPhases(refGamma, paperEpochs * paperStepsPerEpoch, paperStepsPerEpoch);
  let n = phases.findIndex((p) => p.gammaT < minGammaT * (1 - 1e-9));
  if (n === -1) n = phases.length;
  n = Math.max(1, n);
  const kept = phases.slice(0, n);
  const paperSteps = kept.reduce((a, p) => a + p.steps, 0);
  return { paperSteps, scale: runSteps / paperSteps, kept, dropped: phases.slice(n) };
}

/**
 * Rules 2 and 4 for one schedule: decays move to the same places on the compressed axis; with `divideBy` (γ),
 * every value is divided by the axis scale so γ·T per phase is kept. The result decays every N small-run steps.
 */
export function compressSchedule(
  s: DecaySchedule,
  axis: TimeAxis,
  paperStepsPerEpoch: number,
  valueRule: 'gamma' | 'lr',
): DecaySchedule {
  const initial = valueRule === 'gamma' ? s.initial / axis.scale : s.initial;
  const every = decayEverySteps(s, paperStepsPerEpoch);
  if (every === null) return { initial, decay: 1, everyEpochs: null, everySteps: null };
  const small = Math.max(1, Math.round(every * axis.scale));
  return { initial, decay: s.decay, everyEpochs: null, everySteps: small };
}

/** Rule 3: τ scaled to the noise of m, σ_m ≈ σ_g·√(γ/2), σ_g ∝ 1/width and ∝ 1/√batch. */
export function scaleTau(
  tauPaper: number,
  gammaPaper: number,
  gammaSmall: number,
  width: number,
  batchPaper: number,
  batchSmall: number,
): number {
  if (!(width > 0) || !(batchPaper > 0) || !(batchSmall > 0) || !(gammaPaper > 0) || !(gammaSmall > 0)) {
    throw new Error(
      `scaleTau: width, batch sizes and γ must be > 0 (width ${width}, batches ${batchPaper}/${batchSmall}, γ ${gammaPaper}/${gammaSmall})`,
    );
  }
  return tauPaper * (1 / width) * Math.sqrt(batchPaper / batchSmall) * Math.sqrt(gammaSmall / gammaPaper);
}

/**
 * Standard deviation of m after `steps` steps from m₀ = 0 under white gradient noise σ_g (m_t = (1 − γ)·m + γ·g):
 *
 *     σ_m(T) = σ_g·γ·√(Σ_{j<T} (1 − γ)^{2j}) = σ_g·√(γ/(2 − γ))·√(1 − (1 − γ)^{2T})
 *
 * which tends to the stationary σ_g·√(γ/(2 − γ)) ≈ σ_g·√(γ/2) once γ·T ≫ 1 and is ≈ σ_g·γ·√T while γ·T ≪ 1 (m still
 * sums the gradients: the regime of the report's UNet, γ·T = 0.57 in its first phase). `steps` = ∞: stationary.
 */
export function noiseOfM(sigmaG: number, gamma: number, steps = Infinity): number {
  if (!(sigmaG >= 0) || !(gamma > 0 && gamma < 1) || !(steps >= 0))
    throw new Error(`noiseOfM: needs σ_g ≥ 0, 0 < γ < 1, steps ≥ 0 (got ${sigmaG}, ${gamma}, ${steps})`);
  const fill = Number.isFinite(steps) ? 1 - Math.pow(1 - gamma, 2 * steps) : 1;
  return sigmaG * Math.sqrt(gamma / (2 - gamma)) * Math.sqrt(fill);
}
