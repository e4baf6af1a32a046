/**
 * WebAssembly SIMD kernels of the fused training ops (src/backend/fused.ts, src/backend/wasmKernels.ts), in
 * AssemblyScript; built by kernels/build.mjs, loaded by src/wasm/load.ts, typed by src/wasm/trainKernels.ts.
 *
 * The module imports tfjs-backend-wasm's memory and reads and writes tensors in place: every pointer is a byte offset
 * into that heap, 16-byte vectors of four float32 lanes. n4 = element count / 4; C4 = channels / 4 (the callers run
 * the remainders in JS). Branch-free f32x4 code: plain loops on random signs pay a mispredicted branch per element.
 *
 * Exactness: every float operation below is one IEEE float32 operation, in the order of the composite tf ops
 * (wasm has no fused multiply-add, relaxed SIMD is not enabled), so the elementwise kernels equal the composite
 * float32 ops bit for bit.
 *
 * Short hot loops are `do { … } while (i < end)` after an early return on empty input: written as `for` loops, asc
 * emits the test at the top and an unconditional branch back, measured 5–30 % slower on these short bodies.
 *
 * No allocation, no strings, no static data, no globals: the module must have no data segment (tested), since
 * AssemblyScript would place one inside tfjs' heap.
 */

// ---------------------------------------------------------------------------------------------------------------
// Elementwise kernels over n4 groups of four floats.

/** Larq sign: y = x < 0 ? −1 : +1 (so sign(0) = +1, NaN → +1). */
export function larqSign(x: usize, y: usize, n4: u32): void {
  const end = (n4 as usize) << 4;
  const neg = f32x4.splat(-1), pos = f32x4.splat(1), zero = f32x4.splat(0);
  if (end == 0) return;
  let i: usize = 0;
  do {
    v128.store(y + i, v128.bitselect(neg, pos, f32x4.lt(v128.load(x + i), zero)));
    i += 16;
  } while (i < end);
}

/** Exact sign: y = (x > 0) − (x < 0), as (x > 0 ? 1 : 0) | (x < 0 ? −1 : 0) on the bits (±0 → 0, NaN → 0). */
export function sign(x: usize, y: usize, n4: u32): void {
  const end = (n4 as usize) << 4;
  const neg = f32x4.splat(-1), pos = f32x4.splat(1), zero = f32x4.splat(0);
  if (end == 0) return;
  let i: usize = 0;
  do {
    const v = v128.load(x + i);
    v128.store(y + i, v128.or(v128.and(f32x4.gt(v, zero), pos), v128.and(f32x4.lt(v, zero), neg)));
    i += 16;
  } while (i < end);
}

/** Straight-through estimator's gradient (Larq ste_sign): dx = dy · (|x| ≤ clip ? 1 : 0). */
export function steGrad(dy: usize, x: usize, dx: usize, n4: u32, clip: f32): void {
  const end = (n4 as usize) << 4;
  const clipv = f32x4.splat(clip), one = f32x4.splat(1);
  if (end == 0) return;
  let i: usize = 0;
  do {
    const inside = v128.and(f32x4.le(f32x4.abs(v128.load(x + i)), clipv), one);
    v128.store(dx + i, f32x4.mul(v128.load(dy + i), inside));
    i += 16;
  } while (i < end);
}

/**
 * Bop (Helwegen et al. 2019, Algorithm 1) with the caller's c1 = 1 − γ, c2 = γ:
 *   mn = m·c1 + g·c2;  d = w·mn − τ;  s = sign(d) (exact, 0 at 0);  wn = larqSign(−s·w)
 * i.e. w flips where w·m' > τ and stays where w·m' < τ; where d = 0, s = 0 and wn = larqSign(∓0) = +1, as the composite.
 */
