/**
 * Calibration: every arm that a claim compares gets the same tuning budget, on the same split held out of the
 * training set, chosen by one rule fixed here before any grid point runs.
 *
 *   cifar10-bop            γ × τ: γ ×{0.316, 1, 3.16} × τ ×{0, 1, 10} of the derived values (the paper's §5.1
 *                          sensitivity study at this scale, its Fig. 1)
 *   cifar10-adam-baseline  learning rate ×10^(k/4 − 1), k = 0…8 (0.1 … 10) of the derived value
 *
 * Both: 9 grid points × 2 seeds = 18 runs of the profile's own length, validated every epoch on `holdoutPerClass`
 * images per class held out of the training set (the next images of each class after the training subset); the test
 * split is never read. A point's score is the mean over its seeds of the settled held-out accuracy after the last
 * epoch (BN statistics recomputed on the training set first, src/train/settle: the same final score as every run).
 *
 * Selection rule (`SELECTION_RULE`): among the points every seed of which finished and that no exclusion of the plan
 * names, the highest score; ties go to the point nearest the derived values (smallest Σ|log factor|). One exclusion
 * exists and is shown wherever the choice is read: Bop's τ = 0 column, which is in the grid to test the paper's
 * finding that τ = 0 deteriorates over long training (§5.1), not as a candidate — Bop without a threshold is not the
 * method the paper recommends. What the rule would have chosen without it is stored beside the choice.
 *
 * The chosen factors go to calibration/factors.json (./calibrationFile: profile → experiment → factors, with the
 * grid), which the registry applies to every experiment whose sizing names that calibration.
 */
import * as fs from 'fs';
import * as path from 'path';
import { atomicWriteJson } from '../util/fs';
import { CALIBRATION_FILE, Calibration, CalibrationFactors, readCalibrationFile } from './calibrationFile';
import { getExperiment, profileConfig } from './registry';
import { calibrationGridFile, loadRunDir, resultsRoot } from '../results';
import { RunJob } from './parallel';
import type { GridPoint } from './sensitivity';
import type { EpochRecord } from '../train/history';
import { configHash, runDir, resolveConfig } from './run';

export type Factor = keyof CalibrationFactors;

export interface CalibrationPlan {
  /** The calibrated experiment (its grid runs are runs of it with --set overrides). */
  experiment: string;
  profile: string;
  seeds: number[];
  holdoutPerClass: number;
  /** One axis per calibrated factor: multipliers of the derived value. */
  axes: Partial<Record<Factor, number[]>>;
  /** Grid points left out of the selection, and why (fixed before the grid runs). */
  exclude?: { factor: Factor; equals: number; why: string }[];
}

export const SELECTION_RULE =
  'highest mean over seeds of the settled held-out accuracy after the last epoch, among the points whose seeds all finished and that no exclusion names; ties to the point nearest the derived values';

/** The plans of every calibrated experiment (profile filled in by the caller). The same budget for every arm. */
export const PLANS: Omit<CalibrationPlan, 'profile'>[] = [
  {
    experiment: 'cifar10-bop',
    seeds: [0, 1],
    holdoutPerClass: 200,
    axes: { gamma: [0.316, 1, 3.16], tau: [0, 1, 10] },
    exclude: [
      {
        factor: 'tau',
        equals: 0,
        why: "τ = 0 tests the paper's §5.1 finding (it deteriorates over long training); Bop without a threshold is not the method",
      },
    ],
  },
  {
    experiment: 'cifar10-adam-baseline',
    seeds: [0, 1],
    holdoutPerClass: 200,
    axes: { lr: [0.1, 0.178, 0.316, 0.562, 1, 1.78, 3.16, 5.62, 10] },
  },
];

