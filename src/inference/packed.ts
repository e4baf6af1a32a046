/**
 * Packed binary inference for BinaryNet-style tf.Sequential models (src/models/binarynet.ts).
 *
 * `packModel(model)` turns the layer sequence into *stages*; a stage is one binary-kernel layer
 * (QuantConv2D, or QuantDense seen as a convolution whose window is the whole input) followed by its
 * max-pools and its BatchNorm:
 *
 *   pre  = conv(x, sign(kernel))       x real (first layer: float adds/subtracts) or ±1 bits (XNOR-popcount)
 *   pre  = maxpool(pre) ...            (BinaryNet pools before BN)
 *   out  = threshold(pre)              if the next layer binarizes its input (ste_sign), or
 *   out  = BN(pre) [→ softmax]         for the last stage (float32 logits, as tfjs computes them)
 *
 * Binary layers: with bits b ∈ {0,1} for ±1 values, x·w = n − 2·popcount(x XOR w). Zero padding ('same')
 * contributes 0, not ±1: the patch holds 0-bits (= −1) there, so each padded position adds −Σw instead of 0;
 * we subtract it back exactly with precomputed per-position kernel popcounts:
 *   x·w = nValid·C − 2·(popcount_all − Σ_{padded positions} popcount(w_pos)).
 *
 * BatchNorm folding: tfjs computes o = ((y − μ)·inv) + β in float32, inv = rsqrt(σ² + ε)·γ, and the next
 * layer takes sign(o) with sign(0) = +1. Every float32 step is monotone in y (non-decreasing if inv > 0,
 * non-increasing if inv < 0), so {y : o(y) ≥ 0} is a half-line; we find its end t exactly by bisection
 * over the ordered float32 values, evaluating o with Math.fround exactly as tfjs does (inv is computed by
 * tfjs itself). Then  bit = y ≥ t  (inv > 0)  or  y ≤ t  (inv < 0),  bit-exact with the float model for
 * integer y. Max-pool commutes with a monotone threshold, and we pool the integer pre-activations before
 * thresholding, so pooling is exact either way.
 *
 * The real first layer is the only one computed in floating point; its sums may round differently from
 * tfjs' (different summation order), which can flip a bit whose pre-activation lies within ~1e-6 of its
 * threshold — the only source of difference from the float model.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNorm, QuantConv2D, QuantDense } from '../layers';
import { availableKernels, BinaryKernel, createKernel, KernelName } from './kernels';
import { FusedEngine, fusedSupports, GemmTune } from './engine';

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

/** One binary-kernel layer with its pools and BN, as stored in the packed file. */
export interface PackedStage {
  /** Source layer name. */
  name: string;
  /** 'real': float input (first layer); 'binary': ±1 input as bits. */
  input: 'real' | 'binary';
  inH: number;
  inW: number;
  inC: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
  convH: number;
  convW: number;
  outC: number;
  pools: PoolSpec[];
  outH: number;
  outW: number;
  /** Kernel sign bits (1 = +1), [outC][kh·kw][ceil(inC/32)] words, unused high bits 0. */
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

const words = (c: number) => Math.ceil(c / 32);
const round4 = (n: number) => Math.ceil(n / 4) * 4;

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

/**
 * Folds sign(BN(y)) (sign(0) = +1) into a threshold on float32 y: returns {t, neg} with
 * sign(BN(y)) = +1 ⇔ (neg ? y ≤ t : y ≥ t), exact for every finite float32 y (see module comment).
 */
export function foldThreshold(mean: number, inv: number, beta: number): { t: number; neg: boolean } {
  const f = (i: number) => bnFloat32(ordToFloat(i), mean, inv, beta) >= 0;
  const lo = f(-MAX_ORD);
  const hi = f(MAX_ORD);
  if (lo === hi) return { t: lo ? -Infinity : Infinity, neg: false }; // constant
  if (!lo && hi) {
    // smallest i with f(i)
    let a = -MAX_ORD;
    let b = MAX_ORD; // f(a) false, f(b) true
    while (b - a > 1) {
      const m = Math.floor((a + b) / 2);
      if (f(m)) b = m;
      else a = m;
    }
    return { t: ordToFloat(b), neg: false };
  }
  // largest i with f(i)
  let a = -MAX_ORD;
  let b = MAX_ORD; // f(a) true, f(b) false
  while (b - a > 1) {
    const m = Math.floor((a + b) / 2);
    if (f(m)) a = m;
    else b = m;
  }
  return { t: ordToFloat(a), neg: true };
}

// ------------------------------------------------------------------ conversion

export interface BnParams {
  mean: Float32Array;
  inv: Float32Array;
  beta: Float32Array;
}

/** The float32 values tfjs' BatchNorm uses at inference (inv computed by tfjs' own rsqrt and mul). */
export function bnParams(layer: BatchNorm): BnParams {
  const w = layer.getWeights();
  let i = 0;
  const gamma = layer.scale ? w[i++] : null;
  const beta = layer.center ? w[i++] : null;
  const mean = w[i++];
  const variance = w[i++];
  if (!mean || !variance) throw new Error(`packModel: BatchNorm ${layer.name} has no moving statistics (was the model built?)`);
  const inv = tf.tidy(() => {
    let r = tf.rsqrt(tf.add(variance, layer.epsilon));
    if (gamma) r = tf.mul(r, gamma);
    return r;
  });
  const out = {
    mean: mean.dataSync().slice() as Float32Array,
    inv: inv.dataSync().slice() as Float32Array,
    beta: beta ? (beta.dataSync().slice() as Float32Array) : new Float32Array(mean.size),
  };
  inv.dispose();
  return out;
}

/** Same-padding offsets as TF: total = max((ceil(n/s) − 1)·s + k − n, 0), before = floor(total/2). */
export function padBefore(n: number, k: number, s: number): number {
  return Math.floor(Math.max((Math.ceil(n / s) - 1) * s + k - n, 0) / 2);
}

/** Sign bits of a kernel [kh, kw, cin, cout] (Larq sign: w ≥ 0 → +1), as [cout][kh·kw][words(cin)]. */
export function packKernel(values: Float32Array, kh: number, kw: number, cin: number, cout: number): Uint32Array {
  const cw = words(cin);
  const out = new Uint32Array(cout * kh * kw * cw);
  for (let pos = 0; pos < kh * kw; pos++)
    for (let c = 0; c < cin; c++)
      for (let o = 0; o < cout; o++) {
        const v = values[(pos * cin + c) * cout + o];
        if (Number.isNaN(v)) throw new Error(`packModel: NaN in a kernel (position ${pos}, channel ${c}, filter ${o})`);
        if (v >= 0) out[(o * kh * kw + pos) * cw + (c >> 5)] |= 1 << (c & 31);
      }
  return out;
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

/**
 * Converts a trained (or random) BinaryNet-style tf.Sequential into its packed form. Supported layers:
 * QuantConv2D / QuantDense with binary kernels (Bop's ±1 kernels or latent kernels with ste_sign),
 * MaxPooling2D ('valid') between a binary layer and its BN, BnnBatchNorm, Flatten, Dropout/SeededDropout
 * (identity at inference), Activation 'linear' or a final 'softmax'. Anything else throws, naming the layer.
 */
export function packModel(model: tf.LayersModel): PackedSpec {
  const inShape = model.inputs[0].shape.slice(1) as number[];
  if (inShape.length !== 3 || inShape.some((d) => d === null))
    throw new Error(`packModel: expected an NHWC image input with fixed size, got [${inShape.join(', ')}]`);
  const inputShape = inShape as [number, number, number];
  const stages: PackedStage[] = [];
  let pending: (Omit<PackedStage, 'post'> & { bn: BnParams | null }) | null = null;
  let cur = { h: inputShape[0], w: inputShape[1], c: inputShape[2] };
  let flattened = false;
  let softmax = false;
  const layers = model.layers;

  const finish = (final: boolean) => {
    if (!pending) return;
    const { bn, ...rest } = pending;
    stages.push({ ...rest, post: stagePost(bn, rest.outC, final) });
    cur = { h: rest.outH, w: rest.outW, c: rest.outC };
    pending = null;
  };

  layers.forEach((layer, li) => {
    const cls = layer.getClassName();
    const where = `layer ${li} '${layer.name}' (${cls})`;
    if (softmax) throw new Error(`packModel: ${where} follows the softmax; only a final softmax is supported`);
    if (layer instanceof QuantConv2D || layer instanceof QuantDense) {
      if (!layer.binaryKernel) throw new Error(`packModel: ${where} has a real-valued kernel; only binary kernels can be packed`);
      const realInput = layer.inputQuantizer === null;
      if (layer.inputQuantizer !== null && layer.inputQuantizer !== 'ste_sign')
        throw new Error(`packModel: ${where}: unsupported input quantizer '${layer.inputQuantizer}'`);
      if (realInput && (stages.length > 0 || pending)) throw new Error(`packModel: ${where} takes real (non-binarized) hidden activations; only the first layer may`);
      if (!realInput && !pending && stages.length === 0) throw new Error(`packModel: ${where} binarizes the raw image input; not supported (the first layer must take the real input)`);
      finish(false);
      const kernel = layer.kernelVariable();
      const values = kernel.dataSync() as Float32Array;
      if (layer.kernelQuantizer === null) {
        // Bop model: the kernel itself is the weight, so it must already be ±1 (true after one Bop step)
        const bad = values.findIndex((v) => v !== 1 && v !== -1);
        if (bad >= 0)
          throw new Error(
            `packModel: ${where}: kernel value ${values[bad]} at index ${bad} is not ±1; a 'bop' model's kernels are ±1 only after Bop has trained it ` +
              `(call signKernels(model) to binarize a random model first)`,
          );
      }
      let kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, convH: number, convW: number, outC: number;
      if (layer instanceof QuantConv2D) {
        if (flattened) throw new Error(`packModel: ${where} follows a Flatten`);
        kh = kw = layer.kernelSize;
        sh = sw = layer.strides;
        outC = layer.filters;
        if (layer.padding === 'same') {
          padTop = padBefore(cur.h, kh, sh);
          padLeft = padBefore(cur.w, kw, sw);
          convH = Math.ceil(cur.h / sh);
          convW = Math.ceil(cur.w / sw);
        } else {
          padTop = padLeft = 0;
          convH = Math.floor((cur.h - kh) / sh) + 1;
          convW = Math.floor((cur.w - kw) / sw) + 1;
        }
      } else {
        if (!flattened && !(cur.h === 1 && cur.w === 1)) throw new Error(`packModel: ${where} takes a [${cur.h}, ${cur.w}, ${cur.c}] input without Flatten`);
        kh = cur.h;
        kw = cur.w;
        sh = sw = 1;
        padTop = padLeft = 0;
        convH = convW = 1;
        outC = layer.units;
        flattened = false;
      }
      if (!(convH >= 1 && convW >= 1)) throw new Error(`packModel: ${where}: a ${kh}×${kw} kernel does not fit its [${cur.h}, ${cur.w}] input (output ${convH}×${convW})`);
      const expected = kh * kw * cur.c * outC;
      if (values.length !== expected) throw new Error(`packModel: ${where}: kernel has ${values.length} values, expected ${kh}·${kw}·${cur.c}·${outC}`);
      pending = {
        name: layer.name,
        input: realInput ? 'real' : 'binary',
        inH: cur.h,
        inW: cur.w,
        inC: cur.c,
        kh,
        kw,
        strideH: sh,
        strideW: sw,
        padTop,
        padLeft,
        convH,
        convW,
        outC,
        pools: [],
        outH: convH,
        outW: convW,
        weights: packKernel(values, kh, kw, cur.c, outC),
        bn: null,
      };
      if (layer.useBias) throw new Error(`packModel: ${where} has a bias; not supported`);
    } else if (cls === 'MaxPooling2D') {
      const cfg = layer.getConfig() as { poolSize: number[]; strides: number[] | null; padding: string };
      if (!pending || pending.bn) throw new Error(`packModel: ${where}: max-pool is supported only between a binary layer and its BatchNorm`);
      if (cfg.padding !== 'valid') throw new Error(`packModel: ${where}: only 'valid' max-pooling is supported`);
      const size = cfg.poolSize as [number, number];
      const stride = (cfg.strides ?? cfg.poolSize) as [number, number];
      if (Math.floor((pending.outH - size[0]) / stride[0]) + 1 < 1 || Math.floor((pending.outW - size[1]) / stride[1]) + 1 < 1)
        throw new Error(`packModel: ${where}: pool ${size.join('×')} does not fit its [${pending.outH}, ${pending.outW}] input`);
      pending.pools.push({ size, stride });
      pending.outH = Math.floor((pending.outH - size[0]) / stride[0]) + 1;
      pending.outW = Math.floor((pending.outW - size[1]) / stride[1]) + 1;
    } else if (layer instanceof BatchNorm) {
      if (!pending || pending.bn) throw new Error(`packModel: ${where}: BatchNorm must directly follow a binary layer (or its pools)`);
      pending.bn = bnParams(layer);
    } else if (cls === 'Flatten') {
      if (pending) finish(false); // the next layer binarizes (checked when it comes)
      flattened = true;
    } else if (cls === 'Dropout' || cls === 'SeededDropout' || cls === 'InputLayer') {
      // identity at inference
    } else if (cls === 'Activation') {
      const act = (layer.getConfig() as { activation: string }).activation;
      if (act === 'softmax') softmax = true;
      else if (act !== 'linear') throw new Error(`packModel: ${where}: activation '${act}' not supported (only a final softmax)`);
    } else {
      throw new Error(`packModel: ${where} is not supported by packed inference`);
    }
  });
  if (flattened) throw new Error('packModel: the model ends with a Flatten; a binary layer must follow it');
  finish(true);
  if (stages.length === 0) throw new Error('packModel: the model has no binary layers');
  const last = stages[stages.length - 1];
  return { inputShape, numClasses: last.outH * last.outW * last.outC, softmax, stages };
}

// ------------------------------------------------------------------ runtime

interface StageRuntime {
  s: PackedStage;
  cw: number; // input words per position
  kp: number; // patch row words (multiple of 4)
  noutp: number; // outC rounded up to 4 (binary) or 16 (real)
  wOff: number;
  /** binary stage: popcount of the kernel bits at each position [outC][kh·kw] */
  pcw: Int32Array | null;
  /** conv output pre-activations [convH·convW][outC] */
  pre: Float32Array;
  /** pooled buffers */
  pooled: Float32Array[];
  /** packed output bits [outH·outW][words(outC)] (threshold stages) */
  bits: Uint32Array | null;
  /** threshold stages: sgn = neg ? −1 : 1 and st = sgn·t per channel */
  sgn: Float32Array | null;
  st: Float32Array | null;
}

/** Kernels PackedModel takes: those of kernels.ts, or 'mix' (fused engine: SIMD and i64 rows side by side). */
export type PackedKernel = KernelName | 'mix';

export interface PackedPrediction {
  /** Final-layer outputs (BN'd logits) [n][numClasses]. */
  logits: Float32Array;
  /** Softmax of the logits (equal to logits when the model has no softmax). */
  probs: Float32Array;
  /** argmax per image. */
  classes: Int32Array;
}

/**
 * Runs a PackedSpec: XNOR-popcount binary GEMMs on a kernel from ./kernels (wasm i64/SIMD or JS), the
 * rest (im2col of bits, padding corrections, pooling, thresholds) in plain JS typed arrays. Single-threaded.
 */
export class PackedModel {
  /**
   * The reference path's GEMM kernel (wasm i64/SIMD or JS, with im2col and post-ops in JS), or null when the
   * fused engine (engine.ts: one generated wasm module, no JS glue) runs the model.
   */
  readonly kernel: BinaryKernel | null = null;
  /** The fused engine, or null on the reference path. */
  readonly fused: FusedEngine | null = null;
  /** 'mix' (fused only), 'simd' | 'i64' (fused or reference) or 'js' (reference). */
  readonly kernelName: PackedKernel;
  private readonly rt: StageRuntime[] = [];
  private patchOff = 0;
  private outOff = 0;
  /** Set to {} to accumulate milliseconds per stage and phase over predict calls. */
  timings: Record<string, number> | null = null;

  /**
   * `kernel`: 'mix' (default where wasm SIMD runs), 'simd' or 'i64' run the fused engine when it supports the model
   * (fusedSupports), else the reference path (with 'simd' for 'mix'); 'js' or a BinaryKernel object always run
   * the reference path.
   * `opts.reference` forces the reference path. `opts.threads: 2` runs the fused engine on 2 threads (a worker
   * sharing its wasm memory; `await ready()` before timing, `dispose()` to stop it); 1 (default) or unavailable
   * shared memory: one thread. Results are identical. `opts.tune`: GEMM block sizes (engine.ts, for experiments).
   */
  constructor(readonly spec: PackedSpec, kernel?: PackedKernel | BinaryKernel, opts: { reference?: boolean; threads?: number; tune?: GemmTune } = {}) {
    if (spec.graph) throw new Error('PackedModel: this packed model is a graph (UNet); run it with PackedGraphModel');
    const avail = availableKernels();
    let name: PackedKernel = typeof kernel === 'object' ? kernel.name : kernel ?? (avail[0] === 'simd' ? 'mix' : avail[0]);
    if (name === 'mix' && !avail.includes('simd')) throw new Error("PackedModel: kernel 'mix' needs WebAssembly SIMD, which this runtime lacks");
    if (typeof kernel !== 'object' && name !== 'js' && !opts.reference && fusedSupports(spec) === null && avail.includes('simd')) {
      this.kernelName = name;
      this.fused = new FusedEngine(spec, name, opts.threads ?? 1, opts.tune);
      return;
    }
    if (name === 'mix') name = 'simd';
    this.kernelName = name;
    this.kernel = typeof kernel === 'object' ? kernel : createKernel(name);
    const K = this.kernel;
    let maxPatch = 0;
    let maxOut = 0;
    this.rt = spec.stages.map((s): StageRuntime => {
      const cw = words(s.inC);
      const kk = s.kh * s.kw;
      const kp = round4(kk * cw);
      let noutp = round4(s.outC);
      let wOff = 0;
      let pcw: Int32Array | null = null;
      if (s.input === 'binary') {
        wOff = K.alloc(noutp * kp * 4);
        const m = new Uint32Array(K.buffer(), wOff, noutp * kp);
        pcw = new Int32Array(s.outC * kk);
        for (let o = 0; o < s.outC; o++)
          for (let pos = 0; pos < kk; pos++)
            for (let j = 0; j < cw; j++) {
              const v = s.weights[(o * kk + pos) * cw + j];
              m[o * kp + pos * cw + j] = v;
              pcw[o * kk + pos] += popcnt(v);
            }
        const npix = s.convH * s.convW;
        // + 1 spare row: the wasm kernels work on pixel pairs
        maxPatch = Math.max(maxPatch, (npix + 1) * kp * 4);
        maxOut = Math.max(maxOut, (npix + 1) * noutp * 4);
      } else {
        // ±1 floats, [kh·kw·inC][noutp] (noutp a multiple of 16 for the f32x4 GEMM)
        noutp = Math.ceil(s.outC / 16) * 16;
        const kq = kk * s.inC;
        wOff = K.alloc(kq * noutp * 4);
        const wf = new Float32Array(K.buffer(), wOff, kq * noutp);
        for (let o = 0; o < s.outC; o++)
          for (let pos = 0; pos < kk; pos++)
            for (let c = 0; c < s.inC; c++)
              wf[(pos * s.inC + c) * noutp + o] = (s.weights[(o * kk + pos) * cw + (c >> 5)] >>> (c & 31)) & 1 ? 1 : -1;
        const npix = s.convH * s.convW;
        maxPatch = Math.max(maxPatch, npix * kq * 4);
        maxOut = Math.max(maxOut, npix * noutp * 4);
      }
      const post = s.post;
      const pooled: Float32Array[] = [];
      let h = s.convH;
      let w = s.convW;
      for (const p of s.pools) {
        h = Math.floor((h - p.size[0]) / p.stride[0]) + 1;
        w = Math.floor((w - p.size[1]) / p.stride[1]) + 1;
        pooled.push(new Float32Array(h * w * s.outC));
      }
      return {
        s,
        cw,
        kp,
        noutp,
        wOff,
        pcw,
        pre: new Float32Array(s.convH * s.convW * s.outC),
        pooled,
        bits: post.kind === 'threshold' ? new Uint32Array(s.outH * s.outW * words(s.outC)) : null,
        sgn: post.kind === 'threshold' ? Float32Array.from(post.neg, (n) => (n ? -1 : 1)) : null,
        st: post.kind === 'threshold' ? Float32Array.from(post.t, (t, i) => (post.neg[i] ? -t : t)) : null,
      };
    });
    this.patchOff = K.alloc(Math.max(16, maxPatch));
    this.outOff = K.alloc(Math.max(16, maxOut));
  }

  /** Threads the model runs on (2 only once the worker has started: see `ready`). */
  get threads(): number {
    return this.fused?.threads ?? 1;
  }

  /** Waits until a 2-thread engine's worker runs (resolves true), or returns false if it runs on one thread. */
  async ready(): Promise<boolean> {
    return this.fused ? this.fused.ready() : false;
  }

  /** Stops the worker thread, if any (the model keeps working on one thread). */
  dispose(): void {
    this.fused?.dispose();
  }

  get numClasses(): number {
    return this.spec.numClasses;
  }

  /** Predicts a batch: `images` NHWC float32 (a tf.Tensor4D or a flat array of n·H·W·C values). */
  predict(images: tf.Tensor | Float32Array): PackedPrediction {
    const [H, W, C] = this.spec.inputShape;
    const per = H * W * C;
    let data: Float32Array;
    if (images instanceof Float32Array) data = images;
    else {
      const sh = images.shape;
      if (sh.length !== 4 || sh[1] !== H || sh[2] !== W || sh[3] !== C)
        throw new Error(`PackedModel.predict: expected images [n, ${H}, ${W}, ${C}], got [${sh.join(', ')}]`);
      data = images.dataSync() as Float32Array;
    }
    if (data.length % per !== 0) throw new Error(`PackedModel.predict: ${data.length} values is not a whole number of ${H}×${W}×${C} images`);
    const n = data.length / per;
    const k = this.numClasses;
    const logits = new Float32Array(n * k);
    const probs = new Float32Array(n * k);
    const classes = new Int32Array(n);
    // 2 threads and several images: whole images on each thread (FusedEngine.forwardBatch)
    const batch = this.fused && n >= 2 ? this.fused.forwardBatch(data, n) : null;
    for (let i = 0; i < n; i++) {
      const out = batch ? this.finishFused(batch[i]) : this.forwardOne(data.subarray(i * per, (i + 1) * per));
      logits.set(out, i * k);
      let best = 0;
      for (let j = 1; j < k; j++) if (out[j] > out[best]) best = j;
      classes[i] = best;
      if (this.spec.softmax) {
        let s = 0;
        for (let j = 0; j < k; j++) s += Math.exp(out[j] - out[best]);
        for (let j = 0; j < k; j++) probs[i * k + j] = Math.exp(out[j] - out[best]) / s;
      } else probs.set(out, i * k);
    }
    return { logits, probs, classes };
  }

  /** The last stage's float32 BN (if any) on the fused engine's integer outputs. */
  private finishFused(y: Int32Array): Float32Array {
    const last = this.spec.stages[this.spec.stages.length - 1];
    const post = last.post;
    const out = new Float32Array(y.length);
    const C = last.outC;
    if (post.kind === 'affine') for (let i = 0; i < y.length; i++) out[i] = bnFloat32(y[i], post.mean[i % C], post.inv[i % C], post.beta[i % C]);
    else out.set(y);
    return out;
  }

  private forwardOne(image: Float32Array): Float32Array {
    if (this.fused) return this.finishFused(this.fused.forward(image, this.timings, this.spec.stages.map((s) => s.name)));
    let bitsIn: Uint32Array | null = null;
    let result: Float32Array | null = null;
    const tm = this.timings;
    let t0 = tm ? performance.now() : 0;
    const lap = (key: string) => {
      if (!tm) return;
      const t = performance.now();
      tm[key] = (tm[key] ?? 0) + t - t0;
      t0 = t;
    };
    for (const r of this.rt) {
      if (r.s.input === 'real') this.realConv(r, image);
      else this.binaryConv(r, bitsIn!);
      lap(`${r.s.name} conv`);
      let y = r.pre;
      let h = r.s.convH;
      let w = r.s.convW;
      r.s.pools.forEach((p, i) => {
        const dst = r.pooled[i];
        maxPool(y, h, w, r.s.outC, p, dst);
        h = Math.floor((h - p.size[0]) / p.stride[0]) + 1;
        w = Math.floor((w - p.size[1]) / p.stride[1]) + 1;
        y = dst;
      });
      lap(`${r.s.name} pool`);
      const post = r.s.post;
      if (post.kind === 'threshold') {
        threshold(y, h * w, r.s.outC, r.sgn!, r.st!, r.bits!);
        bitsIn = r.bits;
      } else if (post.kind === 'affine') {
        const out = new Float32Array(y.length);
        const C = r.s.outC;
        for (let i = 0; i < y.length; i++) {
          const c = i % C;
          out[i] = bnFloat32(y[i], post.mean[c], post.inv[c], post.beta[c]);
        }
        result = out;
      } else result = y.slice();
      lap(`${r.s.name} post`);
    }
    return result!;
  }

  /**
   * Reference path, one stage (graph.ts): conv + pools + post of stage `i` on a real image or bits
   * [inH·inW][words(inC)]; returns a copy of its bits (threshold) or its real outputs [outH·outW·outC].
   */
  runStage(i: number, input: Float32Array | Uint32Array): Uint32Array | Float32Array {
    if (!this.kernel) throw new Error('PackedModel.runStage: only on the reference path ({reference: true})');
    const r = this.rt[i];
    if (r.s.input === 'real') this.realConv(r, input as Float32Array);
    else this.binaryConv(r, input as Uint32Array);
    let y = r.pre;
    let h = r.s.convH;
    let w = r.s.convW;
    r.s.pools.forEach((p, k) => {
      maxPool(y, h, w, r.s.outC, p, r.pooled[k]);
      h = Math.floor((h - p.size[0]) / p.stride[0]) + 1;
      w = Math.floor((w - p.size[1]) / p.stride[1]) + 1;
      y = r.pooled[k];
    });
    const post = r.s.post;
    if (post.kind === 'threshold') {
      threshold(y, h * w, r.s.outC, r.sgn!, r.st!, r.bits!);
      return r.bits!.slice();
    }
    if (post.kind === 'affine') {
      const C = r.s.outC;
      return Float32Array.from(y, (v, k) => bnFloat32(v, post.mean[k % C], post.inv[k % C], post.beta[k % C]));
    }
    return y.slice();
  }

  /** First layer: real input × ±1 kernel, zero padding: im2col of floats + the kernel's float32 GEMM. */
  private realConv(r: StageRuntime, img: Float32Array): void {
    const s = r.s;
    const { inH, inW, inC, kh, kw, outC } = s;
    const kq = kh * kw * inC;
    const npix = s.convH * s.convW;
    const noutp = r.noutp;
    const patches = new Float32Array(this.kernel!.buffer(), this.patchOff, npix * kq);
    let j = 0;
    for (let oy = 0; oy < s.convH; oy++)
      for (let ox = 0; ox < s.convW; ox++)
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * s.strideH + ky - s.padTop;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * s.strideW + kx - s.padLeft;
            if (iy >= 0 && iy < inH && ix >= 0 && ix < inW) {
              const base = (iy * inW + ix) * inC;
              for (let c = 0; c < inC; c++) patches[j++] = img[base + c];
            } else for (let c = 0; c < inC; c++) patches[j++] = 0;
          }
        }
    this.kernel!.sgemm(this.patchOff, npix, kq, r.wOff, noutp, this.outOff);
    const y = new Float32Array(this.kernel!.buffer(), this.outOff, npix * noutp);
    const pre = r.pre;
    if (noutp === outC) pre.set(y);
    else for (let p = 0; p < npix; p++) pre.set(y.subarray(p * noutp, p * noutp + outC), p * outC);
  }

