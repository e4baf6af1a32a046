/**
 * The fused ops of the wasm backend: each runs one fused kernel (fusedKernels.ts, winograd.ts) when they are
 * registered and the backend is wasm (fusedRegistry.ts), and returns null otherwise; callers (src/quantizers,
 * src/layers, src/optimizers, wasmKernels.ts) then use their composite definition, the same arithmetic in tf ops.
 */
import * as tf from '@tensorflow/tfjs';
import { ensureGrads, fusedActive } from './fusedRegistry';

export { setFusedKernels, fusedActive } from './fusedRegistry';
export { simd } from './heap';
export type { HeapBackend } from './heap';

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

/** Runs one of the fused batch-norm kernels (forward or gradient) on named inputs; returns its outputs. */
function runBnKernel(
  name: 'BnnBatchNorm' | 'BnnBatchNormGrad',
  inputs: Record<string, tf.Tensor>,
  epsilon: number,
): tf.Tensor[] {
  return tf
    .engine()
    .runKernel(name, inputs as unknown as tf.NamedTensorMap, { epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor[];
}

/**
 * Training-mode batch norm over all axes but the last, with its gradient (for x, β and γ), fused. Returns y and
 * the batch mean and biased variance (for the moving statistics; not differentiable), or null when off.
 */
export function batchNormTrainFused(
  x: tf.Tensor,
  beta: tf.Tensor | null,
  gamma: tf.Tensor | null,
  epsilon: number,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } | null {
  if (!fusedActive() || x.dtype !== 'float32' || x.rank < 2) return null;
  let mean: tf.Tensor | null = null,
    variance: tf.Tensor | null = null;
  const inputs = [x, ...(beta ? [beta] : []), ...(gamma ? [gamma] : [])];
  const f = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xi = args[0] as tf.Tensor;
    const bi = beta ? (args[1] as tf.Tensor) : undefined;
    const gi = gamma ? (args[beta ? 2 : 1] as tf.Tensor) : undefined;
    const ins: Record<string, tf.Tensor> = { x: xi };
    if (bi) ins.beta = bi;
    if (gi) ins.gamma = gi;
    const [y, mu, v, s] = runBnKernel('BnnBatchNorm', ins, epsilon);
    s.dispose();
    // the engine runs this forward inside a tidy: keep the statistics, re-own them in the caller's scope below
    mean = tf.keep(mu);
    variance = tf.keep(v);
    save([xi, mu, v, ...(gi ? [gi] : [])]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const gins: Record<string, tf.Tensor> = { dy, x: saved[0], mean: saved[1], variance: saved[2] };
        if (gi) gins.gamma = saved[3];
        const [dx, sdy, sdyx] = runBnKernel('BnnBatchNormGrad', gins, epsilon);
        const out: tf.Tensor[] = [dx];
        if (bi) out.push(sdy);
        else sdy.dispose();
        if (gi) out.push(sdyx);
        else sdyx.dispose();
        return out;
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = f(...inputs);
  const mk = mean as unknown as tf.Tensor,
    vk = variance as unknown as tf.Tensor;
  const out = { y, mean: tf.clone(mk), variance: tf.clone(vk) };
  mk.dispose();
  vk.dispose();
  return out;
}

/** One Bop step, fused: returns [w_t, m_t] (see bopUpdate in src/optimizers/bop.ts), or null when off. */
export function bopUpdateFused(
  w: tf.Tensor,
  m: tf.Tensor,
  g: tf.Tensor,
  gamma: number,
  threshold: number,
): [tf.Tensor, tf.Tensor] | null {
  if (!fusedActive() || w.dtype !== 'float32' || g.dtype !== 'float32') return null;
  return tf
    .engine()
    .runKernel('BnnBop', { w, m, g }, { gamma, threshold } as unknown as tf.NamedAttrMap) as unknown as [
    tf.Tensor,
    tf.Tensor,
  ];
}

/** One Keras-Adam step, fused: returns [w, m, v] (lr = lr_t · multiplier), or null when off. */
export function adamUpdateFused(
  w: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  lr: number,
  beta1: number,
  beta2: number,
  epsilon: number,
): [tf.Tensor, tf.Tensor, tf.Tensor] | null {
  if (!fusedActive() || w.dtype !== 'float32' || g.dtype !== 'float32') return null;
  return tf
    .engine()
    .runKernel('BnnAdam', { w, m, v, g }, { lr, beta1, beta2, epsilon } as unknown as tf.NamedAttrMap) as unknown as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}

/** x [N,H,W,C] → pad (top, bottom, left, right; negative = crop) → transpose to [C,Hp,Wp,N], fused; null when off. */
export function padTransposeCHWNFused(
  x: tf.Tensor4D,
  top: number,
  bottom: number,
  left: number,
  right: number,
): tf.Tensor4D | null {
  if (!fusedActive() || x.dtype !== 'float32') return null;
  return tf
    .engine()
    .runKernel('BnnPadTransposeCHWN', { x }, { top, bottom, left, right } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * 3×3, stride-1 'valid' convolution of x [N,H,W,Ci] with w [3,3,Ci,Co] by Winograd F(2×2,3×3) (Lavin & Gray 2016):
 * 16 GEMMs [T,Ci]·[Ci,Co] (XNNPACK) on transformed 4×4 input tiles instead of 9 taps on 2×2 outputs, 2.25× fewer
 * multiplications; float rounding differs from the direct sum by a few ulps of the tile sums. null when off.
 */
export function winogradConv3x3Fused(x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D | null {
  if (!fusedActive() || x.dtype !== 'float32' || w.shape[0] !== 3 || w.shape[1] !== 3) return null;
  const [N, H, W] = x.shape;
  const Ho = H - 2,
    Wo = W - 2;
  if (Ho < 1 || Wo < 1) return null;
  const tH = Math.ceil(Ho / 2),
    tW = Math.ceil(Wo / 2);
  return tf.tidy(() => {
    const V = tf.engine().runKernel('BnnWinogradIn', { x }, {
      padTop: 0,
      padLeft: 0,
      tH,
      tW,
    } as unknown as tf.NamedAttrMap) as tf.Tensor2D[];
    const U = tf.engine().runKernel('BnnWinogradFilter', { w }, {}) as tf.Tensor2D[];
    const ms: Record<string, tf.Tensor> = {};
    V.forEach((v, k) => {
      ms[`m${k}`] = tf.matMul(v, U[k]);
    });
    return tf
      .engine()
      .runKernel(
        'BnnWinogradOut',
        ms as unknown as tf.NamedTensorMap,
        { N, Ho, Wo, tH, tW } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor4D;
  });
}
