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
 *
 * The op wrappers below return null when the fused kernels are not active (backend other than wasm, or
 * registration disabled); callers then use their composite definition.
 */
import * as tf from '@tensorflow/tfjs';

type Info = tf.TensorInfo;
const f32 = Math.fround;

interface HeapBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: string): Info;
}

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
  run: (ins: (Float32Array | null)[], outs: Float32Array[], attrs: Record<string, unknown>, infos: (Info | null)[]) => void): tf.KernelConfig {
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
      run(infos.map((i) => (i ? view(b, i) : null)), outs.map((o) => view(b, o)), a, infos);
      return outs.length === 1 ? outs[0] : outs;
    },
  };
}

const same = (ins: (Info | null)[]) => [ins[0]!.shape];

const kernels: tf.KernelConfig[] = [
  jsKernel('Sign', ['x'], same, ([x], [y]) => {
    for (let i = 0; i < x!.length; i++) { const v = x![i]; y[i] = v > 0 ? 1 : v < 0 ? -1 : 0; }
  }),
  jsKernel('BnnLarqSign', ['x'], same, ([x], [y]) => {
    for (let i = 0; i < x!.length; i++) y[i] = x![i] < 0 ? -1 : 1;
  }),
  jsKernel('BnnSteGrad', ['dy', 'x'], same, ([dy, x], [dx], a) => {
    const clip = f32(a.clip as number);
    for (let i = 0; i < x!.length; i++) dx[i] = dy![i] * (Math.abs(x![i]) <= clip ? 1 : 0);
  }),
  jsKernel('BnnBatchNorm', ['x', 'beta', 'gamma'], (ins) => { const c = ins[0]!.shape[ins[0]!.shape.length - 1]; return [ins[0]!.shape, [c], [c], [c]]; },
    ([x, beta, gamma], [y, mean, variance, scale], a) => {
      const C = mean.length, n = x!.length / C, eps = a.epsilon as number;
      const s1 = new Float64Array(C), s2 = new Float64Array(C);
      for (let i = 0; i < x!.length; i += C) for (let c = 0; c < C; c++) s1[c] += x![i + c];
      for (let c = 0; c < C; c++) s1[c] /= n;
      for (let i = 0; i < x!.length; i += C) for (let c = 0; c < C; c++) { const d = x![i + c] - s1[c]; s2[c] += d * d; }
      const mu = mean, sc = scale;
      for (let c = 0; c < C; c++) {
        mu[c] = s1[c];
        variance[c] = s2[c] / n;
        // inv = rsqrt(var + eps) [· gamma], each step rounded to float32 as the composite
        let inv = f32(1 / Math.sqrt(f32(variance[c] + f32(eps))));
        if (gamma) inv = f32(inv * gamma[c]);
        sc[c] = inv;
      }
      for (let i = 0; i < x!.length; i += C) {
        for (let c = 0; c < C; c++) {
          const t = f32(f32(x![i + c] - mu[c]) * sc[c]);
          y[i + c] = beta ? t + beta[c] : t;
        }
      }
    }),
  jsKernel('BnnBatchNormGrad', ['dy', 'x', 'mean', 'variance', 'gamma'],
    (ins) => { const c = ins[2]!.shape[0]; return [ins[0]!.shape, [c], [c]]; },
    ([dy, x, mean, variance, gamma], [dx, sdy, sdyx], a) => {
      const C = mean!.length, n = x!.length / C, eps = a.epsilon as number;
      const inv = new Float64Array(C), s1 = new Float64Array(C), s2 = new Float64Array(C), mu = new Float64Array(C);
      for (let c = 0; c < C; c++) { inv[c] = 1 / Math.sqrt(variance![c] + f32(eps)); mu[c] = mean![c]; }
      for (let i = 0; i < x!.length; i += C) {
        for (let c = 0; c < C; c++) { const g = dy![i + c]; s1[c] += g; s2[c] += g * (x![i + c] - mu[c]); }
      }
      const k0 = new Float64Array(C), k1 = new Float64Array(C), k2 = new Float64Array(C);
      for (let c = 0; c < C; c++) {
        sdy[c] = s1[c];
        sdyx[c] = s2[c] * inv[c];                       // Σ dy·x̂
        const s = (gamma ? gamma[c] : 1) * inv[c];
        // dx = s·dy − s·Σdy/n − s·inv²·(x−μ)·Σ(dy·(x−μ))/n
        k0[c] = s; k1[c] = s * s1[c] / n; k2[c] = s * inv[c] * inv[c] * s2[c] / n;
      }
      for (let i = 0; i < x!.length; i += C) {
        for (let c = 0; c < C; c++) dx[i + c] = k0[c] * dy![i + c] - k1[c] - k2[c] * (x![i + c] - mu[c]);
      }
    }),
  jsKernel('BnnBop', ['w', 'm', 'g'], (ins) => [ins[0]!.shape, ins[0]!.shape], ([w, m, g], [wn, mn], a) => {
    const gamma = a.gamma as number;
    const c1 = f32(1 - gamma), c2 = f32(gamma), tau = f32(a.threshold as number);
    for (let i = 0; i < w!.length; i++) {
      const mm = f32(f32(m![i] * c1) + f32(g![i] * c2));
      mn[i] = mm;
      const wi = w![i];
      const d = f32(f32(wi * mm) - tau);
      const s = d > 0 ? 1 : d < 0 ? -1 : 0;
      wn[i] = -s * wi < 0 ? -1 : 1;                     // larqSign(−sign(w·m − τ)·w); tie (d = 0) → +1
    }
  }),
  jsKernel('BnnAdam', ['w', 'm', 'v', 'g'], (ins) => [ins[0]!.shape, ins[0]!.shape, ins[0]!.shape], ([w, m, v, g], [wn, mn, vn], a) => {
    const b1 = a.beta1 as number, b2 = a.beta2 as number;
    const fb1 = f32(b1), fb1c = f32(1 - b1), fb2 = f32(b2), fb2c = f32(1 - b2), eps = f32(a.epsilon as number), lr = f32(a.lr as number);
    for (let i = 0; i < w!.length; i++) {
      const gi = g![i];
      const mm = f32(f32(m![i] * fb1) + f32(gi * fb1c));
      const vv = f32(f32(v![i] * fb2) + f32(f32(gi * gi) * fb2c));
      mn[i] = mm; vn[i] = vv;
      wn[i] = f32(w![i] - f32(f32(mm / f32(f32(Math.sqrt(vv)) + eps)) * lr));
    }
  }),
];

let active = false;
const baseSign = new Map<string, tf.KernelConfig>();

/** Register (on) or remove (off) the fused kernels on the wasm backend. Idempotent. */
export function setFusedKernels(on: boolean): void {
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
