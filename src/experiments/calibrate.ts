/**
 * Calibration = the paper's §5.1 sensitivity study (its Fig. 1), at the scale of a small profile: Bop on BinaryNet /
 * CIFAR-10 over a grid of multipliers of the derived γ and τ (./derive), one seed, validated on images held out of
 * the training set (the next `holdoutPerClass` images of each class after the training subset). The test split is
 * never scored. The point with τ > 0 and the best held-out accuracy (mean of the last two epochs, so one lucky epoch
 * does not decide) gives the factors the registry applies to every calibrated experiment of the profile
 * (./calibration.json); the grid itself is stored for notebook 08 and the §5.1 verdicts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { atomicWriteJson } from '../util/fs';
import { getExperiment, profileConfig, CALIBRATION_FILE, Calibration } from './registry';
import { calibrationGridFile, loadRunDir, resultsRoot } from '../results';
import { RunJob } from './parallel';
import type { GridPoint } from './verdict';
import type { EpochRecord } from '../train/history';
import { configHash, runDir, resolveConfig } from './run';

export interface CalibrationPlan {
  experiment: string;
  profile: string;
  seed: number;
  holdoutPerClass: number;
  gammaFactors: number[];
  tauFactors: number[];
}

/** The default grid: γ a half-decade either side of the derived value; τ 0 (the paper's τ = 0 point), ×1, ×10. */
export const DEFAULT_PLAN: Omit<CalibrationPlan, 'profile'> = {
  experiment: 'cifar10-bop',
  seed: 0,
  holdoutPerClass: 200,
  gammaFactors: [0.316, 1, 3.16],
  tauFactors: [0, 1, 10],
};

export interface PlannedPoint {
  gammaFactor: number;
  tauFactor: number;
  gamma: number;
  tau: number;
  set: string[];
}

/** The runs of a plan: `--set` overrides of the uncalibrated derived config (γ, τ and the held-out split). */
export function planPoints(plan: CalibrationPlan): PlannedPoint[] {
  const base = profileConfig(plan.experiment, plan.profile, plan.seed, {}, { gammaFactor: 1, tauFactor: 1 });
  if (!base.gamma || base.threshold === null) throw new Error(`${plan.experiment} is not a Bop experiment: nothing to calibrate`);
  const out: PlannedPoint[] = [];
  for (const gf of plan.gammaFactors)
    for (const tf of plan.tauFactors) {
      const gamma = base.gamma.initial * gf;
      const tau = base.threshold * tf;
      out.push({ gammaFactor: gf, tauFactor: tf, gamma, tau, set: [`gamma=${gamma}`, `threshold=${tau}`, `holdoutPerClass=${plan.holdoutPerClass}`] });
    }
  return out;
}

export function planJobs(plan: CalibrationPlan): RunJob[] {
  return planPoints(plan).map((p) => ({ experiment: plan.experiment, profile: plan.profile, seed: plan.seed, set: p.set }));
}

/** One epoch of a grid point, as stored with the calibration (rounded to 5 significant digits). */
export type GridEpoch = Pick<EpochRecord, 'epoch' | 'loss' | 'accuracy' | 'valLoss' | 'valAccuracy' | 'flipRatio'>;

export interface GridResult {
  plan: CalibrationPlan;
  points: (GridPoint & { dir: string; complete: boolean; score: number; history?: GridEpoch[] })[];
  /** True when read from the calibration file (the runs themselves are not on this machine). */
  stored?: boolean;
  chosen: { gammaFactor: number; tauFactor: number; score: number } | null;
  createdAt: string;
}

