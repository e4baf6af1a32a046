/**
 * Resolves the catalog (./catalog) into run configs: the `paper` profile is the original's settings to the
 * letter; `quick` and `smoke` are derived from it by the rule their sizing names (./derive: the paper's dynamics,
 * or the epoch ratio), then multiplied by the calibration's factors (calibration/factors.json, written by
 * `npm run calibrate`: γ and τ for Bop, the learning rate for the baselines) of the experiment the sizing names in
 * `calibration`.
 */
import type { DecaySchedule, ExperimentConfig } from './config';
import { EXPERIMENTS, ExperimentEntry, PROFILES, Profile, Sizing } from './catalog';
import { compressSchedule, gammaPhases, noiseOfM, Phase, scaleTau, timeAxis, TimeAxis } from './derive';
import { availableSizes, datasetEntry } from './datasets';
import { calibrationOf, type CalibrationFactors } from './calibrationFile';

export { PROFILES } from './catalog';
export type { ExperimentEntry, Profile, Reference, Sizing } from './catalog';
export {
  CALIBRATION_FILE,
  calibrationOf,
  readCalibrationFile,
  type Calibration,
  type CalibrationFactors,
} from './calibrationFile';

if (new Set(EXPERIMENTS.map((e) => e.name)).size !== EXPERIMENTS.length)
  throw new Error('catalog: two experiments share a name');

export function experimentNames(): string[] {
  return EXPERIMENTS.map((e) => e.name);
}

export function getExperiment(name: string): ExperimentEntry {
  const e = EXPERIMENTS.find((x) => x.name === name);
  if (!e) throw new Error(`Unknown experiment '${name}'. Known: ${experimentNames().join(', ')}`);
  return e;
}

/** The schedule in an epoch-ratio profile: the same decay at the same fraction of the run. */
function scaleByEpochs(s: DecaySchedule | null, factor: number, paperStepsPerEpoch: number): DecaySchedule | null {
  if (!s) return null;
  const paperEveryEpochs = s.everySteps != null ? s.everySteps / paperStepsPerEpoch : s.everyEpochs;
  return {
    initial: s.initial,
    decay: s.decay,
    everyEpochs: paperEveryEpochs === null ? null : paperEveryEpochs * factor,
    everySteps: null,
  };
}

/**
 * Training examples of a run of this sizing: the per-class subset, else the limit, else the whole split. For Pets,
 * the size of the copy actually found (the 600-image sample or the full 3,680 trainval list), so that a profile
 * derived from the dynamics follows the steps the run will really take; the full list when none is found.
 */
export function trainExamples(e: ExperimentEntry, size: Sizing): number {
  const perClass = size.trainPerClass !== undefined ? size.trainPerClass : e.paper.trainPerClass;
  const limit = size.trainLimit !== undefined ? size.trainLimit : e.paper.trainLimit;
  const available = availableSizes(e.paper.dataset).train;
  return perClass != null
    ? perClass * datasetEntry(e.paper.dataset).classes
    : limit != null
      ? Math.min(limit, available)
      : available;
}

/** Steps per epoch of a run of this sizing. */
export function stepsPerEpochOf(e: ExperimentEntry, size: Sizing): number {
  return Math.floor(trainExamples(e, size) / (size.batchSize ?? e.paper.batchSize));
}

/** Steps of a run of this sizing (the steps per epoch follow from the subset sizes). */
export function runSteps(e: ExperimentEntry, size: Sizing): number {
  return size.epochs * stepsPerEpochOf(e, size);
}

/** The sizing of an experiment in a small profile, with `over` replacing its fields. */
function sizingOf(e: ExperimentEntry, profile: 'quick' | 'smoke', over: Partial<Sizing> = {}): Sizing {
  return { ...e[profile], ...over };
}

/**
 * The compressed time axis of an experiment in a dynamics-rule sizing. With `sameScale`, the axis experiment's own
 * scale in this profile, and the phases this run's steps cover at that scale.
 */
export function axisOf(e: ExperimentEntry, size: Sizing, profile: 'quick' | 'smoke' = 'quick'): TimeAxis {
  const ref = getExperiment(size.axis ?? e.name);
  if (!ref.paper.gamma) throw new Error(`${e.name}: the time axis '${ref.name}' has no γ schedule`);
  if (size.sameScale && ref.name !== e.name) {
    const refAxis = axisOf(ref, sizingOf(ref, profile), profile);
    const covered = runSteps(e, size) / refAxis.scale;
    const all = gammaPhases(
      e.paper.gamma ?? ref.paper.gamma,
      e.paper.epochs * e.paperStepsPerEpoch,
      e.paperStepsPerEpoch,
    );
    let left = covered;
    const kept: Phase[] = [];
    for (const p of all) {
      if (left <= 0) break;
      const steps = Math.min(p.steps, left);
      kept.push({ ...p, steps, gammaT: p.gamma * steps });
      left -= steps;
    }
    return { paperSteps: covered, scale: refAxis.scale, kept, dropped: [] };
  }
  return timeAxis(ref.paper.gamma, ref.paper.epochs, ref.paperStepsPerEpoch, runSteps(e, size), size.minGammaT ?? 1);
}

