/**
 * Population count of a 32-bit word in plain JS, the reference for the wasm `i64.popcnt` / `i8x16.popcnt` GEMMs:
 * the SWAR bit tricks of Hacker's Delight (Warren, 2nd ed., §5-1): pairwise sums of bits, then of 2-bit and 4-bit
 * fields, and a multiply by 0x01010101 that adds the four byte counts into the top byte.
 */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}