  /** Binary layer: im2col of bits into the kernel's memory, XNOR-popcount GEMM, padding correction. */
  private binaryConv(r: StageRuntime, bits: Uint32Array): void {
    const s = r.s;
    const { inH, inW, inC, kh, kw, outC } = s;
    const { cw, kp, noutp } = r;
    const npix = s.convH * s.convW;
    const kk = kh * kw;
    const buf = this.kernel!.buffer();
    const patches = new Uint32Array(buf, this.patchOff, (npix + 1) * kp); // spare zero row for pixel pairs
    patches.fill(0);
    const invalid = new Uint8Array(npix); // any padded position?
    for (let oy = 0; oy < s.convH; oy++)
      for (let ox = 0; ox < s.convW; ox++) {
        const p = oy * s.convW + ox;
        let dst = p * kp;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * s.strideH + ky - s.padTop;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * s.strideW + kx - s.padLeft;
            if (iy >= 0 && iy < inH && ix >= 0 && ix < inW) {
              const src = (iy * inW + ix) * cw;
              for (let j = 0; j < cw; j++) patches[dst + j] = bits[src + j];
            } else invalid[p] = 1;
            dst += cw;
          }
        }
      }
    if (this.timings) this.timings[`${s.name} im2col`] = (this.timings[`${s.name} im2col`] ?? 0) - performance.now();
    this.kernel!.bgemm(this.patchOff, npix, kp, r.wOff, noutp, this.outOff);
    if (this.timings) this.timings[`${s.name} im2col`] += performance.now();
    const pc = new Int32Array(this.kernel!.buffer(), this.outOff, npix * noutp);
    const pre = r.pre;
    const full = kk * inC;
    const pcw = r.pcw!;
    for (let p = 0; p < npix; p++) {
      const pb = p * noutp;
      const ob = p * outC;
      if (!invalid[p]) {
        for (let o = 0; o < outC; o++) pre[ob + o] = full - 2 * pc[pb + o];
        continue;
      }
      // border pixel: drop the padded positions from the count
      const oy = Math.floor(p / s.convW);
      const ox = p % s.convW;
      const pads: number[] = [];
      for (let ky = 0; ky < kh; ky++)
        for (let kx = 0; kx < kw; kx++) {
          const iy = oy * s.strideH + ky - s.padTop;
          const ix = ox * s.strideW + kx - s.padLeft;
          if (!(iy >= 0 && iy < inH && ix >= 0 && ix < inW)) pads.push(ky * kw + kx);
        }
      const nValid = (kk - pads.length) * inC;
      for (let o = 0; o < outC; o++) {
        let corr = 0;
        for (const q of pads) corr += pcw[o * kk + q];
        pre[ob + o] = nValid - 2 * (pc[pb + o] - corr);
      }
    }
  }
}

