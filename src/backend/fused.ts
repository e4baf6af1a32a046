/**
 * Fused training kernels for the wasm backend: one pass over the data in place on the wasm heap (plain JS loops on
 * typed-array views of tfjs-backend-wasm's memory, no copies), instead of chains of 3–10 tfjs kernels each with its
 * own output, and without tfjs-wasm's transpose-then-reduce for reductions over N·H·W.
 *
 * Each op has a composite (tf ops) definition elsewhere (src/quantizers, src/layers, src/optimizers), used on other
 * backends; here the same arithmetic, step by step in float32 (Math.fround after every operation, so results are
 * bit-identical to the composite float32 kernels where the composite is elementwise), except reductions, which
 * accumulate in float64 (more accurate than the composite; equal within float rounding).
 *
 *   BnnSign        sign(x) exactly (+1, −1, 0 at ±0, 0 at NaN as the cpu backend). Replaces wasm's `Sign`, which
 *                  returns 0 for |x| < 1.19e-7 (FLT_EPSILON) in tfjs 4.22 — wrong for Bop's w·m − τ with τ = 1e-8.
 *   BnnLarqSign    Larq's sign(sign(x) + 0.1): +1 for x ≥ 0 (and NaN), −1 for x < 0.
 *   BnnSteGrad     dy · 1{|x| ≤ clip}   (straight-through estimator's gradient, Larq ste_sign).
 *   BnnBatchNorm   training batch norm over all axes but the last: mean μ, biased variance σ², and
 *                  y = (x − μ)·s + β with s = γ/√(σ² + ε) (or 1/√(σ² + ε)).
 *   BnnBatchNormGrad  dβ = Σ dy, dγ = Σ dy·x̂, dx = s·(dy − Σdy/n − x̂·Σ(dy·x̂)/n), x̂ = (x − μ)/√(σ² + ε).
 *   BnnBop         Bop (Helwegen et al. 2019): m' = (1−γ)m + γg; w' = larqSign(−sign(w·m' − τ)·w).
 *   BnnAdam        Keras Adam: m' = β₁m + (1−β₁)g, v' = β₂v + (1−β₂)g², w' = w − lr_t·m'/(√v' + ε).
 *   BnnPadTransposeCHWN  x [N,H,W,C] → zero-pad → [C,Hp,Wp,N] in one pass (input of dW's swapped conv).
 *   BnnWinogradIn / BnnWinogradFilter / BnnWinogradOut  Winograd F(2×2,3×3) transforms (Lavin & Gray 2016,
 *                  "Fast Algorithms for Convolutional Neural Networks"): `winogradConv3x3Fused`, used for dx.
 *   BnnWinogradDyT / BnnWinogradDwOut  F(3×3,2×2) for dW (`winogradFilterGrad3x3Fused`, opt-in: not faster here).
 * The heavy loops run as WebAssembly SIMD (kernels/train.ts, AssemblyScript, typed by src/wasm/trainKernels.ts) on
 * tfjs-wasm's own memory (zero-copy); plain JS loops cover channel counts that are not multiples of 4 and the tails.
 *
 * The op wrappers below return null when the fused kernels are not active (backend other than wasm, or
 * registration disabled); callers then use their composite definition.
 */
import * as tf from '@tensorflow/tfjs';
import { trainKernelsFor, TrainKernels } from '../wasm/trainKernels';
import type { KernelMemory as WasmMemory } from '../wasm/load';

type Info = tf.TensorInfo;
const f32 = Math.fround;

export interface HeapBackend {
  wasm: { HEAPU8: Uint8Array; _malloc(n: number): number; _free(p: number): void; wasmMemory?: WasmMemory; asm?: { memory?: WasmMemory } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: string): Info;
}

let simdEnabled = true;
/** The SIMD kernels on the backend's own memory (null: none, or disabled for comparison). */
export function simd(b: HeapBackend): TrainKernels | null {
  if (!simdEnabled) return null;
  const mem = b.wasm.wasmMemory ?? b.wasm.asm?.memory;
  return mem ? trainKernelsFor(mem) : null;
}
const ptr = (b: HeapBackend, i: Info) => b.dataIdMap.get(i.dataId).memoryOffset;
/** Rows per SIMD column-sum call: float32 partial sums over at most this many rows, then float64 totals. */
const BLOCK = 256;

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
function view(b: HeapBackend, i: Info): Float32Array {
  return new Float32Array(b.wasm.HEAPU8.buffer, b.dataIdMap.get(i.dataId).memoryOffset, size(i.shape));
}

/**
 * Register a JS kernel: `outShapes` gives the output shapes; all outputs are allocated first (allocation can grow
 * the heap and detach views), then `run` gets fresh float32 views of the inputs (in `names` order; a missing
 * optional input is null) and outputs.
 */