export function bop(w: usize, m: usize, g: usize, wn: usize, mn: usize, n4: u32, c1: f32, c2: f32, tau: f32): void {
  const end = (n4 as usize) << 4;
  const c1v = f32x4.splat(c1), c2v = f32x4.splat(c2), tauv = f32x4.splat(tau);
  const neg = f32x4.splat(-1), pos = f32x4.splat(1), zero = f32x4.splat(0);
  if (end == 0) return;
  let i: usize = 0;
  do {
    const mm = f32x4.add(f32x4.mul(v128.load(m + i), c1v), f32x4.mul(v128.load(g + i), c2v));
    v128.store(mn + i, mm);
    const wv = v128.load(w + i);
    const d = f32x4.sub(f32x4.mul(wv, mm), tauv);
    const s = v128.or(v128.and(f32x4.gt(d, zero), pos), v128.and(f32x4.lt(d, zero), neg));
    v128.store(wn + i, v128.bitselect(neg, pos, f32x4.lt(f32x4.mul(f32x4.neg(s), wv), zero)));
    i += 16;
  } while (i < end);
}

/**
 * Adam (Kingma & Ba 2015) in Keras' form (ε added to √v̂, bias corrections folded into lr by the caller):
 *   mn = m·β₁ + g·(1 − β₁);  vn = v·β₂ + (g·g)·(1 − β₂);  wn = w − (mn / (√vn + ε))·lr
 * with b1c = 1 − β₁, b2c = 1 − β₂ rounded to float32 by the caller. f32x4.sqrt and f32x4.div are correctly rounded,
 * as float32(Math.sqrt(x)) and float32(a / b) of float32 inputs, so this equals the float32 JS loop bit for bit.
 */
export function adam(w: usize, m: usize, v: usize, g: usize, wn: usize, mn: usize, vn: usize, n4: u32,
  b1: f32, b1c: f32, b2: f32, b2c: f32, eps: f32, lr: f32): void {
  const end = (n4 as usize) << 4;
  const b1v = f32x4.splat(b1), b1cv = f32x4.splat(b1c), b2v = f32x4.splat(b2), b2cv = f32x4.splat(b2c);
  const epsv = f32x4.splat(eps), lrv = f32x4.splat(lr);
  if (end == 0) return;
  let i: usize = 0;
  do {
    const gi = v128.load(g + i);
    const mm = f32x4.add(f32x4.mul(v128.load(m + i), b1v), f32x4.mul(gi, b1cv));
    const vv = f32x4.add(f32x4.mul(v128.load(v + i), b2v), f32x4.mul(f32x4.mul(gi, gi), b2cv));
    v128.store(mn + i, mm);
    v128.store(vn + i, vv);
    const step = f32x4.mul(f32x4.div(mm, f32x4.add(f32x4.sqrt(vv), epsv)), lrv);
    v128.store(wn + i, f32x4.sub(v128.load(w + i), step));
    i += 16;
  } while (i < end);
}

// ---------------------------------------------------------------------------------------------------------------
// Column kernels over a row-major [rows, C] matrix, C = 4·C4: outer loop over rows (row pointers advance by C·4
// bytes), inner loop over the 16-byte channel groups. Per-channel vectors (mu, s, beta, acc, ...) have C floats.

/** Column sums: acc[c] += Σ_r x[r, c] (float32, rows in order). */
export function colSum(x: usize, rows: u32, c4: u32, acc: usize): void {
  const rowBytes = (c4 as usize) << 4;
  if (rows == 0 || rowBytes == 0) return;
  let r: u32 = 0;
  do {
    let j: usize = 0;
    do {
      v128.store(acc + j, f32x4.add(v128.load(acc + j), v128.load(x + j)));
      j += 16;
    } while (j < rowBytes);
    r++;
    x += rowBytes;
  } while (r < rows);
}

/** Squared deviations: acc[c] += Σ_r (x[r, c] − mu[c])². */
export function colSqDev(x: usize, rows: u32, c4: u32, mu: usize, acc: usize): void {
  const rowBytes = (c4 as usize) << 4;
  if (rows == 0 || rowBytes == 0) return;
  let r: u32 = 0;
  do {
    let j: usize = 0;
    do {
      const v = f32x4.sub(v128.load(x + j), v128.load(mu + j));
      v128.store(acc + j, f32x4.add(v128.load(acc + j), f32x4.mul(v, v)));
      j += 16;
    } while (j < rowBytes);
    r++;
    x += rowBytes;
  } while (r < rows);
}