/** Sizing fields that `--set` may change before the profile is derived (so the schedules follow them). */
export const SIZING_KEYS = [
  'epochs',
  'width',
  'batchSize',
  'trainPerClass',
  'testPerClass',
  'trainLimit',
  'testLimit',
  'imageSize',
] as const;

/** γ·T of every phase of a run's γ schedule (empty without γ). */
function gammaTOf(c: ExperimentConfig, stepsPerEpoch: number): number[] {
  if (!c.gamma) return [];
  return gammaPhases(c.gamma, c.epochs * stepsPerEpoch, stepsPerEpoch).map((p) => Number(p.gammaT.toPrecision(6)));
}

/**
 * τ over the stationary noise of m, relative to the paper's ratio (./derive rule 3): τ_run / τ_matched, where
 * τ_matched is the paper's τ carried to this run's width, batch and first-phase γ. 1 = the paper's ratio; ≪ 1: the
 * sign of m alone decides the flips.
 */
function tauRelativeOf(c: ExperimentConfig, e: ExperimentEntry): number | null {
  if (c.threshold === null || !c.gamma || e.paper.threshold === null || !e.paper.gamma) return null;
  // invalid values are reported by validateConfig, after --set; the record only describes valid ones
  if (!(c.gamma.initial > 0 && c.width > 0 && c.batchSize > 0)) return null;
  const matched = scaleTau(
    e.paper.threshold,
    e.paper.gamma.initial,
    c.gamma.initial,
    c.width,
    e.paper.batchSize,
    c.batchSize,
  );
  return Number((c.threshold / matched).toPrecision(6));
}

/** The catalog's sizing of a config's small profile (what its gradient noise was measured on, before any --set). */
function catalogSizing(c: ExperimentConfig, e: ExperimentEntry): Sizing | undefined {
  return c.profile === 'quick' || c.profile === 'smoke' ? e[c.profile] : undefined;
}

/**
 * The noise of m at the end of the first γ phase of a config (./derive `noiseOfM`), from the gradient noise measured
 * for its sizing (`Sizing.gradientNoise`), carried to the config's width and batch size by rule 3 of ./derive
 * (σ_g ∝ 1/width, ∝ 1/√batch); null when the sizing records no measurement or the config has no γ.
 */
function firstPhaseNoiseOfM(c: ExperimentConfig, e: ExperimentEntry, stepsPerEpoch: number): number | null {
  const size = catalogSizing(c, e);
  const g = size?.gradientNoise;
  if (!size || !g || !c.gamma || !(c.gamma.initial > 0 && c.gamma.initial < 1) || !(c.width > 0 && c.batchSize > 0))
    return null;
  const sigmaG = g.sigmaG * (size.width / c.width) * Math.sqrt((size.batchSize ?? c.batchSize) / c.batchSize);
  const first = gammaPhases(c.gamma, c.epochs * stepsPerEpoch, stepsPerEpoch)[0];
  return noiseOfM(sigmaG, c.gamma.initial, first.steps);
}

/** τ over the noise of m at the end of the first γ phase (`Derivation.tauOverNoise`); null without a measurement. */
function tauOverNoiseOf(c: ExperimentConfig, e: ExperimentEntry, stepsPerEpoch: number): number | null {
  const n = firstPhaseNoiseOfM(c, e, stepsPerEpoch);
  return n === null || c.threshold === null ? null : Number((c.threshold / n).toPrecision(6));
}

/**
 * The resolved config of an experiment in a profile, for a seed. `sizing` replaces fields of the profile's sizing
 * before derivation (how `--set epochs=N` re-derives the schedules by the profile's own rule). `factors` replaces the
 * calibration's (the calibration grid itself runs at factors 1 times its multipliers). Every config carries its
 * `derivation` (steps, paper steps covered, γ·T per phase, τ relative to the noise of m).
 */