function jsKernel(name: string, names: string[], outShapes: (ins: (Info | null)[], attrs: Record<string, unknown>) => number[][],
  run: (ins: (Float32Array | null)[], outs: Float32Array[], attrs: Record<string, unknown>, io: { b: HeapBackend; ins: (Info | null)[]; outs: Info[] }) => void): tf.KernelConfig {
  return {
    kernelName: name, backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as HeapBackend;
      const infos = names.map((n) => (inputs as Record<string, Info | undefined>)[n] ?? null);
      for (const i of infos) {
        if (i && i.dtype !== 'float32') throw new Error(`${name}: input dtype ${i.dtype}, expected float32`);
      }
      const a = attrs as unknown as Record<string, unknown>;
      const outs = outShapes(infos, a).map((s) => b.makeOutput(s, 'float32'));
      run(infos.map((i) => (i ? view(b, i) : null)), outs.map((o) => view(b, o)), a, { b, ins: infos, outs });
      return outs.length === 1 ? outs[0] : outs;
    },
  };
}

const same = (ins: (Info | null)[]) => [ins[0]!.shape];

/** Elementwise op: SIMD on the first 4·⌊n/4⌋ elements when available, `tail(i)` (JS) on the rest. */
function elementwiseRun(io: { b: HeapBackend }, n: number, simdCall: ((k: TrainKernels, n4: number) => void) | null, tail: (i: number) => void) {
  const k = simd(io.b);
  let start = 0;
  if (k && simdCall && n >= 4) {
    simdCall(k, n >>> 2);
    start = n & ~3;
  }
  for (let i = start; i < n; i++) tail(i);
}

/** Scratch float32 arrays on the wasm heap (for per-channel vectors); free with the returned function. */
function scratch(b: HeapBackend, floats: number): { p: number; free: () => void } {
  const p = b.wasm._malloc(floats * 4 + 16) >>> 0;
  const q = (p + 15) & ~15;
  return { p: q, free: () => b.wasm._free(p) };
}

/** Σ over rows of a [rows, C] matrix at byte offset `xp`, per channel, into float64 (SIMD column sums when C % 4 = 0). */
function columnSums(b: HeapBackend, k: TrainKernels, rows: number, C: number, acc: number,
  call: (rowOff: number, nRows: number) => void, out: Float64Array[]): void {
  const accs = out.length;
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const nr = Math.min(BLOCK, rows - r0);
    new Float32Array(b.wasm.HEAPU8.buffer, acc, accs * C).fill(0);
    call(r0, nr);
    const v = new Float32Array(b.wasm.HEAPU8.buffer, acc, accs * C);
    for (let a = 0; a < accs; a++) for (let c = 0; c < C; c++) out[a][c] += v[a * C + c];
  }
  void k;
}