/** Batch-norm apply: y[r, c] = (x[r, c] − mu[c])·s[c] + beta[c], with s = γ/√(σ² + ε) from the caller. */
export function bnApply(x: usize, y: usize, rows: u32, c4: u32, mu: usize, s: usize, beta: usize): void {
  const rowBytes = (c4 as usize) << 4;
  if (rows == 0 || rowBytes == 0) return;
  let r: u32 = 0;
  do {
    let j: usize = 0;
    do {
      const xc = f32x4.sub(v128.load(x + j), v128.load(mu + j));
      v128.store(y + j, f32x4.add(f32x4.mul(xc, v128.load(s + j)), v128.load(beta + j)));
      j += 16;
    } while (j < rowBytes);
    r++;
    x += rowBytes;
    y += rowBytes;
  } while (r < rows);
}

/** Batch-norm gradient sums: a1[c] += Σ_r dy[r, c],  a2[c] += Σ_r dy[r, c]·(x[r, c] − mu[c]). */
export function bnGradSums(dy: usize, x: usize, rows: u32, c4: u32, mu: usize, a1: usize, a2: usize): void {
  const rowBytes = (c4 as usize) << 4;
  if (rows == 0 || rowBytes == 0) return;
  let r: u32 = 0;
  do {
    let j: usize = 0;
    do {
      const g = v128.load(dy + j);
      v128.store(a1 + j, f32x4.add(v128.load(a1 + j), g));
      const xc = f32x4.sub(v128.load(x + j), v128.load(mu + j));
      v128.store(a2 + j, f32x4.add(v128.load(a2 + j), f32x4.mul(g, xc)));
      j += 16;
    } while (j < rowBytes);
    r++;
    dy += rowBytes;
    x += rowBytes;
  } while (r < rows);
}

/**
 * Batch-norm input gradient: dx[r, c] = k0[c]·dy[r, c] − k1[c] − k2[c]·(x[r, c] − mu[c]), with the caller's
 * k0 = s, k1 = s·Σdy/n, k2 = s·Σ(dy·x̂)/(n·√(σ² + ε)) (so dx = s·(dy − Σdy/n − x̂·Σ(dy·x̂)/n)).
 */
export function bnGradApply(dy: usize, x: usize, dx: usize, rows: u32, c4: u32, mu: usize, k0: usize, k1: usize, k2: usize): void {
  const rowBytes = (c4 as usize) << 4;
  if (rows == 0 || rowBytes == 0) return;
  let r: u32 = 0;
  do {
    let j: usize = 0;
    do {
      const a = f32x4.sub(f32x4.mul(v128.load(k0 + j), v128.load(dy + j)), v128.load(k1 + j));
      const xc = f32x4.sub(v128.load(x + j), v128.load(mu + j));
      v128.store(dx + j, f32x4.sub(a, f32x4.mul(v128.load(k2 + j), xc)));
      j += 16;
    } while (j < rowBytes);
    r++;
    dy += rowBytes;
    x += rowBytes;
    dx += rowBytes;
  } while (r < rows);
}

// ---------------------------------------------------------------------------------------------------------------
// Winograd F(2×2, 3×3) (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"):
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A   per 4×4 input tile d, 3×3 filter g, 2×2 output tile Y, with
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  Aᵀ = [1 1 1 0; 0 1 −1 −1].
// The element-wise product summed over input channels is 16 GEMMs (one per tile position k), run by the caller;
// these kernels are the input and output transforms, vectorised over four channels. Tiles are addressed through
// pointer tables built in JS: entries of out-of-range tile pixels point at a zero row (input) or a scratch row
// (output), so the loops need no bounds checks.