export function profileConfig(
  name: string,
  profile: string,
  seed: number,
  sizing: Partial<Sizing> = {},
  factors?: CalibrationFactors,
): ExperimentConfig {
  const e = getExperiment(name);
  if (!PROFILES.includes(profile as Profile))
    throw new Error(`Unknown profile '${profile}'. Allowed: ${PROFILES.join(', ')}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed ${seed}: must be an integer ≥ 0`);
  const base: ExperimentConfig = {
    experiment: name,
    profile,
    section: e.section,
    seed,
    ...JSON.parse(JSON.stringify(e.paper)),
  };
  if (profile === 'paper') return paperProfileConfig(e, base, sizing);
  const size = sizingOf(e, profile as 'quick' | 'smoke', sizing);
  const sized = sizedConfig(base, size);
  const spe = stepsPerEpochOf(e, size);
  if ((size.rule ?? 'epochs') === 'epochs') {
    const factor = size.epochs / e.paper.epochs;
    const c = {
      ...sized,
      gamma: scaleByEpochs(base.gamma, factor, e.paperStepsPerEpoch),
      lr: scaleByEpochs(base.lr, factor, e.paperStepsPerEpoch)!,
    };
    const paperStepsTotal = e.paper.epochs * e.paperStepsPerEpoch;
    return withDerivation(e, size, spe, c, 'epochs', paperStepsTotal * Math.min(1, size.epochs / e.paper.epochs));
  }
  return dynamicsConfig(e, base, sized, size, profile as 'quick' | 'smoke', spe, factors);
}

/** The `paper` profile: the paper's settings, with the sizing fields of `sizing` replaced and the steps they give. */
function paperProfileConfig(e: ExperimentEntry, base: ExperimentConfig, sizing: Partial<Sizing>): ExperimentConfig {
  const out = { ...base };
  for (const [k, v] of Object.entries(sizing))
    if (v !== undefined && (SIZING_KEYS as readonly string[]).includes(k))
      (out as unknown as Record<string, unknown>)[k] = v;
  const spe = stepsPerEpochOf(e, out as unknown as Sizing);
  return {
    ...out,
    derivation: {
      rule: 'paper',
      stepsPerEpoch: spe,
      runSteps: out.epochs * spe,
      paperStepsCovered: out.epochs * spe,
      paperStepsTotal: e.paper.epochs * e.paperStepsPerEpoch,
      gammaT: gammaTOf(out, spe),
      tauRelative: out.threshold === null ? null : 1,
    },
  };
}

/** The paper's config with the sizing fields of a small profile's sizing (its schedules still the paper's). */
function sizedConfig(base: ExperimentConfig, size: Sizing): ExperimentConfig {
  return {
    ...base,
    epochs: size.epochs,
    width: size.width,
    batchSize: size.batchSize ?? base.batchSize,
    trainPerClass: size.trainPerClass !== undefined ? size.trainPerClass : base.trainPerClass,
    testPerClass: size.testPerClass !== undefined ? size.testPerClass : base.testPerClass,
    trainLimit: size.trainLimit !== undefined ? size.trainLimit : base.trainLimit,
    testLimit: size.testLimit !== undefined ? size.testLimit : base.testLimit,
    imageSize: size.imageSize ?? base.imageSize,
  };
}

/** A small profile's config with its `derivation`: `spe` steps per epoch, `covered` paper steps, γ·T and τ ratios. */
function withDerivation(
  e: ExperimentEntry,
  size: Sizing,
  spe: number,
  c: ExperimentConfig,
  rule: 'dynamics' | 'epochs',
  covered: number,
): ExperimentConfig {
  return {
    ...c,
    derivation: {
      rule,
      stepsPerEpoch: spe,
      runSteps: size.epochs * spe,
      paperStepsCovered: Math.round(covered),
      paperStepsTotal: e.paper.epochs * e.paperStepsPerEpoch,
      gammaT: gammaTOf(c, spe),
      tauRelative: tauRelativeOf(c, e),
      ...(size.gradientNoise ? { tauOverNoise: tauOverNoiseOf(c, e, spe) } : {}),
    },
  };
}

/**
 * A small profile derived from the paper's dynamics (./derive): the schedules compressed onto the time axis, τ carried
 * to the run's width, batch and γ scale (or placed against the measured noise of m), times the calibration's factors.
 */