/** The plan of a calibrated experiment in a profile (held-out images per class: 5 on smoke). */
export function planFor(experiment: string, profile: string): CalibrationPlan {
  const p = PLANS.find((x) => x.experiment === experiment);
  if (!p)
    throw new Error(
      `no calibration plan for '${experiment}'. Calibrated experiments: ${PLANS.map((x) => x.experiment).join(', ')}`,
    );
  return { ...p, profile, holdoutPerClass: profile === 'smoke' ? 5 : p.holdoutPerClass };
}

export interface PlannedPoint {
  factors: CalibrationFactors;
  /** The absolute values the point runs with (γ, τ or lr). */
  values: CalibrationFactors;
  set: string[];
  /** Why the selection rule leaves this point out (absent: a candidate). */
  excluded?: string;
}

/** The grid points of a plan: `--set` overrides of the uncalibrated derived config (and the held-out split). */
export function planPoints(plan: CalibrationPlan): PlannedPoint[] {
  const base = profileConfig(plan.experiment, plan.profile, plan.seeds[0] ?? 0, {}, {});
  let combos: CalibrationFactors[] = [{}];
  for (const [k, xs] of Object.entries(plan.axes) as [Factor, number[]][])
    combos = combos.flatMap((c) => xs.map((x) => ({ ...c, [k]: x })));
  return combos.map((f) => {
    const values: CalibrationFactors = {};
    const set: string[] = [];
    if (f.gamma !== undefined) {
      if (!base.gamma) throw new Error(`${plan.experiment} has no γ to calibrate`);
      values.gamma = base.gamma.initial * f.gamma;
      set.push(`gamma=${values.gamma}`);
    }
    if (f.tau !== undefined) {
      if (base.threshold === null) throw new Error(`${plan.experiment} has no τ to calibrate`);
      values.tau = base.threshold * f.tau;
      set.push(`threshold=${values.tau}`);
    }
    if (f.lr !== undefined) {
      values.lr = base.lr.initial * f.lr;
      set.push(`lr=${values.lr}`);
    }
    set.push(`holdoutPerClass=${plan.holdoutPerClass}`);
    const ex = plan.exclude?.find((e) => f[e.factor] === e.equals);
    return { factors: f, values, set, ...(ex ? { excluded: ex.why } : {}) };
  });
}

export function planJobs(plan: CalibrationPlan): RunJob[] {
  return planPoints(plan).flatMap((p) =>
    plan.seeds.map((seed) => ({ experiment: plan.experiment, profile: plan.profile, seed, set: p.set })),
  );
}

/** One epoch of a grid run, as stored with the calibration (rounded to 5 significant digits). */
export type GridEpoch = Pick<EpochRecord, 'epoch' | 'loss' | 'accuracy' | 'valLoss' | 'valAccuracy' | 'flipRatio'>;

export interface GridSeedRun {
  seed: number;
  dir: string;
  complete: boolean;
  /** Settled held-out accuracy after the last epoch (NaN when unfinished). */
  score: number;
  /** The same before the BN statistics were settled. */
  scoreRaw: number;
  history: GridEpoch[];
}

/**
 * A grid point: its factors and values, every seed's run, and the means over seeds the figures and the §5.1
 * verdicts read (`valAccuracy` and `flipRatio` per epoch; for Bop grids also `gammaFactor`/`tauFactor`, `gamma`/`tau`).
 */
export type GridResultPoint = GridPoint & {
  factors: CalibrationFactors;
  values: CalibrationFactors;
  seeds: GridSeedRun[];
  complete: boolean;
  score: number;
  excluded?: string;
};