function popcnt(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Max-pool ('valid') of [h][w][c] into dst (2×2/2 specialised: BinaryNet's only pool). */
function maxPool(src: Float32Array, h: number, w: number, c: number, p: PoolSpec, dst: Float32Array): void {
  const oh = Math.floor((h - p.size[0]) / p.stride[0]) + 1;
  const ow = Math.floor((w - p.size[1]) / p.stride[1]) + 1;
  if (p.size[0] === 2 && p.size[1] === 2 && p.stride[0] === 2 && p.stride[1] === 2) {
    const row = w * c;
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        const ob = (oy * ow + ox) * c;
        const a = (2 * oy * w + 2 * ox) * c;
        const b = a + c;
        const d = a + row;
        const e = d + c;
        for (let ch = 0; ch < c; ch++) {
          const m1 = Math.max(src[a + ch], src[b + ch]);
          const m2 = Math.max(src[d + ch], src[e + ch]);
          dst[ob + ch] = Math.max(m1, m2);
        }
      }
    return;
  }
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++) {
      const ob = (oy * ow + ox) * c;
      for (let ch = 0; ch < c; ch++) {
        let m = -Infinity;
        for (let dy = 0; dy < p.size[0]; dy++)
          for (let dx = 0; dx < p.size[1]; dx++) {
            const v = src[((oy * p.stride[0] + dy) * w + ox * p.stride[1] + dx) * c + ch];
            if (v > m) m = v;
          }
        dst[ob + ch] = m;
      }
    }
}

