/**
 * The packed model: its types (what `packModel` / `packGraph` produce, `savePacked` stores and both runtimes run)
 * and the per-stage post-ops with their exact float32 semantics.
 *
 * A *stage* is one binary-kernel layer (QuantConv2D, or QuantDense seen as a convolution whose window is the whole
 * input) followed by its max-pools and its BatchNorm:
 *
 *   pre  = conv(x, sign(kernel))       x real (first layer: float adds/subtracts) or ±1 bits (XNOR-popcount)
 *   pre  = maxpool(pre) ...            (BinaryNet pools before BN)
 *   out  = threshold(pre)              if the next layer binarizes its input (ste_sign), or
 *   out  = BN(pre) [→ softmax]         for the last stage (float32 logits, as tfjs computes them)
 *
 * BatchNorm folding: tfjs computes o = ((y − μ)·inv) + β in float32, inv = rsqrt(σ² + ε)·γ, and the next
 * layer takes sign(o) with sign(0) = +1. Every float32 step is monotone in y (non-decreasing if inv > 0,
 * non-increasing if inv < 0), so {y : o(y) ≥ 0} is a half-line; we find its end t exactly by bisection
 * over the ordered float32 values, evaluating o with Math.fround exactly as tfjs does (inv is computed by
 * tfjs itself). Then  bit = y ≥ t  (inv > 0)  or  y ≤ t  (inv < 0),  bit-exact with the float model for
 * integer y. Max-pool commutes with a monotone threshold, and we pool the integer pre-activations before
 * thresholding, so pooling is exact either way.
 */
import type { ConvGeom, KernelName } from '../xnor';

export interface PoolSpec {
  size: [number, number];
  stride: [number, number];
}

export type PostOp =
  /** bit = neg ? (y ≤ t) : (y ≥ t), per output channel. */
  | { kind: 'threshold'; t: Float32Array; neg: Uint8Array }
  /** o = fround(fround(fround(y − mean)·inv) + beta) (tfjs' BN at inference), optionally softmax'ed. */
  | { kind: 'affine'; mean: Float32Array; inv: Float32Array; beta: Float32Array }
  /** o = y (no BN after the last layer). */
  | { kind: 'identity' };

/** One binary-kernel layer with its pools and BN, as stored in the packed file (its conv geometry: src/xnor). */
export interface PackedStage extends ConvGeom {
  /** Source layer name. */
  name: string;
  /** 'real': float input (first layer); 'binary': ±1 input as bits. */
  input: 'real' | 'binary';
  outC: number;
  pools: PoolSpec[];
  outH: number;
  outW: number;
  /** Kernel sign bits (src/xnor/bits.ts layout, 1 = +1), [outC][kh·kw][ceil(inC/32)] words, unused high bits 0. */
  weights: Uint32Array;
  post: PostOp;
}

export interface PackedSpec {
  inputShape: [number, number, number];
  numClasses: number;
  softmax: boolean;
  stages: PackedStage[];
  /** Present for DAG models (the binarized UNet, graph.ts): how the stages connect; run with PackedGraphModel. */
  graph?: GraphSpec;
}

/**
 * A DAG of bit tensors (graph.ts): 'input' (the real image), 'conv' (stage `stage`: its thresholded bits, or the
 * last stage's real outputs), 'orpool' (max-pool of BN outputs before a sign = OR of their sign bits), 'upsample'
 * (nearest, of bits), 'concat' (channels, in order). Nodes are in evaluation order; `output` is the last conv.
 */
export interface GraphNode {
  name: string;
  op: 'input' | 'conv' | 'orpool' | 'upsample' | 'concat';
  inputs: number[];
  h: number;
  w: number;
  c: number;
  stage?: number;
  pool?: PoolSpec;
  up?: [number, number];
}
export interface GraphSpec {
  nodes: GraphNode[];
  output: number;
}

/**
 * Kernels the packed models take: the generic GEMMs of src/xnor, 'mix' (fused wasm engine: SIMD and i64 rows side by
 * side), or 'native' (the native XNOR-popcount engine of the addon: native.ts).
 */
export type PackedKernel = KernelName | 'mix' | 'native';

/** A BatchNorm at inference as tfjs computes it in float32: o = ((y − mean)·inv) + beta. */
export interface BnParams {
  mean: Float32Array;
  inv: Float32Array;
  beta: Float32Array;
}

/** Output size of a 'valid' pool window along one axis: ⌊(n − size)/stride⌋ + 1. */
export const pooledSize = (n: number, size: number, stride: number): number => Math.floor((n - size) / stride) + 1;

