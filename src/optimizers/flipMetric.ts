/**
 * The paper's flip metric, without TensorFlow.js, so that figures, results and notebooks can import it cheaply
 * (src/optimizers/flips.ts re-exports it beside the tensor flip counter).
 *
 * Helwegen et al. (2019), Eq. 7: πₜ = ln(#flips / #weights + e⁻⁹). The e⁻⁹ offset keeps ln(0) finite, so
 * πₜ ∈ [−9, ln(1 + e⁻⁹)] ≈ [−9, 0].
 */

/** πₜ = ln(flipRatio + e⁻⁹) for a flip ratio (flipped weights / weights) in [0, 1]. */
export function logFlipRatio(flipRatio: number): number {
  return Math.log(flipRatio + Math.exp(-9));
}
