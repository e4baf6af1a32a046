/**
 * Descriptive statistics over seeds (or any list of numbers): the one definition the results summaries,
 * the verdicts (src/experiments/verdict.ts) and the figures (src/figures/aggregate.ts) use.
 *
 *   mean      x̄ = Σxᵢ / n
 *   variance  s² = Σ(xᵢ − x̄)² / (n − 1)   (sample variance, Bessel's correction)
 *   sd        s = √s²
 *
 * Empty input gives NaN (no mean of nothing); the variance of one value is NaN (undefined with n − 1 = 0).
 */

/** Arithmetic mean Σxᵢ / n; NaN for an empty list. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample variance Σ(xᵢ − x̄)² / (n − 1); NaN for fewer than two values. */
export function variance(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return s / (xs.length - 1);
}

/** Sample standard deviation √variance; NaN for fewer than two values. */
export function sd(xs: readonly number[]): number {
  return Math.sqrt(variance(xs));
}

/** Count, mean, sample standard deviation, minimum and maximum of a list of numbers. */
export interface Stats {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); NaN for fewer than two values. */
  sd: number;
  min: number;
  max: number;
}

/** `Stats` of `xs` in one pass for min/max; every field but n is NaN for an empty list. */
export function stats(xs: readonly number[]): Stats {
  if (xs.length === 0) return { n: 0, mean: NaN, sd: NaN, min: NaN, max: NaN };
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of xs) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return { n: xs.length, mean: mean(xs), sd: sd(xs), min: lo, max: hi };
}
