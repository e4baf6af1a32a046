/**
 * The regime check: whether the runs behind a claim reach the regime the claim is about (the catalog's
 * `RegimeRequirement`s of `Claim.regime`), read from the configs the runs stored (config.json: the resolved config
 * and its `derivation` record), never typed per claim. A claim whose regime is not met gets the verdict "not
 * testable at this scale" (./verdict), whatever its numbers say, and stays out of the Holm family.
 *
 *   coverage    derivation.paperStepsCovered / paperStepsTotal ≥ atLeast
 *   gammaT      γ·T of the first phase of the run's γ schedule, or Σ γ·T over the run (`total`), ≥ atLeast; the
 *               phases are ./derive `gammaPhases(config.gamma, derivation.runSteps, derivation.stepsPerEpoch)`
 *   afterDecay  the γ or lr schedule decays within the run (./derive `decayEverySteps` with derivation.stepsPerEpoch)
 *               and (runSteps − first decay step) / stepsPerEpoch ≥ epochsAtLeast
 *   tauActive   1/within ≤ derivation.tauRelative ≤ within (τ/σ_m within a factor `within` of the paper's)
 *   tauVsNoise  derivation.tauOverNoise ≥ atLeast (τ against the measured noise of m at the end of the first γ phase)
 *
 * Every config of the experiment (one per finished seed) must meet a requirement; a config without a derivation
 * record fails it ("rerun it"). An experiment without finished runs is judged on the config its profile resolves to
 * (./registry `profileConfig`), so a claim is known to be untestable at a scale before anything runs.
 */
import type { Claim, Profile, RegimeRequirement } from './catalog';
import type { ExperimentConfig } from './config';
import { decayEverySteps, gammaPhases } from './derive';
import { getExperiment, profileConfig } from './registry';

/** One requirement, checked. */
export interface RegimeCheckItem {
  requirement: RegimeRequirement;
  met: boolean;
  /** True when there was no config to judge it on (no finished run, no profile config). */
  noConfig?: boolean;
  /** Measured against required, e.g. "x covers 0.4 of the paper run; the claim needs ≥ 1: <why>". */
  detail: string;
}

export interface RegimeResult {
  /** Every requirement met (true for a claim without requirements). */
  met: boolean;
  /** One line per requirement (per seed where seeds differ): measured vs required, and why when not met. */
  details: string[];
  checks: RegimeCheckItem[];
}

/** Resolved configs per experiment name (the finished runs' config.json `config`). */
export type ConfigsByExperiment = Record<string, ExperimentConfig[]>;

const num = (x: number) => (Number.isFinite(x) ? String(Number(x.toPrecision(2))) : String(x));

/** What one config measures for one requirement: the measured phrase and whether it is met. */
function measure(r: RegimeRequirement, c: ExperimentConfig): { met: boolean; measured: string } {
  const d = c.derivation;
  if (!d)
    return {
      met: false,
      measured: `${r.experiment} seed ${c.seed}: no derivation record in its config.json: rerun it (npm run experiment -- ${r.experiment} --profile ${c.profile} --seed ${c.seed})`,
    };
  if (r.kind === 'coverage') {
    const f = d.paperStepsTotal > 0 ? d.paperStepsCovered / d.paperStepsTotal : NaN;
    return {
      met: f >= r.atLeast * (1 - 1e-9),
      measured: `${r.experiment} covers ${num(f)} of the paper run (${Math.round(d.paperStepsCovered).toLocaleString('en')} of ${d.paperStepsTotal.toLocaleString('en')} paper steps)`,
    };
  }
  if (r.kind === 'gammaT') {
    if (!c.gamma) return { met: false, measured: `${r.experiment} has no γ schedule (not a Bop run)` };
    const phases = gammaPhases(c.gamma, d.runSteps, d.stepsPerEpoch);
    const v = r.phase === 'first' ? phases[0].gammaT : phases.reduce((a, p) => a + p.gammaT, 0);
    return {
      met: v >= r.atLeast * (1 - 1e-9),
      measured: `${r.experiment}: γ·T ${r.phase === 'first' ? 'of its first γ phase' : 'over the run'} is ${num(v)}`,
    };
  }
  if (r.kind === 'afterDecay') {
    const s = r.schedule === 'gamma' ? c.gamma : c.lr;
    const name = r.schedule === 'gamma' ? 'γ' : 'lr';
    if (!s) return { met: false, measured: `${r.experiment} has no ${name} schedule` };
    const every = decayEverySteps(s, d.stepsPerEpoch);
    if (every === null || every >= d.runSteps)
      return { met: false, measured: `${r.experiment}: its ${name} never decays within the run (${d.runSteps} steps)` };
    const after = (d.runSteps - every) / d.stepsPerEpoch;
    return {
      met: after >= r.epochsAtLeast * (1 - 1e-9),
      measured: `${r.experiment}: its ${name} first decays at step ${every} of ${d.runSteps}, ${num(after)} epochs before the end`,
    };
  }
  if (r.kind === 'tauVsNoise') {
    const t = d.tauOverNoise;
    if (t == null)
      return {
        met: false,
        measured: `${r.experiment}: no measured gradient noise in its derivation record (a Bop sizing with gradientNoise records it)`,
      };
    return {
      met: t >= r.atLeast * (1 - 1e-9),
      measured: `${r.experiment}: τ is ${num(t)}× the noise of m at the end of its first γ phase`,
    };
  }
  // tauActive
  const t = d.tauRelative;
  if (t == null) return { met: false, measured: `${r.experiment} has no τ (not a Bop run)` };
  return {
    met: t >= 1 / r.within && t <= r.within,
    measured: `${r.experiment}: τ/σ_m is ${num(t)}× the paper's ratio`,
  };
}

