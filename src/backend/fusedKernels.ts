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
 *   Sign           sign(x) exactly (+1, −1, 0 at ±0, 0 at NaN as the cpu backend). Replaces wasm's `Sign`, which
 *                  returns 0 for |x| < 1.19e-7 (FLT_EPSILON) in tfjs 4.22 — wrong for Bop's w·m − τ with τ = 1e-8.
 *   BnnLarqSign    Larq's sign(sign(x) + 0.1): +1 for x ≥ 0 (and NaN), −1 for x < 0.
 *   BnnSteGrad     dy · 1{|x| ≤ clip}   (straight-through estimator's gradient, Larq ste_sign).
 *   BnnBatchNorm   training batch norm over all axes but the last: mean μ, biased variance σ², and
 *                  y = (x − μ)·s + β with s = γ/√(σ² + ε) (or 1/√(σ² + ε)).
 *   BnnBatchNormGrad  dβ = Σ dy, dγ = Σ dy·x̂, dx = s·(dy − Σdy/n − x̂·Σ(dy·x̂)/n), x̂ = (x − μ)/√(σ² + ε).
 *   BnnBop         Bop (Helwegen et al. 2019): m' = (1−γ)m + γg; w' = larqSign(−sign(w·m' − τ)·w).
 *   BnnAdam        Keras Adam: m' = β₁m + (1−β₁)g, v' = β₂v + (1−β₂)g², w' = w − lr_t·m'/(√v' + ε).
 *   BnnPadTransposeCHWN  x [N,H,W,C] → zero-pad → [C,Hp,Wp,N] in one pass (input of dW's swapped conv).
 * The heavy loops run as WebAssembly SIMD (kernels/train.ts, heap.ts' `simd`) on tfjs-wasm's own memory; plain JS
 * loops cover channel counts that are not multiples of 4 and the tails. fusedRegistry.ts registers them; fused.ts
 * has the ops that call them.
 */
import type * as tf from '@tensorflow/tfjs';
import type { TrainKernels } from '../wasm/trainKernels';
import { heapF32, heapPtr, scratch, simd } from './heap';
import type { HeapBackend } from './heap';

type Info = tf.TensorInfo;
const f32 = Math.fround;

/** Rows per SIMD column-sum call: float32 partial sums over at most this many rows, then float64 totals. */
const BLOCK = 256;

/**
 * Register a JS kernel: `outShapes` gives the output shapes; all outputs are allocated first (allocation can grow
 * the heap and detach views), then `run` gets fresh float32 views of the inputs (in `names` order; a missing
 * optional input is null) and outputs.
 */
function jsKernel(
  name: string,
  names: string[],
  outShapes: (ins: (Info | null)[], attrs: Record<string, unknown>) => number[][],
  run: (
    ins: (Float32Array | null)[],
    outs: Float32Array[],
    attrs: Record<string, unknown>,
    io: { b: HeapBackend; ins: (Info | null)[]; outs: Info[] },
  ) => void,
): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as HeapBackend;
      const infos = names.map((n) => (inputs as Record<string, Info | undefined>)[n] ?? null);
      for (const i of infos) {
        if (i && i.dtype !== 'float32') throw new Error(`${name}: input dtype ${i.dtype}, expected float32`);
      }
      const a = attrs as unknown as Record<string, unknown>;
      const outs = outShapes(infos, a).map((s) => b.makeOutput(s, 'float32'));
      run(
        infos.map((i) => (i ? heapF32(b, i) : null)),
        outs.map((o) => heapF32(b, o)),
        a,
        { b, ins: infos, outs },
      );
      return outs.length === 1 ? outs[0] : outs;
    },
  };
}

const same = (ins: (Info | null)[]) => [ins[0]!.shape];

/** Elementwise op: SIMD on the first 4·⌊n/4⌋ elements when available, `tail(i)` (JS) on the rest. */
function elementwiseRun(
  io: { b: HeapBackend },
  n: number,
  simdCall: ((k: TrainKernels, n4: number) => void) | null,
  tail: (i: number) => void,
) {
  const k = simd(io.b);
  let start = 0;
  if (k && simdCall && n >= 4) {
    simdCall(k, n >>> 2);
    start = n & ~3;
  }
  for (let i = start; i < n; i++) tail(i);
}

/** Σ over rows of a [rows, C] matrix at byte offset `xp`, per channel, into float64 (SIMD column sums when C % 4 = 0). */
function columnSums(
  b: HeapBackend,
  k: TrainKernels,
  rows: number,
  C: number,
  acc: number,
  call: (rowOff: number, nRows: number) => void,
  out: Float64Array[],
): void {
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

/** The fused kernels of this module, for the wasm backend. */
export const FUSED_KERNELS: tf.KernelConfig[] = [
  jsKernel('Sign', ['x'], same, ([x], [y], _a, io) => {
    const xv = x!,
      n = xv.length;
    elementwiseRun(
      io,
      n,
      (k, n4) => k.sign(heapPtr(io.b, io.ins[0]!), heapPtr(io.b, io.outs[0]), n4),
      (i) => {
        const v = xv[i];
        y[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
      },
    );
  }),
  jsKernel('BnnLarqSign', ['x'], same, ([x], [y], _a, io) => {
    const xv = x!,
      n = xv.length;
    elementwiseRun(
      io,
      n,
      (k, n4) => k.larqSign(heapPtr(io.b, io.ins[0]!), heapPtr(io.b, io.outs[0]), n4),
      (i) => {
        y[i] = xv[i] < 0 ? -1 : 1;
      },
    );
  }),
  jsKernel('BnnSteGrad', ['dy', 'x'], same, ([dy, x], [dx], a, io) => {
    const clip = f32(a.clip as number),
      dv = dy!,
      xv = x!;
    elementwiseRun(
      io,
      xv.length,
      (k, n4) => k.steGrad(heapPtr(io.b, io.ins[0]!), heapPtr(io.b, io.ins[1]!), heapPtr(io.b, io.outs[0]), n4, clip),
      (i) => {
        dx[i] = dv[i] * (Math.abs(xv[i]) <= clip ? 1 : 0);
      },
    );
  }),
  jsKernel(
    'BnnBatchNorm',
    ['x', 'beta', 'gamma'],
    (ins) => {
      const c = ins[0]!.shape[ins[0]!.shape.length - 1];
      return [ins[0]!.shape, [c], [c], [c]];
    },
    ([x, beta, gamma], [y, mean, variance, scale], a, io) => {
      const C = mean.length,
        rows = x!.length / C,
        eps = a.epsilon as number;
      const s1 = new Float64Array(C),
        s2 = new Float64Array(C);
      const k = C % 4 === 0 ? simd(io.b) : null;
      const b = io.b;
      const [xp, meanP, scaleP, yp] = [
        heapPtr(b, io.ins[0]!),
        heapPtr(b, io.outs[1]),
        heapPtr(b, io.outs[3]),
        heapPtr(b, io.outs[0]),
      ];
      const sc = k ? scratch(b, 2 * C) : null; // accumulator; zero beta
      if (k && sc) {
        columnSums(b, k, rows, C, sc.p, (r0, nr) => k.colSum(xp + r0 * C * 4, nr, C >>> 2, sc.p), [s1]);
      } else {
        for (let i = 0; i < x!.length; i += C) for (let c = 0; c < C; c++) s1[c] += x![i + c];
      }
      for (let c = 0; c < C; c++) s1[c] /= rows;
      heapF32(b, io.outs[1]).set(s1); // mean (float32)
      if (k && sc) {
        columnSums(b, k, rows, C, sc.p, (r0, nr) => k.colSqDev(xp + r0 * C * 4, nr, C >>> 2, meanP, sc.p), [s2]);
      } else {
        const mu = heapF32(b, io.outs[1]);
        for (let i = 0; i < x!.length; i += C)
          for (let c = 0; c < C; c++) {
            const d = x![i + c] - mu[c];
            s2[c] += d * d;
          }
      }
      const mv = heapF32(b, io.outs[1]),
        vv = heapF32(b, io.outs[2]),
        sv = heapF32(b, io.outs[3]);
      const gv = gamma ? heapF32(b, io.ins[2]!) : null;
      for (let c = 0; c < C; c++) {
        vv[c] = s2[c] / rows;
        // inv = rsqrt(var + eps) [· gamma], each step rounded to float32 as the composite
        let inv = f32(1 / Math.sqrt(f32(vv[c] + f32(eps))));
        if (gv) inv = f32(inv * gv[c]);
        sv[c] = inv;
      }
      if (k && sc) {
        let betaP = sc.p + C * 4;
        if (beta) betaP = heapPtr(b, io.ins[1]!);
        else new Float32Array(b.wasm.HEAPU8.buffer, betaP, C).fill(0);
        k.bnApply(xp, yp, rows, C >>> 2, meanP, scaleP, betaP);
        sc.free();
      } else {
        const xv = heapF32(b, io.ins[0]!),
          yv = heapF32(b, io.outs[0]),
          bv = beta ? heapF32(b, io.ins[1]!) : null;
        for (let i = 0; i < xv.length; i += C) {
          for (let c = 0; c < C; c++) {
            const t = f32(f32(xv[i + c] - mv[c]) * sv[c]);
            yv[i + c] = bv ? t + bv[c] : t;
          }
        }
      }
      void y;
      void mean;
      void variance;
      void scale;
    },
  ),
  jsKernel(
    'BnnBatchNormGrad',
    ['dy', 'x', 'mean', 'variance', 'gamma'],
    (ins) => {
      const c = ins[2]!.shape[0];
      return [ins[0]!.shape, [c], [c]];
    },
    ([dy, x, mean, variance, gamma], [dx, sdy, sdyx], a, io) => {
      const C = mean!.length,
        n = x!.length / C,
        eps = a.epsilon as number;
      const b = io.b;
      const inv = new Float64Array(C),
        s1 = new Float64Array(C),
        s2 = new Float64Array(C);
      for (let c = 0; c < C; c++) inv[c] = 1 / Math.sqrt(variance![c] + f32(eps));
      const k = C % 4 === 0 ? simd(b) : null;
      const [dyp, xp, mp, dxp] = [
        heapPtr(b, io.ins[0]!),
        heapPtr(b, io.ins[1]!),
        heapPtr(b, io.ins[2]!),
        heapPtr(b, io.outs[0]),
      ];
      const sc = k ? scratch(b, 3 * C) : null;
      if (k && sc) {
        columnSums(
          b,
          k,
          n,
          C,
          sc.p,
          (r0, nr) => k.bnGradSums(dyp + r0 * C * 4, xp + r0 * C * 4, nr, C >>> 2, mp, sc.p, sc.p + C * 4),
          [s1, s2],
        );
      } else {
        const mu = mean!;
        for (let i = 0; i < x!.length; i += C) {
          for (let c = 0; c < C; c++) {
            const g = dy![i + c];
            s1[c] += g;
            s2[c] += g * (x![i + c] - mu[c]);
          }
        }
      }
      const gv = gamma ? heapF32(b, io.ins[4]!) : null;
      const k0 = new Float64Array(C),
        k1 = new Float64Array(C),
        k2 = new Float64Array(C);
      const sdyv = heapF32(b, io.outs[1]),
        sdyxv = heapF32(b, io.outs[2]);
      for (let c = 0; c < C; c++) {
        sdyv[c] = s1[c];
        sdyxv[c] = s2[c] * inv[c]; // Σ dy·x̂
        const s = (gv ? gv[c] : 1) * inv[c];
        // dx = s·dy − s·Σdy/n − s·inv²·(x−μ)·Σ(dy·(x−μ))/n
        k0[c] = s;
        k1[c] = (s * s1[c]) / n;
        k2[c] = (s * inv[c] * inv[c] * s2[c]) / n;
      }
      if (k && sc) {
        const kv = new Float32Array(b.wasm.HEAPU8.buffer, sc.p, 3 * C);
        kv.set(k0, 0);
        kv.set(k1, C);
        kv.set(k2, 2 * C);
        k.bnGradApply(dyp, xp, dxp, n, C >>> 2, mp, sc.p, sc.p + 4 * C, sc.p + 8 * C);
        sc.free();
      } else {
        const dyv = heapF32(b, io.ins[0]!),
          xv = heapF32(b, io.ins[1]!),
          mu = heapF32(b, io.ins[2]!),
          dxv = heapF32(b, io.outs[0]);
        for (let i = 0; i < xv.length; i += C) {
          for (let c = 0; c < C; c++) dxv[i + c] = k0[c] * dyv[i + c] - k1[c] - k2[c] * (xv[i + c] - mu[c]);
        }
      }
      void dx;
      void sdy;
      void sdyx;
    },
  ),
  jsKernel(
    'BnnBop',
    ['w', 'm', 'g'],
    (ins) => [ins[0]!.shape, ins[0]!.shape],
    ([w, m, g], [wn, mn], a, io) => {
      const gamma = a.gamma as number;
      const c1 = f32(1 - gamma),
        c2 = f32(gamma),
        tau = f32(a.threshold as number);
      const wv = w!,
        mv = m!,
        gv = g!;
      const b = io.b;
      elementwiseRun(
        io,
        wv.length,
        (k, n4) =>
          k.bop(
            heapPtr(b, io.ins[0]!),
            heapPtr(b, io.ins[1]!),
            heapPtr(b, io.ins[2]!),
            heapPtr(b, io.outs[0]),
            heapPtr(b, io.outs[1]),
            n4,
            c1,
            c2,
            tau,
          ),
        (i) => {
          const mm = f32(f32(mv[i] * c1) + f32(gv[i] * c2));
          mn[i] = mm;
          const wi = wv[i];
          const d = f32(f32(wi * mm) - tau);
          const s = d > 0 ? 1 : d < 0 ? -1 : 0;
          wn[i] = -s * wi < 0 ? -1 : 1; // larqSign(−sign(w·m − τ)·w); tie (d = 0) → +1
        },
      );
    },
  ),
  // x [N,H,W,C] zero-padded (negative pads crop) and transposed to [C, Hp, Wp, N] in one pass (dW's swapped conv)
  jsKernel(
    'BnnPadTransposeCHWN',
    ['x'],
    (ins, a) => {
      const [N, H, W, C] = ins[0]!.shape;
      const p = a as unknown as { top: number; bottom: number; left: number; right: number };
      return [[C, H + p.top + p.bottom, W + p.left + p.right, N]];
    },
    ([x], [y], a, io) => {
      const [N, H, W, C] = io.ins[0]!.shape;
      const p = a as unknown as { top: number; left: number };
      const [, Hp, Wp] = io.outs[0].shape;
      const xv = x!;
      if (Hp * Wp !== H * W || p.top !== 0 || p.left !== 0) y.fill(0);
      const k = C % 4 === 0 ? simd(io.b) : null;
      if (k) {
        k.padTransposeCHWN(
          heapPtr(io.b, io.ins[0]!),
          heapPtr(io.b, io.outs[0]),
          N,
          H,
          W,
          C >>> 2,
          Hp,
          Wp,
          p.top,
          p.left,
        );
        return;
      }
      const nStride = H * W * C,
        cStride = Hp * Wp * N;
      for (let hp = 0; hp < Hp; hp++) {
        const h = hp - p.top;
        if (h < 0 || h >= H) continue;
        for (let wp = 0; wp < Wp; wp++) {
          const w = wp - p.left;
          if (w < 0 || w >= W) continue;
          const src = (h * W + w) * C,
            dst = (hp * Wp + wp) * N;
          for (let c = 0; c < C; c++) {
            const o = dst + c * cStride;
            for (let n = 0, i = src + c; n < N; n++, i += nStride) y[o + n] = xv[i];
          }
        }
      }
    },
  ),
  jsKernel(
    'BnnAdam',
    ['w', 'm', 'v', 'g'],
    (ins) => [ins[0]!.shape, ins[0]!.shape, ins[0]!.shape],
    ([w, m, v, g], [wn, mn, vn], a, io) => {
      const b1 = a.beta1 as number,
        b2 = a.beta2 as number;
      const fb1 = f32(b1),
        fb1c = f32(1 - b1),
        fb2 = f32(b2),
        fb2c = f32(1 - b2),
        eps = f32(a.epsilon as number),
        lr = f32(a.lr as number);
      const b = io.b,
        p = (i: Info) => heapPtr(b, i);
      elementwiseRun(
        io,
        w!.length,
        (k, n4) =>
          k.adam(
            p(io.ins[0]!),
            p(io.ins[1]!),
            p(io.ins[2]!),
            p(io.ins[3]!),
            p(io.outs[0]),
            p(io.outs[1]),
            p(io.outs[2]),
            n4,
            fb1,
            fb1c,
            fb2,
            fb2c,
            eps,
            lr,
          ),
        (i) => {
          const gi = g![i];
          const mm = f32(f32(m![i] * fb1) + f32(gi * fb1c));
          const vv = f32(f32(v![i] * fb2) + f32(f32(gi * gi) * fb2c));
          mn[i] = mm;
          vn[i] = vv;
          wn[i] = f32(w![i] - f32(f32(mm / f32(f32(Math.sqrt(vv)) + eps)) * lr));
        },
      );
    },
  ),
];