export interface GridResult {
  plan: CalibrationPlan;
  points: GridResultPoint[];
  /** True when read from the calibration file (the runs themselves are not on this machine). */
  stored?: boolean;
  rule: string;
  chosen: { factors: CalibrationFactors; score: number } | null;
  /** What the rule would choose if no point were excluded (null when nothing is excluded or nothing finished). */
  withoutExclusions: { factors: CalibrationFactors; score: number } | null;
  createdAt: string;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const r5 = (x: number) => Number(x.toPrecision(5));

/** Mean per epoch over equally long series (the shortest length). */
function meanSeries(series: number[][]): number[] {
  if (!series.length) return [];
  const n = Math.min(...series.map((s) => s.length));
  return Array.from({ length: n }, (_, i) => mean(series.map((s) => s[i])));
}

/** The selection rule (module comment) over finished points; `withExcluded` also admits excluded points. */
export function choose(
  points: GridResultPoint[],
  withExcluded = false,
): { factors: CalibrationFactors; score: number } | null {
  const dist = (f: CalibrationFactors) =>
    Object.values(f).reduce((a, v) => a + (v! > 0 ? Math.abs(Math.log(v!)) : Infinity), 0);
  const cands = points.filter((p) => p.complete && Number.isFinite(p.score) && (withExcluded || !p.excluded));
  let best: GridResultPoint | null = null;
  for (const p of cands)
    if (!best || p.score > best.score || (p.score === best.score && dist(p.factors) < dist(best.factors))) best = p;
  return best ? { factors: best.factors, score: best.score } : null;
}

/** Reads the runs of a plan into grid points and applies the selection rule. */
export function collectGrid(plan: CalibrationPlan, root = resultsRoot()): GridResult {
  const points: GridResultPoint[] = [];
  for (const p of planPoints(plan)) {
    const seeds: GridSeedRun[] = [];
    for (const seed of plan.seeds) {
      const c = resolveConfig(plan.experiment, plan.profile, seed, p.set);
      const dir = runDir(c, p.set, root);
      const run = fs.existsSync(dir) ? loadRunDir(dir) : null;
      if (!run || (run.meta as { configHash?: string }).configHash !== configHash(c)) continue;
      const h = run.history;
      const last = h[h.length - 1];
      const extra = (last?.extra ?? {}) as Record<string, number>;
      seeds.push({
        seed,
        dir,
        complete: run.complete,
        score: run.complete && Number.isFinite(extra.testAccuracy) ? extra.testAccuracy : NaN,
        scoreRaw: run.complete && Number.isFinite(extra.testAccuracyRaw) ? extra.testAccuracyRaw : NaN,
        history: h.map((e) => ({
          epoch: e.epoch,
          loss: r5(e.loss),
          accuracy: r5(e.accuracy),
          valLoss: r5(e.valLoss),
          valAccuracy: r5(e.valAccuracy),
          flipRatio: Object.fromEntries(Object.entries(e.flipRatio).map(([k, v]) => [k, r5(v)])),
        })),
      });
    }
    if (!seeds.length) continue;
    const complete = seeds.length === plan.seeds.length && seeds.every((s) => s.complete);
    const flipMean = (e: GridEpoch) => {
      const v = Object.values(e.flipRatio);
      return v.length ? mean(v) : 0;
    };
    points.push({
      factors: p.factors,
      values: p.values,
      gammaFactor: p.factors.gamma ?? NaN,
      tauFactor: p.factors.tau ?? NaN,
      gamma: p.values.gamma ?? NaN,
      tau: p.values.tau ?? NaN,
      valAccuracy: meanSeries(seeds.map((s) => s.history.map((e) => e.valAccuracy))),
      flipRatio: meanSeries(seeds.map((s) => s.history.map(flipMean))),
      seeds,
      complete,
      score: complete ? mean(seeds.map((s) => s.score)) : NaN,
      ...(p.excluded ? { excluded: p.excluded } : {}),
    });
  }
  const chosen = choose(points);
  const any = choose(points, true);
  const withoutExclusions =
    plan.exclude?.length && any && JSON.stringify(any.factors) !== JSON.stringify(chosen?.factors) ? any : null;
  return { plan, points, rule: SELECTION_RULE, chosen, withoutExclusions, createdAt: new Date().toISOString() };
}

const factorText = (f: CalibrationFactors) =>
  Object.entries(f)
    .map(([k, v]) => `${k === 'gamma' ? 'γ' : k === 'tau' ? 'τ' : k} ×${v}`)
    .join(', ');

/** Writes the chosen factors of a plan into the registry's calibration file (other experiments and profiles kept). */
export function writeCalibration(grid: GridResult, file = CALIBRATION_FILE): Calibration {
  if (!grid.chosen) throw new Error('no finished grid point to choose from; run the calibration first');
  const all = readCalibrationFile(file);
  const e = getExperiment(grid.plan.experiment);
  const axes = Object.entries(grid.plan.axes)
    .map(([k, xs]) => `${k} ×{${xs!.join(', ')}}`)
    .join(' × ');
  const cal: Calibration = {
    factors: grid.chosen.factors,
    chosenBy:
      `npm run calibrate -- --profile ${grid.plan.profile}: ${e.name}, seeds ${grid.plan.seeds.join(', ')}, ${axes} of the derived values, ${grid.plan.holdoutPerClass} images per class held out of the training set; ` +
      `rule: ${grid.rule}${grid.plan.exclude?.length ? ` (excluded: ${grid.plan.exclude.map((x) => `${x.factor} ×${x.equals}`).join(', ')})` : ''}; chosen ${factorText(grid.chosen.factors)} at ${(grid.chosen.score * 100).toFixed(2)} %` +
      (grid.withoutExclusions
        ? `; without the exclusion the rule would choose ${factorText(grid.withoutExclusions.factors)} at ${(grid.withoutExclusions.score * 100).toFixed(2)} %`
        : ''),
  };
  // The grid goes with the factors, so notebook 08 and the §5.1 verdicts work on a fresh clone too; stored compactly
  // (4 significant digits, the flip ratio as its mean over the binary layers, under the key 'mean').
  const r4 = (x: number) => Number(x.toPrecision(4));
  const compact = (e: GridEpoch): GridEpoch => {
    const f = Object.values(e.flipRatio);
    return {
      epoch: e.epoch,
      loss: r4(e.loss),
      accuracy: r4(e.accuracy),
      valLoss: r4(e.valLoss),
      valAccuracy: r4(e.valAccuracy),
      flipRatio: f.length ? { mean: r4(mean(f)) } : {},
    };
  };
  const stored = {
    ...grid,
    points: grid.points.map((p) => ({
      ...p,
      valAccuracy: p.valAccuracy.map(r4),
      flipRatio: p.flipRatio.map(r4),
      seeds: p.seeds.map((s) => ({ ...s, dir: '', history: s.history.map(compact) })),
    })),
  };
  all[grid.plan.profile] = {
    ...(all[grid.plan.profile] ?? {}),
    [grid.plan.experiment]: { ...cal, grid: stored } as Calibration,
  };
  atomicWriteJson(file, all);
  return cal;
}

export function saveGrid(grid: GridResult, root = resultsRoot()): string {
  const f = calibrationGridFile(grid.plan.profile, root, grid.plan.experiment);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  atomicWriteJson(f, grid);
  return f;
}

/**
 * The grid of a calibrated experiment in a profile: the one stored under the results root when this machine ran it,
 * else the one stored with the calibration file (`stored: true`), else null.
 */
export function readGrid(
  profile: string,
  root = resultsRoot(),
  calibrationFile = CALIBRATION_FILE,
  experiment = 'cifar10-bop',
): GridResult | null {
  const f = calibrationGridFile(profile, root, experiment);
  if (!fs.existsSync(f)) {
    const g = (readCalibrationFile(calibrationFile)[profile]?.[experiment] as { grid?: GridResult } | undefined)?.grid;
    return g && Array.isArray(g.points) && g.points.every((p) => Array.isArray(p.seeds))
      ? { ...g, stored: true }
      : null;
  }
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8')) as GridResult;
  } catch (e) {
    throw new Error(`${f}: not valid JSON (${(e as Error).message}); rerun npm run calibrate -- --profile ${profile}`);
  }
}