/**
 * bits[pix][c/32] bit c = (sgn[c]·y ≥ st[c]), where sgn = ±1 and st = sgn·t: the same as
 * neg ? y ≤ t : y ≥ t, without a branch per value.
 */
function threshold(y: Float32Array, npix: number, c: number, sgn: Float32Array, st: Float32Array, bits: Uint32Array): void {
  const cw = words(c);
  for (let p = 0; p < npix; p++) {
    const yb = p * c;
    const bb = p * cw;
    for (let wi = 0; wi < cw; wi++) {
      const c0 = wi * 32;
      const c1 = Math.min(c, c0 + 32);
      let word = 0;
      for (let ch = c0; ch < c1; ch++) word |= +(sgn[ch] * y[yb + ch] >= st[ch]) << (ch - c0); // branchless: 2.6× faster than an if
      bits[bb + wi] = word;
    }
  }
}

/**
 * Writes sign(kernel) (Larq sign, 0 → +1) into every binary kernel of `model` in place: a random 'bop' model
 * then computes as a BNN (its float forward uses the kernel as is). No effect on 'latent' models' outputs.
 */
export function signKernels(model: tf.LayersModel): void {
  for (const layer of model.layers)
    if ((layer instanceof QuantConv2D || layer instanceof QuantDense) && layer.binaryKernel) {
      const v = layer.kernelVariable();
      const s = tf.tidy(() => tf.where(tf.greaterEqual(v, 0), tf.onesLike(v), tf.onesLike(v).neg()));
      v.assign(s);
      s.dispose();
    }
}

/** Convenience: packModel + PackedModel. */
export function packedModel(model: tf.LayersModel, kernel?: PackedKernel): PackedModel {
  return new PackedModel(packModel(model), kernel);
}
