/**
 * Aggregation of per-seed histories into mean and min–max envelopes, per epoch.
 */
import { logFlipRatio } from '../optimizers/flipMetric';
import { stats } from '../results/stats';
import type { EpochRecord, History } from '../train/history';

export { stats, type Stats } from '../results/stats';

export interface SeedAggregate {
  /** x values (epochs by default), ascending, only those where at least one seed has a finite value. */
  x: number[];
  /** Mean over the seeds that have a finite value at x. */
  mean: number[];
  min: number[];
  max: number[];
  /** How many seeds contributed at each x. */
  n: number[];
}

/** Reads one number from an epoch record; null/undefined/NaN mean "no value". */
export type Accessor = (r: EpochRecord) => number | null | undefined;

/**
 * Aligns seeds by epoch (or by `xOf`) and returns, at every x, the mean, min and max of the finite
 * values over seeds. Seeds of different lengths are allowed (later epochs just have fewer seeds).
 */
export function aggregateSeeds(histories: History[], value: Accessor, xOf: (r: EpochRecord) => number = (r) => r.epoch): SeedAggregate {
  const byX = new Map<number, number[]>();
  for (const h of histories) {
    for (const r of h) {
      const v = value(r);
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      const x = xOf(r);
      let arr = byX.get(x);
      if (!arr) byX.set(x, (arr = []));
      arr.push(v);
    }
  }
  const xs = [...byX.keys()].sort((a, b) => a - b);
  const out: SeedAggregate = { x: [], mean: [], min: [], max: [], n: [] };
  for (const x of xs) {
    const s = stats(byX.get(x)!);
    out.x.push(x);
    out.mean.push(s.mean);
    out.min.push(s.min);
    out.max.push(s.max);
    out.n.push(s.n);
  }
  return out;
}

/**
 * The paper's flip metric, Helwegen et al. (2019) Eq. (7): πₜ = ln(flips/weights + e⁻⁹), i.e. `logFlipRatio`
 * of src/optimizers (the one definition), under the name the figures and notebooks use.
 */
export const flipMetric: (ratio: number) => number = logFlipRatio;

/**
 * The value of `value` in the LAST record of each seed, skipping seeds whose last record has none (null,
 * undefined, NaN or ±Infinity): an earlier epoch's value never stands in for a final one. Pass histories of
 * finished, verified runs (`loadRun` in ./load gives only those) for final numbers.
 */
export function finalValues(histories: History[], value: Accessor): number[] {
  const out: number[] = [];
  for (const h of histories) {
    if (!h.length) continue;
    const v = value(h[h.length - 1]);
    if (v !== null && v !== undefined && Number.isFinite(v)) out.push(v);
  }
  return out;
}