/** Reads the finished runs of a plan into grid points and picks the best (null when none finished). */
export function collectGrid(plan: CalibrationPlan, root = resultsRoot()): GridResult {
  const points: GridResult['points'] = [];
  for (const p of planPoints(plan)) {
    const c = resolveConfig(plan.experiment, plan.profile, plan.seed, p.set);
    const dir = runDir(c, p.set, root);
    const run = fs.existsSync(dir) ? loadRunDir(dir) : null;
    if (!run || (run.meta as { configHash?: string }).configHash !== configHash(c)) continue;
    const h = run.history;
    const val = h.map((r) => r.valAccuracy);
    const flips = h.map((r) => {
      const v = Object.values(r.flipRatio);
      return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
    });
    const tail = val.slice(-2);
    const r5 = (x: number) => Number(x.toPrecision(5));
    const history: GridEpoch[] = h.map((e) => ({ epoch: e.epoch, loss: r5(e.loss), accuracy: r5(e.accuracy), valLoss: r5(e.valLoss), valAccuracy: r5(e.valAccuracy), flipRatio: Object.fromEntries(Object.entries(e.flipRatio).map(([k, v]) => [k, r5(v)])) }));
    points.push({ gammaFactor: p.gammaFactor, tauFactor: p.tauFactor, gamma: p.gamma, tau: p.tau, valAccuracy: val, flipRatio: flips, dir, complete: run.complete, score: tail.reduce((a, b) => a + b, 0) / tail.length, history });
  }
  // τ = 0 is in the grid to test the paper's finding that it deteriorates over longer training, not as a candidate:
  // a run of a few thousand steps cannot show that, and Bop without a threshold is not the method the paper recommends.
  const done = points.filter((p) => p.complete && (p.tauFactor > 0 || !points.some((q) => q.complete && q.tauFactor > 0)));
  const best = done.reduce<GridResult['points'][number] | null>((b, p) => (!b || p.score > b.score ? p : b), null);
  return { plan, points, chosen: best ? { gammaFactor: best.gammaFactor, tauFactor: best.tauFactor, score: best.score } : null, createdAt: new Date().toISOString() };
}

/** Writes the chosen factors of a profile into the registry's calibration file (other profiles kept). */
export function writeCalibration(grid: GridResult, file = CALIBRATION_FILE): Calibration {
  if (!grid.chosen) throw new Error('no finished grid point to choose from; run the calibration first');
  const all: Record<string, Calibration> = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  const e = getExperiment(grid.plan.experiment);
  const cal: Calibration = {
    gammaFactor: grid.chosen.gammaFactor,
    tauFactor: grid.chosen.tauFactor,
    chosenBy:
      `npm run calibrate -- --profile ${grid.plan.profile}: ${e.name}, seed ${grid.plan.seed}, γ ×{${grid.plan.gammaFactors.join(', ')}} × τ ×{${grid.plan.tauFactors.join(', ')}} ` +
      `of the derived values, best mean held-out accuracy of the last two epochs among τ > 0 (${(grid.chosen.score * 100).toFixed(2)} %) on ${grid.plan.holdoutPerClass} images per class held out of the training set; ${grid.createdAt.slice(0, 10)}`,
  };
  // the grid itself goes with the factors (a few kB), so the §5.1 figures and verdicts exist on a fresh clone too
  all[grid.plan.profile] = { ...cal, grid: { ...grid, points: grid.points.map((p) => ({ ...p, dir: '' })) } } as Calibration;
  atomicWriteJson(file, all);
  return cal;
}

export function saveGrid(grid: GridResult, root = resultsRoot()): string {
  const f = calibrationGridFile(grid.plan.profile, root);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  atomicWriteJson(f, grid);
  return f;
}

/**
 * The γ × τ grid of a profile: the one stored under the results root when this machine ran it, else the one
 * stored with the calibration file (`stored: true`), else null.
 */
export function readGrid(profile: string, root = resultsRoot(), calibrationFile = CALIBRATION_FILE): GridResult | null {
  const f = calibrationGridFile(profile, root);
  if (!fs.existsSync(f)) {
    if (!fs.existsSync(calibrationFile)) return null;
    const g = (JSON.parse(fs.readFileSync(calibrationFile, 'utf8'))[profile] as { grid?: GridResult } | undefined)?.grid;
    return g ? { ...g, stored: true } : null;
  }
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8')) as GridResult;
  } catch (e) {
    throw new Error(`${f}: not valid JSON (${(e as Error).message}); rerun npm run calibrate -- --profile ${profile}`);
  }
}