// ------------------------------------------------------------------ BN → threshold

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** Float32 value at ordered index i (monotone bijection between ints in ±0x7f7fffff and finite float32s). */
function ordToFloat(i: number): number {
  u32[0] = i < 0 ? (0x80000000 | -i) >>> 0 : i;
  return f32[0];
}
const MAX_ORD = 0x7f7fffff;

/** tfjs' BN at inference in float32: fround(fround(fround(y − mean)·inv) + beta). */
export function bnFloat32(y: number, mean: number, inv: number, beta: number): number {
  return Math.fround(Math.fround(Math.fround(y - mean) * inv) + beta);
}

/** A stage's final float outputs from its (pooled) pre-activations y [npix·C]: BN (affine) or y itself. */
export function finalOutputs(post: PostOp, y: ArrayLike<number>, C: number): Float32Array {
  const out = new Float32Array(y.length);
  if (post.kind !== 'affine') {
    for (let i = 0; i < y.length; i++) out[i] = y[i];
    return out;
  }
  const { mean, inv, beta } = post;
  for (let i = 0, c = 0; i < y.length; i++, c = c + 1 === C ? 0 : c + 1)
    out[i] = bnFloat32(y[i], mean[c], inv[c], beta[c]);
  return out;
}

/**
 * Folds sign(BN(y)) (sign(0) = +1) into a threshold on float32 y: returns {t, neg} with
 * sign(BN(y)) = +1 ⇔ (neg ? y ≤ t : y ≥ t), exact for every finite float32 y (see module comment).
 */
export function foldThreshold(mean: number, inv: number, beta: number): { t: number; neg: boolean } {
  const f = (i: number) => bnFloat32(ordToFloat(i), mean, inv, beta) >= 0;
  const lo = f(-MAX_ORD);
  const hi = f(MAX_ORD);
  if (lo === hi) return { t: lo ? -Infinity : Infinity, neg: false }; // constant
  // f changes once over the ordered float32s: bisect for the last index a with f(a) = lo (f(a + 1) ≠ lo)
  let a = -MAX_ORD;
  let b = MAX_ORD;
  while (b - a > 1) {
    const m = Math.floor((a + b) / 2);
    if (f(m) === lo) a = m;
    else b = m;
  }
  // lo false: +1 from b on (y ≥ t); lo true: +1 up to a (y ≤ t)
  return lo ? { t: ordToFloat(a), neg: true } : { t: ordToFloat(b), neg: false };
}

/**
 * What follows a packed conv: the last stage keeps its batch norm as a float affine map (or nothing); every
 * other stage folds BN + sign into per-channel thresholds (`foldThreshold`; no BN = threshold at 0).
 */
export function stagePost(bn: BnParams | null, outC: number, final: boolean): PostOp {
  if (final) return bn ? { kind: 'affine', ...bn } : { kind: 'identity' };
  const t = new Float32Array(outC);
  const neg = new Uint8Array(outC);
  for (let o = 0; o < outC; o++) {
    const r = bn ? foldThreshold(bn.mean[o], bn.inv[o], bn.beta[o]) : foldThreshold(0, 1, 0);
    t[o] = r.t;
    neg[o] = r.neg ? 1 : 0;
  }
  return { kind: 'threshold', t, neg };
}

/** Per-image results of a classifier or a per-pixel classifier: logits, softmax (or logits again), argmax. */
export interface Predictions {
  logits: Float32Array;
  probs: Float32Array;
  classes: Int32Array;
}

/**
 * Fills `res` for item `i` (images, or pixels of images) of `k` classes from its outputs `y`: logits, argmax
 * (first maximum) and, with `softmax`, exp(y − max)/Σ exp(y − max) (else probs = logits).
 */
export function setPrediction(
  res: Predictions,
  i: number,
  y: ArrayLike<number>,
  yOff: number,
  k: number,
  softmax: boolean,
): void {
  let best = 0;
  for (let j = 1; j < k; j++) if (y[yOff + j] > y[yOff + best]) best = j;
  res.classes[i] = best;
  const m = y[yOff + best];
  let s = 0;
  for (let j = 0; j < k; j++) {
    res.logits[i * k + j] = y[yOff + j];
    if (softmax) s += Math.exp(y[yOff + j] - m);
  }
  for (let j = 0; j < k; j++) res.probs[i * k + j] = softmax ? Math.exp(y[yOff + j] - m) / s : y[yOff + j];
}
