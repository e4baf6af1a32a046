/**
 * WebAssembly SIMD kernels for the fused training ops (src/backend/fused.ts), in AssemblyScript.
 * Pointers are byte offsets into tfjs-backend-wasm's heap (imported memory); n4 = element count / 4.
 */

/** y = x < 0 ? −1 : +1 (Larq sign; NaN → +1). */
export function larqSign(x: usize, y: usize, n4: u32): void {
  const end = (n4 as usize) << 4;
  const neg = f32x4.splat(-1), pos = f32x4.splat(1), zero = f32x4.splat(0);
  for (let i: usize = 0; i < end; i += 16) {
    v128.store(y + i, v128.bitselect(neg, pos, f32x4.lt(v128.load(x + i), zero)));
  }
}