/** One row u0..u3 of Bᵀd times B: stores (u0 − u2, u1 + u2, u2 − u1, u1 − u3) at table positions k..k+3 (+ off). */
@inline function storeRowB(obase: usize, k: usize, off: usize, u0: v128, u1: v128, u2: v128, u3: v128): void {
  v128.store(load<usize>(obase + (k << 2)) + off, f32x4.sub(u0, u2));
  v128.store(load<usize>(obase + ((k + 1) << 2)) + off, f32x4.add(u1, u2));
  v128.store(load<usize>(obase + ((k + 2) << 2)) + off, f32x4.sub(u2, u1));
  v128.store(load<usize>(obase + ((k + 3) << 2)) + off, f32x4.sub(u1, u3));
}

/**
 * Input transform V = Bᵀ d B for T tiles. tab: T·16 u32 pointers, tab[16t + k] = address of pixel k (row-major
 * 4×4) of tile t, channel 0. Output: V_k of tile t, channel group j at obase[k] + 16·C4·t + j (16 u32 pointers in
 * obase: one [T, C] matrix per tile position k, the GEMMs' left operands).
 */
export function winoIn(tab: usize, T: u32, c4: u32, obase: usize): void {
  const rowBytes = (c4 as usize) << 4;
  if (T == 0 || rowBytes == 0) return;
  let trow = tab, ooff: usize = 0;
  let t: u32 = 0;
  do {
    let j: usize = 0;
    do {
      const d00 = v128.load(load<usize>(trow, 0) + j), d01 = v128.load(load<usize>(trow, 4) + j);
      const d02 = v128.load(load<usize>(trow, 8) + j), d03 = v128.load(load<usize>(trow, 12) + j);
      const d10 = v128.load(load<usize>(trow, 16) + j), d11 = v128.load(load<usize>(trow, 20) + j);
      const d12 = v128.load(load<usize>(trow, 24) + j), d13 = v128.load(load<usize>(trow, 28) + j);
      const d20 = v128.load(load<usize>(trow, 32) + j), d21 = v128.load(load<usize>(trow, 36) + j);
      const d22 = v128.load(load<usize>(trow, 40) + j), d23 = v128.load(load<usize>(trow, 44) + j);
      const d30 = v128.load(load<usize>(trow, 48) + j), d31 = v128.load(load<usize>(trow, 52) + j);
      const d32 = v128.load(load<usize>(trow, 56) + j), d33 = v128.load(load<usize>(trow, 60) + j);
      const off = ooff + j;
      // rows of Bᵀd (Bᵀ combines the rows of d, per column), each times B (combines its columns)
      storeRowB(obase, 0, off, f32x4.sub(d00, d20), f32x4.sub(d01, d21), f32x4.sub(d02, d22), f32x4.sub(d03, d23));
      storeRowB(obase, 4, off, f32x4.add(d10, d20), f32x4.add(d11, d21), f32x4.add(d12, d22), f32x4.add(d13, d23));
      storeRowB(obase, 8, off, f32x4.sub(d20, d10), f32x4.sub(d21, d11), f32x4.sub(d22, d12), f32x4.sub(d23, d13));
      storeRowB(obase, 12, off, f32x4.sub(d10, d30), f32x4.sub(d11, d31), f32x4.sub(d12, d32), f32x4.sub(d13, d33));
      j += 16;
    } while (j < rowBytes);
    t++;
    trow += 64;
    ooff += rowBytes;
  } while (t < T);
}

/** One row s0..s3 of AᵀM times A: stores (s0 + s1 + s2, s1 − s2 − s3) at output pointers q, q + 1 of the table. */
@inline function storeRowA(trow: usize, q: usize, j: usize, s0: v128, s1: v128, s2: v128, s3: v128): void {
  v128.store(load<usize>(trow + (q << 2)) + j, f32x4.add(f32x4.add(s0, s1), s2));
  v128.store(load<usize>(trow + ((q + 1) << 2)) + j, f32x4.sub(f32x4.sub(s1, s2), s3));
}

/**
 * Output transform Y = Aᵀ M A for T tiles: M_k of tile t, channel group j at mbase[k] + 16·C4·t + j (16 u32
 * pointers, the GEMMs' outputs); Y_ab (2×2) stored at dtab[4t + 2a + b] + j (dtab: T·4 u32 pointers).
 */