function dynamicsConfig(
  e: ExperimentEntry,
  base: ExperimentConfig,
  sized: ExperimentConfig,
  size: Sizing,
  profile: 'quick' | 'smoke',
  spe: number,
  factors?: CalibrationFactors,
): ExperimentConfig {
  const axis = axisOf(e, size, profile);
  const f: CalibrationFactors = factors ?? (size.calibration ? calibrationOf(size.calibration, profile).factors : {});
  const lr = compressSchedule(base.lr, axis, e.paperStepsPerEpoch, 'lr');
  // the learning-rate factor tunes the baselines' Adam (for Bop runs, lr is the BN betas' Adam: not calibrated)
  const out: ExperimentConfig = {
    ...sized,
    lr: base.optimizer === 'adam' ? { ...lr, initial: lr.initial * (f.lr ?? 1) } : lr,
  };
  if (base.gamma && base.threshold !== null) {
    const g = compressSchedule(base.gamma, axis, e.paperStepsPerEpoch, 'gamma');
    const refGamma = getExperiment(size.axis ?? e.name).paper.gamma!.initial;
    const tau = scaleTau(base.threshold, refGamma, refGamma / axis.scale, sized.width, base.batchSize, sized.batchSize);
    out.gamma = { ...g, initial: g.initial * (f.gamma ?? 1) };
    out.threshold = tau * (f.tau ?? 1);
    // τ placed against the measured noise of m instead of carried from the paper's τ (Sizing.gradientNoise)
    const over = size.gradientNoise?.tauOverNoise;
    if (over !== undefined) out.threshold = over * firstPhaseNoiseOfM(out, e, spe)! * (f.tau ?? 1);
  }
  return withDerivation(e, size, spe, out, 'dynamics', axis.paperSteps);
}

/**
 * The config with its derivation's γ·T and τ ratio recomputed from its own γ and τ (after `--set` replaced them), so
 * that the record, and the config's hash, describe what the run trains with.
 */
export function rederive(c: ExperimentConfig): ExperimentConfig {
  if (!c.derivation) return c;
  const e = getExperiment(c.experiment);
  const noise = catalogSizing(c, e)?.gradientNoise
    ? { tauOverNoise: tauOverNoiseOf(c, e, c.derivation.stepsPerEpoch) }
    : {};
  return {
    ...c,
    derivation: {
      ...c.derivation,
      gammaT: gammaTOf(c, c.derivation.stepsPerEpoch),
      tauRelative:
        c.derivation.rule === 'paper'
          ? c.threshold === null
            ? null
            : Number((c.threshold / e.paper.threshold!).toPrecision(6))
          : tauRelativeOf(c, e),
      ...noise,
    },
  };
}

/** One line per profile rule, for the notebooks: the time axis, the phases kept and dropped, γ·T and τ. */
export function derivationNotes(name: string, profile: string): string[] {
  const e = getExperiment(name);
  if (profile === 'paper') return [`${name}: the paper's settings, unchanged.`];
  const size = profile === 'quick' ? e.quick : e.smoke;
  const c = profileConfig(name, profile, 0);
  const d = c.derivation!;
  const f = (x: number) => x.toExponential(2);
  const gt = d.gammaT.length ? `; γ·T per phase here ${d.gammaT.map((x) => x.toPrecision(3)).join(', ')}` : '';
  if ((size.rule ?? 'epochs') === 'epochs')
    return [
      `${name} (${profile}): every schedule scaled by the epoch ratio (${size.epochs}/${e.paper.epochs}), ${d.runSteps} steps${gt}.`,
    ];
  const axis = axisOf(e, size, profile as 'quick' | 'smoke');
  const lines = [
    `${name} (${profile}): ${d.runSteps} steps (${d.stepsPerEpoch} per epoch) cover ${axis.paperSteps.toLocaleString('en')} of the paper's ${d.paperStepsTotal.toLocaleString('en')} steps (scale s = ${f(axis.scale)}).`,
    `  paper phases covered: ${axis.kept.map((p) => `γ ${f(p.gamma)} for ${Math.round(p.steps).toLocaleString('en')} steps (γ·T = ${p.gammaT.toPrecision(3)})`).join('; ')}`,
  ];
  if (axis.dropped.length)
    lines.push(
      `  dropped (they only freeze the network): ${axis.dropped.map((p) => `γ ${f(p.gamma)} (γ·T = ${p.gammaT.toPrecision(2)})`).join('; ')}`,
    );
  if (c.gamma)
    lines.push(
      `  here: γ ${f(c.gamma.initial)}${c.gamma.everySteps ? ` ×${c.gamma.decay} every ${c.gamma.everySteps} steps` : ' constant'}, τ ${f(c.threshold!)} (τ/σ_m ${d.tauRelative?.toPrecision(3)}× the paper's)${gt}`,
    );
  lines.push(
    `  lr ${f(c.lr.initial)}${c.lr.everySteps ? ` ×${c.lr.decay} every ${c.lr.everySteps} steps` : ' constant'}${c.xavierLrScaling ? ', Xavier learning-rate scaling' : ''}`,
  );
  if (size.calibration) {
    const cal = calibrationOf(size.calibration, profile);
    const fs_ = Object.entries(cal.factors)
      .map(([k, v]) => `${k} ×${v}`)
      .join(', ');
    lines.push(`  calibrated by ${size.calibration}'s grid: ${fs_ || 'no calibration written (factors 1)'}`);
  }
  return lines;
}