const kernels: tf.KernelConfig[] = [
  jsKernel('Sign', ['x'], same, ([x], [y], _a, io) => {
    const xv = x!, n = xv.length;
    elementwiseRun(io, n, (k, n4) => k.sign(ptr(io.b, io.ins[0]!), ptr(io.b, io.outs[0]), n4),
      (i) => { const v = xv[i]; y[i] = v > 0 ? 1 : v < 0 ? -1 : 0; });
  }),
  jsKernel('BnnLarqSign', ['x'], same, ([x], [y], _a, io) => {
    const xv = x!, n = xv.length;
    elementwiseRun(io, n, (k, n4) => k.larqSign(ptr(io.b, io.ins[0]!), ptr(io.b, io.outs[0]), n4),
      (i) => { y[i] = xv[i] < 0 ? -1 : 1; });
  }),
  jsKernel('BnnSteGrad', ['dy', 'x'], same, ([dy, x], [dx], a, io) => {
    const clip = f32(a.clip as number), dv = dy!, xv = x!;
    elementwiseRun(io, xv.length, (k, n4) => k.steGrad(ptr(io.b, io.ins[0]!), ptr(io.b, io.ins[1]!), ptr(io.b, io.outs[0]), n4, clip),
      (i) => { dx[i] = dv[i] * (Math.abs(xv[i]) <= clip ? 1 : 0); });
  }),
  jsKernel('BnnBatchNorm', ['x', 'beta', 'gamma'], (ins) => { const c = ins[0]!.shape[ins[0]!.shape.length - 1]; return [ins[0]!.shape, [c], [c], [c]]; },
    ([x, beta, gamma], [y, mean, variance, scale], a, io) => {
      const C = mean.length, rows = x!.length / C, eps = a.epsilon as number;
      const s1 = new Float64Array(C), s2 = new Float64Array(C);
      const k = C % 4 === 0 ? simd(io.b) : null;
      const b = io.b;
      const [xp, meanP, scaleP, yp] = [ptr(b, io.ins[0]!), ptr(b, io.outs[1]), ptr(b, io.outs[3]), ptr(b, io.outs[0])];
      const sc = k ? scratch(b, 2 * C) : null;       // accumulator; zero beta
      if (k && sc) {
        columnSums(b, k, rows, C, sc.p, (r0, nr) => k.colSum(xp + r0 * C * 4, nr, C >>> 2, sc.p), [s1]);
      } else {
        for (let i = 0; i < x!.length; i += C) for (let c = 0; c < C; c++) s1[c] += x![i + c];
      }
      for (let c = 0; c < C; c++) s1[c] /= rows;
      view(b, io.outs[1]).set(s1);                     // mean (float32)
      if (k && sc) {
        columnSums(b, k, rows, C, sc.p, (r0, nr) => k.colSqDev(xp + r0 * C * 4, nr, C >>> 2, meanP, sc.p), [s2]);
      } else {
        const mu = view(b, io.outs[1]);
        for (let i = 0; i < x!.length; i += C) for (let c = 0; c < C; c++) { const d = x![i + c] - mu[c]; s2[c] += d * d; }
      }
      const mv = view(b, io.outs[1]), vv = view(b, io.outs[2]), sv = view(b, io.outs[3]);
      const gv = gamma ? view(b, io.ins[2]!) : null;
      for (let c = 0; c < C; c++) {
        vv[c] = s2[c] / rows;
        // inv = rsqrt(var + eps) [· gamma], each step rounded to float32 as the composite
        let inv = f32(1 / Math.sqrt(f32(vv[c] + f32(eps))));
        if (gv) inv = f32(inv * gv[c]);
        sv[c] = inv;
      }
      if (k && sc) {
        let betaP = sc.p + C * 4;
        if (beta) betaP = ptr(b, io.ins[1]!); else new Float32Array(b.wasm.HEAPU8.buffer, betaP, C).fill(0);
        k.bnApply(xp, yp, rows, C >>> 2, meanP, scaleP, betaP);
        sc.free();
      } else {
        const xv = view(b, io.ins[0]!), yv = view(b, io.outs[0]), bv = beta ? view(b, io.ins[1]!) : null;
        for (let i = 0; i < xv.length; i += C) {
          for (let c = 0; c < C; c++) {
            const t = f32(f32(xv[i + c] - mv[c]) * sv[c]);
            yv[i + c] = bv ? t + bv[c] : t;
          }
        }
      }
      void y; void mean; void variance; void scale;
    }),
  jsKernel('BnnBatchNormGrad', ['dy', 'x', 'mean', 'variance', 'gamma'],
    (ins) => { const c = ins[2]!.shape[0]; return [ins[0]!.shape, [c], [c]]; },
    ([dy, x, mean, variance, gamma], [dx, sdy, sdyx], a, io) => {
      const C = mean!.length, n = x!.length / C, eps = a.epsilon as number;
      const b = io.b;
      const inv = new Float64Array(C), s1 = new Float64Array(C), s2 = new Float64Array(C);
      for (let c = 0; c < C; c++) inv[c] = 1 / Math.sqrt(variance![c] + f32(eps));
      const k = C % 4 === 0 ? simd(b) : null;
      const [dyp, xp, mp, dxp] = [ptr(b, io.ins[0]!), ptr(b, io.ins[1]!), ptr(b, io.ins[2]!), ptr(b, io.outs[0])];
      const sc = k ? scratch(b, 3 * C) : null;
      if (k && sc) {
        columnSums(b, k, n, C, sc.p, (r0, nr) => k.bnGradSums(dyp + r0 * C * 4, xp + r0 * C * 4, nr, C >>> 2, mp, sc.p, sc.p + C * 4), [s1, s2]);
      } else {
        const mu = mean!;
        for (let i = 0; i < x!.length; i += C) {
          for (let c = 0; c < C; c++) { const g = dy![i + c]; s1[c] += g; s2[c] += g * (x![i + c] - mu[c]); }
        }
      }
      const gv = gamma ? view(b, io.ins[4]!) : null;
      const k0 = new Float64Array(C), k1 = new Float64Array(C), k2 = new Float64Array(C);
      const sdyv = view(b, io.outs[1]), sdyxv = view(b, io.outs[2]);
      for (let c = 0; c < C; c++) {
        sdyv[c] = s1[c];
        sdyxv[c] = s2[c] * inv[c];                       // Σ dy·x̂
        const s = (gv ? gv[c] : 1) * inv[c];
        // dx = s·dy − s·Σdy/n − s·inv²·(x−μ)·Σ(dy·(x−μ))/n
        k0[c] = s; k1[c] = s * s1[c] / n; k2[c] = s * inv[c] * inv[c] * s2[c] / n;
      }
      if (k && sc) {
        const kv = new Float32Array(b.wasm.HEAPU8.buffer, sc.p, 3 * C);
        kv.set(k0, 0); kv.set(k1, C); kv.set(k2, 2 * C);
        k.bnGradApply(dyp, xp, dxp, n, C >>> 2, mp, sc.p, sc.p + 4 * C, sc.p + 8 * C);
        sc.free();
      } else {
        const dyv = view(b, io.ins[0]!), xv = view(b, io.ins[1]!), mu = view(b, io.ins[2]!), dxv = view(b, io.outs[0]);
        for (let i = 0; i < xv.length; i += C) {
          for (let c = 0; c < C; c++) dxv[i + c] = k0[c] * dyv[i + c] - k1[c] - k2[c] * (xv[i + c] - mu[c]);
        }
      }
      void dx; void sdy; void sdyx;
    }),
  jsKernel('BnnBop', ['w', 'm', 'g'], (ins) => [ins[0]!.shape, ins[0]!.shape], ([w, m, g], [wn, mn], a, io) => {
    const gamma = a.gamma as number;
    const c1 = f32(1 - gamma), c2 = f32(gamma), tau = f32(a.threshold as number);
    const wv = w!, mv = m!, gv = g!;
    const b = io.b;
    elementwiseRun(io, wv.length, (k, n4) => k.bop(ptr(b, io.ins[0]!), ptr(b, io.ins[1]!), ptr(b, io.ins[2]!), ptr(b, io.outs[0]), ptr(b, io.outs[1]), n4, c1, c2, tau),
      (i) => {
        const mm = f32(f32(mv[i] * c1) + f32(gv[i] * c2));
        mn[i] = mm;
        const wi = wv[i];
        const d = f32(f32(wi * mm) - tau);
        const s = d > 0 ? 1 : d < 0 ? -1 : 0;
        wn[i] = -s * wi < 0 ? -1 : 1;                   // larqSign(−sign(w·m − τ)·w); tie (d = 0) → +1
      });
  }),
  // x [N,H,W,C] zero-padded (negative pads crop) and transposed to [C, Hp, Wp, N] in one pass (dW's swapped conv)
  jsKernel('BnnPadTransposeCHWN', ['x'], (ins, a) => {
    const [N, H, W, C] = ins[0]!.shape; const p = a as unknown as { top: number; bottom: number; left: number; right: number };
    return [[C, H + p.top + p.bottom, W + p.left + p.right, N]];
  }, ([x], [y], a, io) => {
    const [N, H, W, C] = io.ins[0]!.shape; const p = a as unknown as { top: number; left: number };
    const [, Hp, Wp] = io.outs[0].shape;
    const xv = x!;
    if (Hp * Wp !== H * W || p.top !== 0 || p.left !== 0) y.fill(0);
    const k = C % 4 === 0 ? simd(io.b) : null;
    if (k) {
      k.padTransposeCHWN(ptr(io.b, io.ins[0]!), ptr(io.b, io.outs[0]), N, H, W, C >>> 2, Hp, Wp, p.top, p.left);
      return;
    }
    const nStride = H * W * C, cStride = Hp * Wp * N;
    for (let hp = 0; hp < Hp; hp++) {
      const h = hp - p.top;
      if (h < 0 || h >= H) continue;
      for (let wp = 0; wp < Wp; wp++) {
        const w = wp - p.left;
        if (w < 0 || w >= W) continue;
        const src = (h * W + w) * C, dst = (hp * Wp + wp) * N;
        for (let c = 0; c < C; c++) {
          const o = dst + c * cStride;
          for (let n = 0, i = src + c; n < N; n++, i += nStride) y[o + n] = xv[i];
        }
      }
    }
  }),
  // Winograd F(2×2, 3×3) (Lavin & Gray 2016), input transform: V_k[t, c] = (Bᵀ d_t B)_k for the 4×4 tiles d_t
  // of x (zero outside), tile t = (n, ty, tx) at rows 2ty − padTop.., cols 2tx − padLeft..; 16 outputs [T, C]
  {
    kernelName: 'BnnWinogradIn', backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as HeapBackend;
      const xi = (inputs as Record<string, Info>).x;
      const a = attrs as unknown as { padTop: number; padLeft: number; tH: number; tW: number };
      const [N, H, W, C] = xi.shape;
      const T = N * a.tH * a.tW;
      const outs = Array.from({ length: 16 }, () => b.makeOutput([T, C], 'float32'));
      const k = C % 4 === 0 ? simd(b) : null;
      if (k) {
        // pointer table: 16 source rows per tile (out-of-range → a zero row), then the SIMD transform
        const tabP = b.wasm._malloc(T * 64 + 64 + C * 4 + 32) >>> 0;
        const obP = tabP + T * 64, zeroP = (obP + 64 + 15) & ~15;
        const xp = ptr(b, xi);
        const hp = new Int32Array(b.wasm.HEAPU8.buffer);
        new Float32Array(b.wasm.HEAPU8.buffer, zeroP, C).fill(0);
        for (let q = 0; q < 16; q++) hp[(obP >>> 2) + q] = ptr(b, outs[q]);
        let e = tabP >>> 2;
        for (let n = 0; n < N; n++) for (let ty = 0; ty < a.tH; ty++) for (let tx = 0; tx < a.tW; tx++) {
          for (let i = 0; i < 4; i++) {
            const r = 2 * ty - a.padTop + i;
            for (let j = 0; j < 4; j++) {
              const q = 2 * tx - a.padLeft + j;
              hp[e++] = r >= 0 && r < H && q >= 0 && q < W ? xp + ((n * H + r) * W + q) * C * 4 : zeroP;
            }
          }
        }
        k.winoIn(tabP, T, C >>> 2, obP);
        b.wasm._free(tabP);
        return outs;
      }
      const xv = view(b, xi);
      const V = outs.map((o) => view(b, o));
      const off = new Int32Array(16);
      const d = new Float32Array(16);
      let t = 0;
      for (let n = 0; n < N; n++) {
        for (let ty = 0; ty < a.tH; ty++) {
          for (let tx = 0; tx < a.tW; tx++, t++) {
            for (let i = 0; i < 4; i++) {
              const r = 2 * ty - a.padTop + i;
              for (let j = 0; j < 4; j++) {
                const q = 2 * tx - a.padLeft + j;
                off[i * 4 + j] = r >= 0 && r < H && q >= 0 && q < W ? ((n * H + r) * W + q) * C : -1;
              }
            }
            const tb = t * C;
            for (let c = 0; c < C; c++) {
              for (let k = 0; k < 16; k++) d[k] = off[k] >= 0 ? xv[off[k] + c] : 0;
              for (let j = 0; j < 4; j++) {             // columns: t = Bᵀ d
                const d0 = d[j], d1 = d[4 + j], d2 = d[8 + j], d3 = d[12 + j];
                d[j] = d0 - d2; d[4 + j] = d1 + d2; d[8 + j] = d2 - d1; d[12 + j] = d1 - d3;
              }
              for (let i = 0; i < 16; i += 4) {         // rows: V = t B
                const t0 = d[i], t1 = d[i + 1], t2 = d[i + 2], t3 = d[i + 3];
                V[i][tb + c] = t0 - t2; V[i + 1][tb + c] = t1 + t2; V[i + 2][tb + c] = t2 - t1; V[i + 3][tb + c] = t1 - t3;
              }
            }
          }
        }
      }
      return outs;
    },
  },
  // filter transform: U_k[ci, co] = (G g G^T)_k for g = w[:, :, ci, co] (3×3); 16 outputs [Ci, Co]
  {
    kernelName: 'BnnWinogradFilter', backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const b = backend as unknown as HeapBackend;
      const wi = (inputs as Record<string, Info>).w;
      const [, , Ci, Co] = wi.shape;
      const outs = Array.from({ length: 16 }, () => b.makeOutput([Ci, Co], 'float32'));
      const wv = view(b, wi);
      const U = outs.map((o) => view(b, o));
      const n = Ci * Co;
      const g = new Float64Array(9), h = new Float64Array(12);
      for (let e = 0; e < n; e++) {
        for (let k = 0; k < 9; k++) g[k] = wv[k * n + e];
        for (let j = 0; j < 3; j++) {                   // rows of G g (4×3)
          const g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
          h[j] = g0; h[3 + j] = (g0 + g1 + g2) / 2; h[6 + j] = (g0 - g1 + g2) / 2; h[9 + j] = g2;
        }
        for (let i = 0; i < 4; i++) {                   // (G g) Gᵀ (4×4)
          const h0 = h[i * 3], h1 = h[i * 3 + 1], h2 = h[i * 3 + 2];
          U[i * 4][e] = h0; U[i * 4 + 1][e] = (h0 + h1 + h2) / 2; U[i * 4 + 2][e] = (h0 - h1 + h2) / 2; U[i * 4 + 3][e] = h2;
        }
      }
      return outs;
    },
  },
  // output transform: y[n, 2ty + a, 2tx + b, co] = (Aᵀ M_t A)_{ab}, M_t[k] = m_k[t, co]; rows/cols ≥ Ho/Wo dropped
  {
    kernelName: 'BnnWinogradOut', backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as HeapBackend;
      const a = attrs as unknown as { N: number; Ho: number; Wo: number; tH: number; tW: number };
      const ms = Array.from({ length: 16 }, (_, k) => (inputs as Record<string, Info>)[`m${k}`]);
      const Co = ms[0].shape[1];
      const out = b.makeOutput([a.N, a.Ho, a.Wo, Co], 'float32');
      const k = Co % 4 === 0 ? simd(b) : null;
      if (k) {
        const T = a.N * a.tH * a.tW;
        const tabP = b.wasm._malloc(T * 16 + 64 + Co * 4 + 32) >>> 0;
        const mbP = tabP + T * 16, dumP = (mbP + 64 + 15) & ~15;
        const yp = ptr(b, out);
        const hp = new Int32Array(b.wasm.HEAPU8.buffer);
        for (let q = 0; q < 16; q++) hp[(mbP >>> 2) + q] = ptr(b, ms[q]);
        let e = tabP >>> 2;
        for (let n = 0; n < a.N; n++) for (let ty = 0; ty < a.tH; ty++) for (let tx = 0; tx < a.tW; tx++) {
          for (let i = 0; i < 2; i++) {
            for (let j = 0; j < 2; j++) {
              const r = 2 * ty + i, q = 2 * tx + j;
              hp[e++] = r < a.Ho && q < a.Wo ? yp + ((n * a.Ho + r) * a.Wo + q) * Co * 4 : dumP;
            }
          }
        }
        k.winoOut(mbP, T, Co >>> 2, tabP);
        b.wasm._free(tabP);
        return out;
      }
      const M = ms.map((m) => view(b, m));
      const y = view(b, out);
      let t = 0;
      for (let n = 0; n < a.N; n++) {
        for (let ty = 0; ty < a.tH; ty++) {
          for (let tx = 0; tx < a.tW; tx++, t++) {
            const r0 = 2 * ty, c0 = 2 * tx;
            const r1ok = r0 + 1 < a.Ho, c1ok = c0 + 1 < a.Wo;
            const y00 = ((n * a.Ho + r0) * a.Wo + c0) * Co;
            const y10 = y00 + a.Wo * Co;
            const tb = t * Co;
            for (let c = 0; c < Co; c++) {
              const i = tb + c;
              const m0 = M[0][i], m1 = M[1][i], m2 = M[2][i], m3 = M[3][i];
              const m4 = M[4][i], m5 = M[5][i], m6 = M[6][i], m7 = M[7][i];
              const m8 = M[8][i], m9 = M[9][i], m10 = M[10][i], m11 = M[11][i];
              const m12 = M[12][i], m13 = M[13][i], m14 = M[14][i], m15 = M[15][i];
              // s = Aᵀ M (2×4): s0 = rows 0+1+2, s1 = rows 1−2−3
              const s00 = m0 + m4 + m8, s01 = m1 + m5 + m9, s02 = m2 + m6 + m10, s03 = m3 + m7 + m11;
              const s10 = m4 - m8 - m12, s11 = m5 - m9 - m13, s12 = m6 - m10 - m14, s13 = m7 - m11 - m15;
              y[y00 + c] = s00 + s01 + s02;
              if (c1ok) y[y00 + Co + c] = s01 - s02 - s03;
              if (r1ok) {
                y[y10 + c] = s10 + s11 + s12;
                if (c1ok) y[y10 + Co + c] = s11 - s12 - s13;
              }
            }
          }
        }
      }
      return out;
    },
  },
  // Winograd F(3×3, 2×2) for dW: transformed 2×2 dy tiles, D_k[co, t] = (G' g_t G'ᵀ)_k, G' = [1 0; ½ ½; ½ −½; 0 −1]
  // (the sign of the last row folds F(3,2)'s Bᵀ into BnnWinogradIn's F(2,3) input transform); dy outside → 0
  {
    kernelName: 'BnnWinogradDyT', backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as HeapBackend;
      const di = (inputs as Record<string, Info>).dy;
      const a = attrs as unknown as { tH: number; tW: number };
      const [N, Ho, Wo, Co] = di.shape;
      const T = N * a.tH * a.tW;
      const outs = Array.from({ length: 16 }, () => b.makeOutput([Co, T], 'float32'));
      const dv = view(b, di);
      const D = outs.map((o) => view(b, o));
      let t = 0;
      for (let n = 0; n < N; n++) {
        for (let ty = 0; ty < a.tH; ty++) {
          for (let tx = 0; tx < a.tW; tx++, t++) {
            const r0 = 2 * ty, c0 = 2 * tx;
            const o00 = ((n * Ho + r0) * Wo + c0) * Co;
            const has01 = c0 + 1 < Wo, has10 = r0 + 1 < Ho, has11 = has01 && has10;
            for (let co = 0; co < Co; co++) {
              const g00 = dv[o00 + co], g01 = has01 ? dv[o00 + Co + co] : 0;
              const g10 = has10 ? dv[o00 + Wo * Co + co] : 0, g11 = has11 ? dv[o00 + Wo * Co + Co + co] : 0;
              // rows: h_i = G' applied down each column j (4×2)
              const h00 = g00, h01 = g01;
              const h10 = (g00 + g10) * 0.5, h11 = (g01 + g11) * 0.5;
              const h20 = (g00 - g10) * 0.5, h21 = (g01 - g11) * 0.5;
              const h30 = -g10, h31 = -g11;
              const hs = [h00, h01, h10, h11, h20, h21, h30, h31];
              const i0 = co * T + t;
              for (let i = 0; i < 4; i++) {
                const p = hs[2 * i], q = hs[2 * i + 1];
                D[i * 4][i0] = p; D[i * 4 + 1][i0] = (p + q) * 0.5; D[i * 4 + 2][i0] = (p - q) * 0.5; D[i * 4 + 3][i0] = -q;
              }
            }
          }
        }
      }
      return outs;
    },
  },
  // dW[a, b, ci, co] = (Aᵀ M A)_{ab}, M_k = m_k[co, ci], Aᵀ = [1 1 1 0; 0 1 −1 0; 0 1 1 1] (F(3,2))
  {
    kernelName: 'BnnWinogradDwOut', backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const b = backend as unknown as HeapBackend;
      const ms = Array.from({ length: 16 }, (_, k) => (inputs as Record<string, Info>)[`m${k}`]);
      const [Co, Ci] = ms[0].shape;
      const out = b.makeOutput([3, 3, Ci, Co], 'float32');
      const M = ms.map((m) => view(b, m));
      const y = view(b, out);
      const n = Ci * Co;
      const s = new Float64Array(12);
      for (let co = 0; co < Co; co++) {
        for (let ci = 0; ci < Ci; ci++) {
          const i = co * Ci + ci;
          for (let j = 0; j < 4; j++) {                   // s = Aᵀ M (3×4)
            const m0 = M[j][i], m1 = M[4 + j][i], m2 = M[8 + j][i], m3 = M[12 + j][i];
            s[j] = m0 + m1 + m2; s[4 + j] = m1 - m2; s[8 + j] = m1 + m2 + m3;
          }
          const o = ci * Co + co;
          for (let a = 0; a < 3; a++) {
            const s0 = s[4 * a], s1 = s[4 * a + 1], s2 = s[4 * a + 2], s3 = s[4 * a + 3];
            y[(a * 3) * n + o] = s0 + s1 + s2; y[(a * 3 + 1) * n + o] = s1 - s2; y[(a * 3 + 2) * n + o] = s1 + s2 + s3;
          }
        }
      }
      return out;
    },
  },
  jsKernel('BnnAdam', ['w', 'm', 'v', 'g'], (ins) => [ins[0]!.shape, ins[0]!.shape, ins[0]!.shape], ([w, m, v, g], [wn, mn, vn], a, io) => {
    const b1 = a.beta1 as number, b2 = a.beta2 as number;
    const fb1 = f32(b1), fb1c = f32(1 - b1), fb2 = f32(b2), fb2c = f32(1 - b2), eps = f32(a.epsilon as number), lr = f32(a.lr as number);
    const b = io.b, p = (i: Info) => ptr(b, i);
    elementwiseRun(io, w!.length, (k, n4) => k.adam(p(io.ins[0]!), p(io.ins[1]!), p(io.ins[2]!), p(io.ins[3]!),
      p(io.outs[0]), p(io.outs[1]), p(io.outs[2]), n4, fb1, fb1c, fb2, fb2c, eps, lr),
    (i) => {
      const gi = g![i];
      const mm = f32(f32(m![i] * fb1) + f32(gi * fb1c));
      const vv = f32(f32(v![i] * fb2) + f32(f32(gi * gi) * fb2c));
      mn[i] = mm; vn[i] = vv;
      wn[i] = f32(w![i] - f32(f32(mm / f32(f32(Math.sqrt(vv)) + eps)) * lr));
    });
  }),
];