export function winoOut(mbase: usize, T: u32, c4: u32, dtab: usize): void {
  const rowBytes = (c4 as usize) << 4;
  if (T == 0 || rowBytes == 0) return;
  let trow = dtab, moff: usize = 0;
  let t: u32 = 0;
  do {
    let j: usize = 0;
    do {
      const o = moff + j;
      const m00 = v128.load(load<usize>(mbase, 0) + o), m01 = v128.load(load<usize>(mbase, 4) + o);
      const m02 = v128.load(load<usize>(mbase, 8) + o), m03 = v128.load(load<usize>(mbase, 12) + o);
      const m10 = v128.load(load<usize>(mbase, 16) + o), m11 = v128.load(load<usize>(mbase, 20) + o);
      const m12 = v128.load(load<usize>(mbase, 24) + o), m13 = v128.load(load<usize>(mbase, 28) + o);
      const m20 = v128.load(load<usize>(mbase, 32) + o), m21 = v128.load(load<usize>(mbase, 36) + o);
      const m22 = v128.load(load<usize>(mbase, 40) + o), m23 = v128.load(load<usize>(mbase, 44) + o);
      const m30 = v128.load(load<usize>(mbase, 48) + o), m31 = v128.load(load<usize>(mbase, 52) + o);
      const m32 = v128.load(load<usize>(mbase, 56) + o), m33 = v128.load(load<usize>(mbase, 60) + o);
      // rows of AᵀM: (m0 + m1 + m2, m1 − m2 − m3) per column, each times A
      storeRowA(trow, 0, j, f32x4.add(f32x4.add(m00, m10), m20), f32x4.add(f32x4.add(m01, m11), m21),
        f32x4.add(f32x4.add(m02, m12), m22), f32x4.add(f32x4.add(m03, m13), m23));
      storeRowA(trow, 2, j, f32x4.sub(f32x4.sub(m10, m20), m30), f32x4.sub(f32x4.sub(m11, m21), m31),
        f32x4.sub(f32x4.sub(m12, m22), m32), f32x4.sub(f32x4.sub(m13, m23), m33));
      j += 16;
    } while (j < rowBytes);
    t++;
    trow += 16;
    moff += rowBytes;
  } while (t < T);
}

// ---------------------------------------------------------------------------------------------------------------
// Layout change for the filter gradient.

/** Transposes the 4×4 block of rows r0..r3 (lanes = columns): returns column `k` as a vector. */
@inline function col4(k: i32, r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  // k is a constant at every call: the branches fold away
  const lo01 = i32x4.shuffle(r0, r1, 0, 4, 1, 5), hi01 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const lo23 = i32x4.shuffle(r2, r3, 0, 4, 1, 5), hi23 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  if (k == 0) return i32x4.shuffle(lo01, lo23, 0, 1, 4, 5);
  if (k == 1) return i32x4.shuffle(lo01, lo23, 2, 3, 6, 7);
  if (k == 2) return i32x4.shuffle(hi01, hi23, 0, 1, 4, 5);
  return i32x4.shuffle(hi01, hi23, 2, 3, 6, 7);
}

/**
 * Zero-padded transpose NHWC → CHWN, the input of dW's swapped convolution:
 *   y[c, h + top, w + left, n] = x[n, h, w, c]   for the input pixels that land inside the Hp × Wp output
 * (negative top / left crop; the caller zeroes y's padding). Per pixel, 4 batch rows × 4 channels at a time are
 * transposed in registers; the batch remainder N mod 4 is copied lane by lane. C = 4·c4. A copy: exact.
 */
