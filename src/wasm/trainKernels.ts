/**
 * The WebAssembly SIMD kernels of the fused training ops (src/backend/fused.ts, src/backend/wasmKernels.ts): typed
 * view of kernels/train.ts (AssemblyScript; each function's math is documented there), compiled and loaded by
 * src/wasm/load.ts on tfjs-backend-wasm's own memory (shared in the threaded build), so the kernels read and write
 * tensors in place: no copies.
 *
 * Pointers are byte offsets into that memory; n4 = element count / 4; c4 = channels / 4. Every float operation is a
 * single IEEE float32 operation, so the elementwise kernels equal the composite float32 tf ops bit for bit.
 */
import { loadKernels } from './load';
import type { KernelMemory } from './load';

/** The exports of kernels/train.ts. */
export interface TrainKernels {
  /** y = x < 0 ? −1 : +1. */
  larqSign(x: number, y: number, n4: number): void;
  /** y = (x > 0) − (x < 0). */
  sign(x: number, y: number, n4: number): void;
  /** dx = dy · (|x| ≤ clip ? 1 : 0). */
  steGrad(dy: number, x: number, dx: number, n4: number, clip: number): void;
  /** mn = m·c1 + g·c2; wn = larqSign(−sign(w·mn − τ)·w). */
  bop(w: number, m: number, g: number, wn: number, mn: number, n4: number, c1: number, c2: number, tau: number): void;
  /** Keras Adam: mn = m·b1 + g·b1c; vn = v·b2 + g²·b2c; wn = w − mn/(√vn + eps)·lr. */
  adam(
    w: number,
    m: number,
    v: number,
    g: number,
    wn: number,
    mn: number,
    vn: number,
    n4: number,
    b1: number,
    b1c: number,
    b2: number,
    b2c: number,
    eps: number,
    lr: number,
  ): void;
  /** acc[c] += Σ_r x[r, c]. */
  colSum(x: number, rows: number, c4: number, acc: number): void;
  /** acc[c] += Σ_r (x[r, c] − mu[c])². */
  colSqDev(x: number, rows: number, c4: number, mu: number, acc: number): void;
  /** y = (x − mu)·s + beta. */
  bnApply(x: number, y: number, rows: number, c4: number, mu: number, s: number, beta: number): void;
  /** a1 += Σ dy, a2 += Σ dy·(x − mu). */
  bnGradSums(dy: number, x: number, rows: number, c4: number, mu: number, a1: number, a2: number): void;
  /** dx = k0·dy − k1 − k2·(x − mu). */
  bnGradApply(
    dy: number,
    x: number,
    dx: number,
    rows: number,
    c4: number,
    mu: number,
    k0: number,
    k1: number,
    k2: number,
  ): void;
  /** Winograd F(2×2,3×3) input transform Bᵀ d B through pointer tables. */
  winoIn(tab: number, T: number, c4: number, obase: number): void;
  /** Winograd F(2×2,3×3) output transform Aᵀ M A through pointer tables. */
  winoOut(mbase: number, T: number, c4: number, dtab: number): void;
  /** y[c, h + top, w + left, n] = x[n, h, w, c] (zero padding written by the caller). */
  padTransposeCHWN(
    x: number,
    y: number,
    N: number,
    H: number,
    W: number,
    c4: number,
    Hp: number,
    Wp: number,
    top: number,
    left: number,
  ): void;
  /** 2×2 stride-2 max-pool gradient, first maximum of each window gets dy. */
  maxPoolGrad2(
    tab: number,
    rows: number,
    wo: number,
    c4: number,
    rowBytes: number,
    x: number,
    dy: number,
    dx: number,
  ): void;
}

const cache = new WeakMap<object, TrainKernels>();

/**
 * The kernels instantiated on `memory` (tfjs-backend-wasm's WebAssembly.Memory), cached per memory; null where this
 * runtime has no WebAssembly. Throws when the module cannot be built (the error names kernels/train.ts).
 */
export function trainKernelsFor(memory: KernelMemory): TrainKernels | null {
  if (typeof (globalThis as { WebAssembly?: unknown }).WebAssembly === 'undefined') return null;
  let k = cache.get(memory);
  if (!k) {
    k = loadKernels<TrainKernels>('train', memory);
    cache.set(memory, k);
  }
  return k;
}
