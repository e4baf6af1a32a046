/**
 * Resolves the catalog (./catalog) into run configs: the `paper` profile is the original's settings to the
 * letter; `quick` and `smoke` are derived from it by the rule their sizing names (./derive: the paper's dynamics,
 * or the epoch ratio), then multiplied by the calibration's γ and τ factors (./calibration.json, written by
 * `npm run calibrate`) where the sizing says `calibrated`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { DecaySchedule, ExperimentConfig } from './config';
import { EXPERIMENTS, ExperimentEntry, PROFILES, Profile, Sizing } from './catalog';
import { compressSchedule, scaleTau, timeAxis, TimeAxis } from './derive';

export { PROFILES } from './catalog';
export type { ExperimentEntry, Profile, Reference, Sizing } from './catalog';

/** Training-split sizes and class counts of the datasets (for steps per epoch before any data is loaded). */
export const DATASET_SIZES: Record<string, { train: number; classes: number }> = {
  cifar10: { train: 50_000, classes: 10 },
  svhn: { train: 73_257, classes: 10 },
  pets: { train: 3_680, classes: 3 },
};

if (new Set(EXPERIMENTS.map((e) => e.name)).size !== EXPERIMENTS.length) throw new Error('catalog: two experiments share a name');

export function experimentNames(): string[] {
  return EXPERIMENTS.map((e) => e.name);
}

export function getExperiment(name: string): ExperimentEntry {
  const e = EXPERIMENTS.find((x) => x.name === name);
  if (!e) throw new Error(`Unknown experiment '${name}'. Known: ${experimentNames().join(', ')}`);
  return e;
}

/** The calibration's multipliers of the derived γ and τ, per profile. */
export interface Calibration {
  gammaFactor: number;
  tauFactor: number;
  /** How they were chosen (grid, split, metric, date). */
  chosenBy?: string;
}

export const CALIBRATION_FILE = path.join(__dirname, 'calibration.json');

