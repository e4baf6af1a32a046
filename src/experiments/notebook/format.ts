/**
 * Number formats the notebook helpers share: percentages, percentage-point differences, γ·T values and calibration
 * factors, as the notebooks print them.
 */
import type { CalibrationFactors } from '../registry';

/** A fraction as a percentage with two decimals ("91.30 %"). */
export const pctOf = (v: number) => `${(v * 100).toFixed(2)} %`;

/** A difference of fractions in percentage points, signed ("+0.40 pp"); "— (no score)" when it is not a number. */
export const ppOf = (d: number) =>
  Number.isFinite(d) ? `${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)} pp` : '— (no score)';

/** A γ·T value for prose: three significant digits, exponent notation below 1e-3. */
export const gt = (x: number) =>
  x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(1) : String(Number(x.toPrecision(3)));

/** Calibration factors as text: "γ ×3.16, τ ×1". */
export const factorText = (f: CalibrationFactors) =>
  Object.entries(f)
    .map(([k, v]) => `${k === 'gamma' ? 'γ' : k === 'tau' ? 'τ' : k} ×${v}`)
    .join(', ');