let active = false;
const baseSign = new Map<string, tf.KernelConfig>();

/** Register (on) or remove (off) the fused kernels on the wasm backend. Idempotent. */
export function setFusedKernels(on: boolean, useSimd = true): void {
  simdEnabled = useSimd;
  for (const k of kernels) {
    if (k.kernelName === 'Sign') {
      const cur = tf.getKernel('Sign', 'wasm');
      if (!baseSign.has('wasm') && cur && cur.kernelFunc !== k.kernelFunc) baseSign.set('wasm', cur);
      if (cur) tf.unregisterKernel('Sign', 'wasm');
      tf.registerKernel(on ? k : baseSign.get('wasm') ?? k);
      continue;
    }
    if (tf.getKernel(k.kernelName, 'wasm')) tf.unregisterKernel(k.kernelName, 'wasm');
    if (on) tf.registerKernel(k);
  }
  active = on;
}

/** Whether fused kernels run for the current backend. */
export function fusedActive(): boolean {
  return active && tf.getBackend() === 'wasm';
}

// Gradient of BnnLarqSign (and of the fused sign): zero, as tf.sign's.
let gradsRegistered = false;
function ensureGrads(): void {
  if (gradsRegistered) return;
  gradsRegistered = true;
  tf.registerGradient({ kernelName: 'BnnLarqSign', gradFunc: (dy: tf.Tensor | tf.Tensor[]) => ({ x: () => tf.zerosLike(dy as tf.Tensor) }) });
}