/** The calibration of a profile (factors 1 when none was written). */
export function calibrationOf(profile: string, file = CALIBRATION_FILE): Calibration {
  if (!fs.existsSync(file)) return { gammaFactor: 1, tauFactor: 1 };
  let all: Record<string, Calibration>;
  try {
    all = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}); restore it with git or rerun npm run calibrate`);
  }
  const c = all[profile];
  if (!c) return { gammaFactor: 1, tauFactor: 1 };
  if (!(c.gammaFactor > 0) || !(c.tauFactor >= 0)) throw new Error(`${file}: ${profile} needs gammaFactor > 0 and tauFactor ≥ 0`);
  return c;
}

/** The schedule in an epoch-ratio profile: the same decay at the same fraction of the run. */
function scaleByEpochs(s: DecaySchedule | null, factor: number, paperStepsPerEpoch: number): DecaySchedule | null {
  if (!s) return null;
  const paperEveryEpochs = s.everySteps != null ? s.everySteps / paperStepsPerEpoch : s.everyEpochs;
  return { initial: s.initial, decay: s.decay, everyEpochs: paperEveryEpochs === null ? null : paperEveryEpochs * factor, everySteps: null };
}

/** Steps of a run of this sizing (the steps per epoch follow from the subset sizes). */
export function runSteps(e: ExperimentEntry, size: Sizing): number {
  const ds = DATASET_SIZES[e.paper.dataset];
  const perClass = size.trainPerClass !== undefined ? size.trainPerClass : e.paper.trainPerClass;
  const limit = size.trainLimit !== undefined ? size.trainLimit : e.paper.trainLimit;
  const n = perClass != null ? perClass * ds.classes : limit != null ? Math.min(limit, ds.train) : ds.train;
  return size.epochs * Math.floor(n / (size.batchSize ?? e.paper.batchSize));
}

/** The compressed time axis of an experiment in a dynamics-rule sizing. */
export function axisOf(e: ExperimentEntry, size: Sizing): TimeAxis {
  const ref = getExperiment(size.axis ?? e.name);
  if (!ref.paper.gamma) throw new Error(`${e.name}: the time axis '${ref.name}' has no γ schedule`);
  return timeAxis(ref.paper.gamma, ref.paper.epochs, ref.paperStepsPerEpoch, runSteps(e, size));
}

/** Sizing fields that `--set` may change before the profile is derived (so the schedules follow them). */
export const SIZING_KEYS = ['epochs', 'width', 'batchSize', 'trainPerClass', 'testPerClass', 'trainLimit', 'testLimit', 'imageSize'] as const;

/**
 * The resolved config of an experiment in a profile, for a seed. `sizing` replaces fields of the profile's sizing
 * before derivation (how `--set epochs=N` re-derives the schedules by the profile's own rule).
 */
export function profileConfig(name: string, profile: string, seed: number, sizing: Partial<Sizing> = {}, calibration?: Calibration): ExperimentConfig {
  const e = getExperiment(name);
  if (!PROFILES.includes(profile as Profile)) throw new Error(`Unknown profile '${profile}'. Allowed: ${PROFILES.join(', ')}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed ${seed}: must be an integer ≥ 0`);
  const base: ExperimentConfig = { experiment: name, profile, section: e.section, seed, ...JSON.parse(JSON.stringify(e.paper)) };
  if (profile === 'paper') {
    const out = { ...base };
    for (const [k, v] of Object.entries(sizing)) if (v !== undefined && (SIZING_KEYS as readonly string[]).includes(k)) (out as unknown as Record<string, unknown>)[k] = v;
    return out;
  }
  const size: Sizing = { ...(profile === 'quick' ? e.quick : e.smoke), ...sizing };
  const sized: ExperimentConfig = {
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
  if ((size.rule ?? 'epochs') === 'epochs') {
    const factor = size.epochs / e.paper.epochs;
    return { ...sized, gamma: scaleByEpochs(base.gamma, factor, e.paperStepsPerEpoch), lr: scaleByEpochs(base.lr, factor, e.paperStepsPerEpoch)! };
  }
  const axis = axisOf(e, size);
  const cal = size.calibrated ? (calibration ?? calibrationOf(profile)) : { gammaFactor: 1, tauFactor: 1 };
  const out: ExperimentConfig = { ...sized, lr: compressSchedule(base.lr, axis, e.paperStepsPerEpoch, 'lr') };
  if (base.gamma && base.threshold !== null) {
    const g = compressSchedule(base.gamma, axis, e.paperStepsPerEpoch, 'gamma');
    const refGamma = getExperiment(size.axis ?? e.name).paper.gamma!.initial;
    const tau = scaleTau(base.threshold, refGamma, refGamma / axis.scale, sized.width, base.batchSize, sized.batchSize);
    out.gamma = { ...g, initial: g.initial * cal.gammaFactor };
    out.threshold = tau * cal.tauFactor;
  }
  return out;
}

/** One line per profile rule, for the notebooks: the time axis, the phases kept and dropped, γ·T and τ. */
export function derivationNotes(name: string, profile: string): string[] {
  const e = getExperiment(name);
  if (profile === 'paper') return [`${name}: the paper's settings, unchanged.`];
  const size = profile === 'quick' ? e.quick : e.smoke;
  if ((size.rule ?? 'epochs') === 'epochs') return [`${name} (${profile}): every schedule scaled by the epoch ratio (${size.epochs}/${e.paper.epochs}).`];
  const axis = axisOf(e, size);
  const c = profileConfig(name, profile, 0);
  const f = (x: number) => x.toExponential(2);
  const lines = [
    `${name} (${profile}): ${runSteps(e, size)} steps cover the paper's first ${axis.kept.length} γ phase(s) (${axis.paperSteps.toLocaleString('en')} paper steps; scale s = ${f(axis.scale)}).`,
    `  kept: ${axis.kept.map((p) => `γ ${f(p.gamma)} for ${p.steps.toLocaleString('en')} steps (γ·T = ${p.gammaT.toPrecision(3)})`).join('; ')}`,
  ];
  if (axis.dropped.length) lines.push(`  dropped (they only freeze the network): ${axis.dropped.map((p) => `γ ${f(p.gamma)} (γ·T = ${p.gammaT.toPrecision(2)})`).join('; ')}`);
  if (c.gamma) lines.push(`  here: γ ${f(c.gamma.initial)}${c.gamma.everySteps ? ` ×${c.gamma.decay} every ${c.gamma.everySteps} steps` : ' constant'}, τ ${f(c.threshold!)}`);
  lines.push(`  lr ${f(c.lr.initial)}${c.lr.everySteps ? ` ×${c.lr.decay} every ${c.lr.everySteps} steps` : ' constant'}${c.xavierLrScaling ? ', Xavier learning-rate scaling' : ''}`);
  return lines;
}