export function padTransposeCHWN(x: usize, y: usize, N: u32, H: i32, W: i32, c4: u32, Hp: i32, Wp: i32, top: i32, left: i32): void {
  const cBytes = (c4 as usize) << 4;
  const nStride = (H as usize) * (W as usize) * cBytes;           // bytes between batch rows of x
  const cStride = (Hp as usize) * (Wp as usize) * (N as usize) << 2; // bytes between channel planes of y
  const n4 = (N as usize) & ~3;
  if (N == 0 || cBytes == 0) return;
  for (let hp = max(0, top), hEnd = min(Hp, H + top); hp < hEnd; hp++) {
    for (let wp = max(0, left), wEnd = min(Wp, W + left); wp < wEnd; wp++) {
      const src = x + (((hp - top) * W + (wp - left)) as usize) * cBytes;
      const dst = y + ((hp * Wp + wp) as usize) * (N as usize) * 4;
      let cb: usize = 0;
      do {
        const s = src + cb, d = dst + (cb >> 2) * cStride;   // channel c = cb / 4 bytes: plane offset c·cStride
        let n: usize = 0;
        for (; n < n4; n += 4) {
          const p = s + n * nStride;
          const r0 = v128.load(p), r1 = v128.load(p + nStride), r2 = v128.load(p + 2 * nStride), r3 = v128.load(p + 3 * nStride);
          const q = d + (n << 2);
          v128.store(q, col4(0, r0, r1, r2, r3));
          v128.store(q + cStride, col4(1, r0, r1, r2, r3));
          v128.store(q + 2 * cStride, col4(2, r0, r1, r2, r3));
          v128.store(q + 3 * cStride, col4(3, r0, r1, r2, r3));
        }
        for (; n < (N as usize); n++) {
          const p = s + n * nStride, q = d + (n << 2);
          store<f32>(q, load<f32>(p));
          store<f32>(q + cStride, load<f32>(p, 4));
          store<f32>(q + 2 * cStride, load<f32>(p, 8));
          store<f32>(q + 3 * cStride, load<f32>(p, 12));
        }
        cb += 16;
      } while (cb < cBytes);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Max pooling gradient.

/**
 * 2×2 windows, stride 2, NHWC. tab[r] (u32) = byte offset, from x and from dx alike, of the top-left pixel of
 * window row r; Wo windows per row, each 2 pixels (2·C·4 bytes) right of the previous; rowBytes = offset between the
 * window's two input rows. Per window and channel: m = sequential strict max of v00, v01, v10, v11 (row-major, ties
 * keep the earlier), the first v equal to m gets dy, the others 0 (the cpu backend's first-maximum rule).
 * dy is [rows·Wo, C], contiguous. dx must be the window pixels' gradient (every pixel of a window is written).
 */
export function maxPoolGrad2(tab: usize, rows: u32, wo: u32, c4: u32, rowBytes: usize, x: usize, dy: usize, dx: usize): void {
  const px = (c4 as usize) << 4;
  if (rows == 0 || wo == 0 || px == 0) return;
  let g = dy;
  let r: u32 = 0;
  do {
    let off = load<usize>(tab + ((r as usize) << 2));
    let ox: u32 = 0;
    do {
      let j: usize = 0;
      do {
        const p = off + j;
        const v00 = v128.load(x + p), v01 = v128.load(x + p + px);
        const v10 = v128.load(x + p + rowBytes), v11 = v128.load(x + p + px + rowBytes);
        let m = v00;
        m = v128.bitselect(v01, m, f32x4.gt(v01, m));
        m = v128.bitselect(v10, m, f32x4.gt(v10, m));
        m = v128.bitselect(v11, m, f32x4.gt(v11, m));
        const e00 = f32x4.eq(v00, m);
        let taken = e00;
        const e01 = v128.andnot(f32x4.eq(v01, m), taken);
        taken = v128.or(taken, e01);
        const e10 = v128.andnot(f32x4.eq(v10, m), taken);
        taken = v128.or(taken, e10);
        const e11 = v128.andnot(f32x4.eq(v11, m), taken);
        const gv = v128.load(g + j);
        v128.store(dx + p, v128.and(gv, e00));
        v128.store(dx + p + px, v128.and(gv, e01));
        v128.store(dx + p + rowBytes, v128.and(gv, e10));
        v128.store(dx + p + px + rowBytes, v128.and(gv, e11));
        j += 16;
      } while (j < px);
      ox++;
      off += px << 1;
      g += px;
    } while (ox < wo);
    r++;
  } while (r < rows);
}