/** What the requirement asks, as the second half of a detail. */
function required(r: RegimeRequirement): string {
  if (r.kind === 'coverage') return `≥ ${num(r.atLeast)} of it`;
  if (r.kind === 'gammaT') return `γ·T ≥ ${num(r.atLeast)}`;
  if (r.kind === 'afterDecay')
    return `≥ ${num(r.epochsAtLeast)} epoch(s) after the first ${r.schedule === 'gamma' ? 'γ' : 'lr'} decay`;
  if (r.kind === 'tauVsNoise') return `τ ≥ ${num(r.atLeast)}× that noise`;
  return `within ×${num(r.within)} of it (${num(1 / r.within)}–${num(r.within)})`;
}

/** One requirement over every config of its experiment (module comment). */
export function checkRequirement(r: RegimeRequirement, configs: ExperimentConfig[]): RegimeCheckItem {
  if (!configs.length)
    return {
      requirement: r,
      met: false,
      noConfig: true,
      detail: `${r.experiment}: no config to check (no finished run and no profile config); the claim needs ${required(r)}: ${r.why}`,
    };
  const each = configs.map((c) => ({ c, ...measure(r, c) }));
  const met = each.every((x) => x.met);
  const distinct = [...new Set(each.map((x) => x.measured))];
  const measured = distinct.length === 1 ? distinct[0] : each.map((x) => `seed ${x.c.seed}: ${x.measured}`).join('; ');
  const noRecord = each.every((x) => !x.c.derivation);
  return {
    requirement: r,
    met,
    detail: noRecord ? measured : `${measured}; the claim needs ${required(r)}${met ? ' (met)' : `: ${r.why}`}`,
  };
}

/**
 * Evaluates every regime requirement of `claim` against the stored configs of the finished runs, by experiment.
 * With `profile`, an experiment without configs is judged on its profile's resolved config (first seed of the
 * profile); an error resolving it (e.g. a dataset whose size is needed is missing) is reported as the detail.
 */
export function regimeCheck(claim: Claim, configsByExperiment: ConfigsByExperiment, profile?: string): RegimeResult {
  const checks = (claim.regime ?? []).map((r) => {
    let configs = configsByExperiment[r.experiment] ?? [];
    if (!configs.length && profile) {
      try {
        const seed = getExperiment(r.experiment).seeds[profile as Profile]?.[0] ?? 0;
        configs = [profileConfig(r.experiment, profile, seed)];
      } catch (e) {
        return {
          requirement: r,
          met: false,
          noConfig: true,
          detail: `${r.experiment}: no finished runs, and its ${profile} config does not resolve (${(e as Error).message})`,
        };
      }
    }
    return checkRequirement(r, configs);
  });
  return { met: checks.every((c) => c.met), details: checks.map((c) => c.detail), checks };
}
