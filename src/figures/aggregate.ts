/**
 * Aggregation of per-seed histories into mean and min–max envelopes, per epoch.
 */
import type { EpochRecord, History } from '../train/history';

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
    const vs = byX.get(x)!;
    let s = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of vs) {
      s += v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    out.x.push(x);
    out.mean.push(s / vs.length);
    out.min.push(lo);
    out.max.push(hi);
    out.n.push(vs.length);
  }
  return out;
}

/**
 * The paper's flip metric, Helwegen et al. (2019) Eq. (7): πₜ = ln(flips/weights + e⁻⁹).
 * The e⁻⁹ offset keeps log(0) finite, so πₜ ∈ [−9, ln(1 + e⁻⁹)] ≈ [−9, 0].
 */
export function flipMetric(ratio: number): number {
  return Math.log(ratio + Math.exp(-9));
}

/** Value of the last record (of each seed) for `value`, skipping seeds without one. */
export function finalValues(histories: History[], value: Accessor): number[] {
  const out: number[] = [];
  for (const h of histories) {
    for (let i = h.length - 1; i >= 0; i--) {
      const v = value(h[i]);
      if (v !== null && v !== undefined && Number.isFinite(v)) {
        out.push(v);
        break;
      }
    }
  }
  return out;
}

/** Mean, min, max and count of an array (NaN for an empty one). */
export function stats(values: number[]): { mean: number; min: number; max: number; n: number } {
  if (values.length === 0) return { mean: NaN, min: NaN, max: NaN, n: 0 };
  let s = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    s += v;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return { mean: s / values.length, min: lo, max: hi, n: values.length };
}