/** Larq sign (+1 for x ≥ 0, −1 for x < 0), fused; null when fused kernels are off. */
export function larqSignFused<T extends tf.Tensor>(x: T): T | null {
  if (!fusedActive() || x.dtype !== 'float32') return null;
  ensureGrads();
  return tf.engine().runKernel('BnnLarqSign', { x }, {}) as T;
}

/** dy · 1{|x| ≤ clip}, fused; null when fused kernels are off. */
export function steGradFused(dy: tf.Tensor, x: tf.Tensor, clip: number): tf.Tensor | null {
  if (!fusedActive() || dy.dtype !== 'float32' || x.dtype !== 'float32') return null;
  return tf.engine().runKernel('BnnSteGrad', { dy, x }, { clip } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/**
 * Training-mode batch norm over all axes but the last, with its gradient (for x, β and γ), fused. Returns y and
 * the batch mean and biased variance (for the moving statistics; not differentiable), or null when off.
 */
export function batchNormTrainFused(x: tf.Tensor, beta: tf.Tensor | null, gamma: tf.Tensor | null, epsilon: number):
  { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } | null {
  if (!fusedActive() || x.dtype !== 'float32' || x.rank < 2) return null;
  let mean: tf.Tensor | null = null, variance: tf.Tensor | null = null;
  const inputs = [x, ...(beta ? [beta] : []), ...(gamma ? [gamma] : [])];
  const f = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xi = args[0] as tf.Tensor;
    const bi = beta ? args[1] as tf.Tensor : undefined;
    const gi = gamma ? args[beta ? 2 : 1] as tf.Tensor : undefined;
    const ins: Record<string, tf.Tensor> = { x: xi };
    if (bi) ins.beta = bi;
    if (gi) ins.gamma = gi;
    const [y, mu, v, s] = tf.engine().runKernel('BnnBatchNorm', ins as unknown as tf.NamedTensorMap,
      { epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    s.dispose();
    // the engine runs this forward inside a tidy: keep the statistics, re-own them in the caller's scope below
    mean = tf.keep(mu); variance = tf.keep(v);
    save([xi, mu, v, ...(gi ? [gi] : [])]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const gins: Record<string, tf.Tensor> = { dy, x: saved[0], mean: saved[1], variance: saved[2] };
        if (gi) gins.gamma = saved[3];
        const [dx, sdy, sdyx] = tf.engine().runKernel('BnnBatchNormGrad', gins as unknown as tf.NamedTensorMap,
          { epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor[];
        const out: tf.Tensor[] = [dx];
        if (bi) out.push(sdy); else sdy.dispose();
        if (gi) out.push(sdyx); else sdyx.dispose();
        return out;
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = f(...inputs);
  const mk = mean as unknown as tf.Tensor, vk = variance as unknown as tf.Tensor;
  const out = { y, mean: tf.clone(mk), variance: tf.clone(vk) };
  mk.dispose(); vk.dispose();
  return out;
}

/** One Bop step, fused: returns [w_t, m_t] (see bopUpdate in src/optimizers/bop.ts), or null when off. */
export function bopUpdateFused(w: tf.Tensor, m: tf.Tensor, g: tf.Tensor, gamma: number, threshold: number): [tf.Tensor, tf.Tensor] | null {
  if (!fusedActive() || w.dtype !== 'float32' || g.dtype !== 'float32') return null;
  return tf.engine().runKernel('BnnBop', { w, m, g }, { gamma, threshold } as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor];
}

/** One Keras-Adam step, fused: returns [w, m, v] (lr = lr_t · multiplier), or null when off. */
export function adamUpdateFused(w: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, lr: number, beta1: number, beta2: number,
  epsilon: number): [tf.Tensor, tf.Tensor, tf.Tensor] | null {
  if (!fusedActive() || w.dtype !== 'float32' || g.dtype !== 'float32') return null;
  return tf.engine().runKernel('BnnAdam', { w, m, v, g }, { lr, beta1, beta2, epsilon } as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** x [N,H,W,C] → pad (top, bottom, left, right; negative = crop) → transpose to [C,Hp,Wp,N], fused; null when off. */
export function padTransposeCHWNFused(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D | null {
  if (!fusedActive() || x.dtype !== 'float32') return null;
  return tf.engine().runKernel('BnnPadTransposeCHWN', { x }, { top, bottom, left, right } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * 3×3, stride-1 'valid' convolution of x [N,H,W,Ci] with w [3,3,Ci,Co] by Winograd F(2×2,3×3) (Lavin & Gray 2016):
 * 16 GEMMs [T,Ci]·[Ci,Co] (XNNPACK) on transformed 4×4 input tiles instead of 9 taps on 2×2 outputs, 2.25× fewer
 * multiplications; float rounding differs from the direct sum by a few ulps of the tile sums. null when off.
 */
export function winogradConv3x3Fused(x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D | null {
  if (!fusedActive() || x.dtype !== 'float32' || w.shape[0] !== 3 || w.shape[1] !== 3) return null;
  const [N, H, W] = x.shape;
  const Ho = H - 2, Wo = W - 2;
  if (Ho < 1 || Wo < 1) return null;
  const tH = Math.ceil(Ho / 2), tW = Math.ceil(Wo / 2);
  return tf.tidy(() => {
    const V = tf.engine().runKernel('BnnWinogradIn', { x }, { padTop: 0, padLeft: 0, tH, tW } as unknown as tf.NamedAttrMap) as tf.Tensor2D[];
    const U = tf.engine().runKernel('BnnWinogradFilter', { w }, {}) as tf.Tensor2D[];
    const ms: Record<string, tf.Tensor> = {};
    V.forEach((v, k) => { ms[`m${k}`] = tf.matMul(v, U[k]); });
    return tf.engine().runKernel('BnnWinogradOut', ms as unknown as tf.NamedTensorMap, { N, Ho, Wo, tH, tW } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  });
}

/**
 * dW of a 3×3, stride-1 conv (x [N,H,W,Ci], dy [N,Ho,Wo,Co], x padded by padTop/padLeft) by Winograd F(3×3,2×2):
 * dW = Σ over 2×2 dy tiles of the 3×3 correlation of the 4×4 x tile with the dy tile, as 16 GEMMs
 * D_kᵀ·V_k ([Co,T]·[T,Ci], T = tiles) instead of 36 multiplications per tile; returns [3,3,Ci,Co], or null when off.
 */
export function winogradFilterGrad3x3Fused(x: tf.Tensor4D, dy: tf.Tensor4D, padTop: number, padLeft: number): tf.Tensor4D | null {
  if (!fusedActive() || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const [N, , , Ho_] = [dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[1]];
  const Ho = Ho_, Wo = dy.shape[2];
  const tH = Math.ceil(Ho / 2), tW = Math.ceil(Wo / 2);
  void N;
  return tf.tidy(() => {
    const V = tf.engine().runKernel('BnnWinogradIn', { x }, { padTop, padLeft, tH, tW } as unknown as tf.NamedAttrMap) as tf.Tensor2D[];
    const D = tf.engine().runKernel('BnnWinogradDyT', { dy }, { tH, tW } as unknown as tf.NamedAttrMap) as tf.Tensor2D[];
    const ms: Record<string, tf.Tensor> = {};
    V.forEach((v, k) => { ms[`m${k}`] = tf.matMul(D[k], v); });
    return tf.engine().runKernel('BnnWinogradDwOut', ms as unknown as tf.NamedTensorMap, {}) as tf.Tensor4D;
  });
}
