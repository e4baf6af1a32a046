/**
 * The calibration's factors, the one loader of `calibration/factors.json` at the project root (generated data, kept
 * out of src/): written by `npm run calibrate` (./calibrate `writeCalibration`), read by the registry, which
 * multiplies the derived γ and τ (Bop) or learning rate (the baselines) of a calibrated experiment by them.
 *
 *   { "<profile>": { "<calibrated experiment>": { "factors": { "gamma": 3, "tau": 1 }, "chosenBy": "…", "grid": … } } }
 *
 * The grid each choice was made on is stored beside it, so that notebook 08 and the §5.1 verdicts work on a fresh clone.
 */
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../util/paths';

/**
 * The calibration's multipliers of the derived values of one calibrated experiment in one profile: γ and τ for Bop,
 * the learning rate for a latent-weight or real-kernel baseline (1 = the derived value).
 */
export interface CalibrationFactors {
  gamma?: number;
  tau?: number;
  lr?: number;
}

export interface Calibration {
  factors: CalibrationFactors;
  /** How they were chosen (grid, seeds, split, rule, score). */
  chosenBy?: string;
}

/** The calibration file: `calibration/factors.json` in the project. */
export const CALIBRATION_FILE = path.join(repoRoot(), 'calibration', 'factors.json');

/** The whole calibration file: profile → calibrated experiment → its factors (and grid); {} when there is none. */
export function readCalibrationFile(file = CALIBRATION_FILE): Record<string, Record<string, Calibration>> {
  if (!fs.existsSync(file)) return {};
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(
      `${file} is not valid JSON (${(e as Error).message}); restore it with git or rerun npm run calibrate`,
    );
  }
}

/** The factors chosen for calibrated experiment `experiment` in `profile` (all 1 when none were written). */
export function calibrationOf(experiment: string, profile: string, file = CALIBRATION_FILE): Calibration {
  const c = readCalibrationFile(file)[profile]?.[experiment];
  if (!c) return { factors: {} };
  const f = c.factors ?? {};
  for (const [k, v] of Object.entries(f)) {
    if (!(typeof v === 'number' && (k === 'tau' ? v >= 0 : v > 0)))
      throw new Error(
        `${file}: ${profile}.${experiment}.factors.${k} = ${JSON.stringify(v)}; needs a number > 0 (τ: ≥ 0). Rerun npm run calibrate`,
      );
  }
  return c;
}
