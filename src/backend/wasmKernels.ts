/**
 * Training kernels for tfjs' wasm backend (tfjs 4.22), registered by `registerWasmTrainingKernels()`.
 *
 * - Conv2DBackpropFilter (absent on wasm): dW[a,b,ci,co] = Σ_{n,i,j} xpad[n, i·s+a, j·s+b, ci] · dy[n,i,j,co].
 *   Fast path ("swapped conv"): with batch and channels swapped this *is* a forward convolution, run by XNNPACK:
 *   dW = T( conv2d( X' = xpad^T [Ci,Hp,Wp,N], F' = dy^T [Ho,Wo,N,Co], stride 1, dilation s, 'valid') ),
 *   where the forward stride s becomes the dilation of the "filter" dy. 1×1/stride-1 filters use one matMul.
 *   General path: im2col built from strided slices + one matMul (used where the fast path does not apply, e.g.
 *   dilation > 1 — which tfjs' own conv2d gradient rejects anyway).
 * - Conv2DBackpropInput (wasm's is a scalar loop, not XNNPACK): dx is the "full" correlation of dy (zero-upsampled
 *   by the stride s) with the 180°-rotated filter whose in/out channels are swapped:
 *   dx = conv2d( pad(upsample_s(dy)), reverse(W,[0,1])^T(io), 1, 'valid' ). Also the forward of conv2dTranspose.
 * - MaxPoolGrad: wasm's (tfjs 4.22) sends the gradient to the wrong cell (or drops it) when every value of a
 *   window is negative; replaced by `maxPoolGradAsOps` (first maximum in row-major order, as the cpu backend).
 * - BatchMatMul with transposeA/transposeB (slow path on wasm): transpose explicitly, then the plain kernel.
 * - Conv2D with ±1 input and ±1 filter: exact XNOR-popcount GEMM (binaryConv.ts), else XNNPACK's float conv.
 * - dx of 3×3 stride-1 convs by Winograd F(2×2,3×3); fused kernels (fused.ts) for the quantizer, batch norm,
 *   optimizers, Sign (wasm's is wrong below 1.19e-7), MaxPoolGrad 2×2 and dW's pad+transpose.
 * - Every kernel that the cpu backend has and wasm lacks (e.g. DepthwiseConv2dNativeBackpropFilter,
 *   UnsortedSegmentSum) is delegated to the cpu backend's kernel by copying data (correct, not fast).
 *
 * Kernel functions here call tf ops; tfjs does not record ops nested inside a kernel on the gradient tape
 * (engine.isTapeOn() requires kernelDepth === 0), so gradients stay those of the outer op.
 * Reference semantics: tfjs-backend-cpu Conv2DBackpropFilter / Conv2DBackpropInput (same math, loop form).
 */
import * as tf from '@tensorflow/tfjs';
import { binaryConv2d, BinConvGeom } from './binaryConv';
import { setFusedKernels, padTransposeCHWNFused, winogradConv3x3Fused, winogradFilterGrad3x3Fused, simd } from './fused';
import type { HeapBackend as FusedHeapBackend } from './fused';

type Info = tf.TensorInfo;
type Backend = tf.KernelBackend & { incRef(dataId: object): void };

/** Wrap a kernel input as a tf.Tensor without stealing the caller's reference (incRef first; dispose after). */
function wrap(info: Info, backend: Backend): tf.Tensor {
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

/** Hand a tensor computed inside a kernel back to the engine as a bare TensorInfo (no leak, no double free). */
function unwrap(t: tf.Tensor, backend: Backend): Info {
  backend.incRef(t.dataId);
  const out = { dataId: t.dataId, shape: t.shape.slice(), dtype: t.dtype };
  t.dispose();
  return out;
}

/** Run `f` on wrapped inputs and return its tensor as a TensorInfo, disposing everything else. */
function withWrapped(infos: Info[], backend: Backend, f: (...ts: tf.Tensor[]) => tf.Tensor): Info {
  const ts = infos.map((i) => wrap(i, backend));
  try {
    const r = tf.tidy(() => f(...ts));
    return unwrap(r, backend);
  } finally {
    ts.forEach((t) => t.dispose());
  }
}

export type ConvPad = 'valid' | 'same' | number | number[] | [[number, number], [number, number], [number, number], [number, number]];

export interface ConvGeom {
  strides: [number, number];
  padInfo: { top: number; bottom: number; left: number; right: number };
  outH: number;
  outW: number;
  inH: number;
  inW: number;
  kh: number;
  kw: number;
}

function pair(v: number | number[] | undefined, d = 1): [number, number] {
  if (v == null) return [d, d];
  if (typeof v === 'number') return [v, v];
  return [v[0], v.length > 1 ? v[1] : v[0]];
}

/** Geometry of a NHWC conv2d as tfjs computes it (padding, output size), via backend_util.computeConv2DInfo. */
export function convGeometry(xShape: number[], filterShape: number[], strides: number | number[], pad: unknown,
  dimRoundingMode?: 'floor' | 'round' | 'ceil'): ConvGeom {
  const s = pair(strides);
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number],
    filterShape as [number, number, number, number], s, [1, 1], pad as any, dimRoundingMode, false, 'channelsLast');
  return {
    strides: s, padInfo: info.padInfo, outH: info.outHeight, outW: info.outWidth,
    inH: info.inHeight, inW: info.inWidth, kh: filterShape[0], kw: filterShape[1],
  };
}

/** Zero-pad (pads >= 0) or crop (pads < 0) H and W of a NHWC tensor. */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const p = (v: number) => Math.max(0, v);
  let y = x;
  if (p(top) || p(bottom) || p(left) || p(right)) y = tf.pad(y, [[0, 0], [p(top), p(bottom)], [p(left), p(right)], [0, 0]]);
  const ct = Math.max(0, -top), cb = Math.max(0, -bottom), cl = Math.max(0, -left), cr = Math.max(0, -right);
  if (ct || cb || cl || cr) {
    const [n, h, w, c] = y.shape;
    y = tf.slice(y, [0, ct, cl, 0], [n, h - ct - cb, w - cl - cr, c]);
  }
  return y;
}

/** The part of x (padded as the forward conv pads it) that the forward conv reads: [N,(Ho-1)s+kh,(Wo-1)s+kw,Ci]. */
function paddedInput(x: tf.Tensor4D, g: ConvGeom): tf.Tensor4D {
  const needH = (g.outH - 1) * g.strides[0] + g.kh, needW = (g.outW - 1) * g.strides[1] + g.kw;
  const { top, left } = g.padInfo;
  return padOrCrop(x, top, needH - top - g.inH, left, needW - left - g.inW);
}

let winogradDw = false;
let binaryMinPixels = 512;
let winogradDx = true;

/** dW by the swapped-batch/channel forward conv (XNNPACK on wasm). x NHWC, dy NHWC; returns [kh,kw,Ci,Co]. */
export function conv2dFilterGradSwapped(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], strides: number | number[],
  pad: unknown, dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.Tensor4D {
  return tf.tidy(() => {
    const g = convGeometry(x.shape, filterShape, strides, pad, dimRoundingMode);
    const [N, , , Ci] = x.shape;
    const Co = dy.shape[3];
    if (winogradDw && g.kh === 3 && g.kw === 3 && g.strides[0] === 1 && g.strides[1] === 1) {
      // wasm, opt-in: Winograd F(3×3,2×2) (fused.ts). 2.25× fewer multiplications, but its 16 GEMMs reduce over
      // all tiles (K = N·Ho·Wo/4), where XNNPACK runs at ~60 % of the swapped conv's rate: measured no faster
      const w = winogradFilterGrad3x3Fused(x, dy, g.padInfo.top, g.padInfo.left);
      if (w) return w;
    }
    if (!(g.kh === 1 && g.kw === 1 && g.strides[0] === 1 && g.strides[1] === 1)) {
      // wasm: pad + transpose in one pass on the heap (fused.ts) instead of PadV2 + a generic Transpose
      const needH = (g.outH - 1) * g.strides[0] + g.kh, needW = (g.outW - 1) * g.strides[1] + g.kw;
      const { top, left } = g.padInfo;
      const xTf = padTransposeCHWNFused(x, top, needH - top - g.inH, left, needW - left - g.inW);
      if (xTf) {
        const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
        const out = tf.conv2d(xTf, f, 1, 'valid', 'NHWC', g.strides);
        return tf.transpose(out, [1, 2, 0, 3]) as tf.Tensor4D;
      }
    }
    const xp = paddedInput(x, g);
    if (g.kh === 1 && g.kw === 1 && g.strides[0] === 1 && g.strides[1] === 1) {
      const a = tf.transpose(tf.reshape(xp, [-1, Ci]));                 // [Ci, NHW]
      return tf.reshape(tf.matMul(a, tf.reshape(dy, [-1, Co])), [1, 1, Ci, Co]);
    }
    const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D;            // [Ci, Hp, Wp, N]
    const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;             // [Ho, Wo, N, Co]
    const out = tf.conv2d(xT, f, 1, 'valid', 'NHWC', g.strides);        // [Ci, kh, kw, Co]
    void N;
    return tf.transpose(out, [1, 2, 0, 3]) as tf.Tensor4D;               // [kh, kw, Ci, Co]
  });
}

/** dW by im2col (strided slices + one matMul): the straightforward general path, any stride/padding/dilation. */
export function conv2dFilterGradIm2col(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], strides: number | number[],
  pad: unknown, dimRoundingMode?: 'floor' | 'round' | 'ceil', dilations: number | number[] = 1): tf.Tensor4D {
  return tf.tidy(() => {
    const d = pair(dilations);
    const [kh, kw, Ci, Co] = filterShape;
    const s = pair(strides);
    const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape as [number, number, number, number], s, d,
      pad as any, dimRoundingMode, false, 'channelsLast');
    const { top, left } = info.padInfo;
    const Ho = info.outHeight, Wo = info.outWidth, N = x.shape[0];
    const needH = (Ho - 1) * s[0] + (kh - 1) * d[0] + 1, needW = (Wo - 1) * s[1] + (kw - 1) * d[1] + 1;
    const xp = padOrCrop(x, top, needH - top - x.shape[1], left, needW - left - x.shape[2]);
    const cols: tf.Tensor[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        cols.push(tf.stridedSlice(xp, [0, a * d[0], b * d[1], 0], [N, a * d[0] + (Ho - 1) * s[0] + 1, b * d[1] + (Wo - 1) * s[1] + 1, Ci],
          [1, s[0], s[1], 1]));
      }
    }
    const patches = tf.reshape(tf.concat(cols, 3), [N * Ho * Wo, kh * kw * Ci]);
    const dW = tf.matMul(tf.transpose(patches), tf.reshape(dy, [N * Ho * Wo, Co]));
    return tf.reshape(dW, [kh, kw, Ci, Co]) as tf.Tensor4D;
  });
}

/**
 * W[kh-1-a, kw-1-b, co, ci] from W[a,b,ci,co]: the 180°-rotated filter with in/out swapped. The row reversal of
 * [kh·kw, Ci·Co] is a product with the anti-identity (exact: each output is 1·w plus zeros), run by XNNPACK; then
 * one transpose. wasm's Reverse, Gather and Slice each copy the whole input in JS (~450 ms for 3×3×512×512).
 */
export function rotate180SwapIO(filter: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, ci, co] = filter.shape;
    const k = kh * kw;
    const anti = new Float32Array(k * k);
    for (let i = 0; i < k; i++) anti[i * k + (k - 1 - i)] = 1;
    const rows = tf.matMul(tf.tensor2d(anti, [k, k]), tf.reshape(filter, [k, ci * co]));
    return tf.reshape(tf.transpose(tf.reshape(rows, [k, ci, co]), [0, 2, 1]), [kh, kw, co, ci]) as tf.Tensor4D;
  });
}

/**
 * dx of conv2d (= forward of conv2dTranspose) as one forward conv: upsample dy by the stride (zeros between),
 * pad by k-1-pad, correlate with the 180°-rotated, in/out-swapped filter. inputShape NHWC.
 */
export function conv2dInputGradAsConv(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: number[], strides: number | number[],
  pad: unknown, dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.Tensor4D {
  return tf.tidy(() => {
    const g = convGeometry(inputShape, filter.shape, strides, pad, dimRoundingMode);
    const [sh, sw] = g.strides;
    const [N, Ho, Wo, Co] = dy.shape;
    let u: tf.Tensor4D = dy;
    if (sh > 1 || sw > 1) {
      // zero-insertion: [N,Ho,1,Wo,1,Co] -> pad -> [N,Ho*sh,Wo*sw,Co] -> keep (Ho-1)*sh+1 rows
      const e = tf.reshape(dy, [N, Ho, 1, Wo, 1, Co]);
      const p = tf.pad(e, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
      u = tf.slice(tf.reshape(p, [N, Ho * sh, Wo * sw, Co]), [0, 0, 0, 0], [N, (Ho - 1) * sh + 1, (Wo - 1) * sw + 1, Co]) as tf.Tensor4D;
    }
    // dx[y] = Σ_a u[y + top - a] W[a]: full correlation; rows of dx: inH; rows needed in padded u: inH + kh - 1
    const top = g.kh - 1 - g.padInfo.top, left = g.kw - 1 - g.padInfo.left;
    const bottom = g.inH + g.kh - 1 - top - u.shape[1], right = g.inW + g.kw - 1 - left - u.shape[2];
    const up = padOrCrop(u, top, bottom, left, right);
    const wRot = rotate180SwapIO(filter);                                                 // [kh,kw,Co,Ci]
    // wasm, 3×3: Winograd F(2×2,3×3) (fused.ts), 2.25× fewer multiplications than XNNPACK's direct conv
    return (winogradDx ? winogradConv3x3Fused(up, wRot) : null) ?? tf.conv2d(up, wRot, 1, 'valid');
  });
}

/**
 * dx of maxPool (NHWC), tfjs semantics: each output's gradient goes to the FIRST maximum of its window in
 * row-major order (padding never wins). wasm's own MaxPoolGrad (tfjs 4.22) is wrong when a window is all negative.
 * For each window offset (a,b): x_ab = strided slice of the (-inf)-padded input; mask_ab = (x_ab == max) and no
 * earlier offset was a max; dx = Σ_ab place_ab(mask_ab · dy), each piece zero-upsampled by the stride and shifted.
 * Non-overlapping windows without padding (stride = size, the pools of BinaryNet and UNet) take a faster path:
 * windows as rows, argMax (first max), one-hot times dy.
 */
export function maxPoolGradAsOps(dy: tf.Tensor4D, x: tf.Tensor4D, filterSize: number | number[], strides: number | number[],
  pad: unknown, dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.Tensor4D {
  return tf.tidy(() => {
    const info = tf.backend_util.computePool2DInfo(x.shape, filterSize as any, strides as any, 1, pad as any, dimRoundingMode);
    const [kh, kw] = [info.filterHeight, info.filterWidth];
    const [sh, sw] = [info.strideHeight, info.strideWidth];
    const { top, left, bottom, right } = info.padInfo;
    const [N, H, W, C] = x.shape;
    const Ho = info.outHeight, Wo = info.outWidth;
    if (sh === kh && sw === kw && !(top || bottom || left || right)) {
      // non-overlapping windows: put each window's k² values last, argMax (first max), one-hot · dy, put back.
      // Transposes, ArgMax and OneHot are native on wasm; strided slices are not (~40× slower here).
      const xc = (Ho * kh !== H || Wo * kw !== W) ? tf.slice(x, [0, 0, 0, 0], [N, Ho * kh, Wo * kw, C]) : x;
      const win = tf.reshape(tf.transpose(tf.reshape(xc, [N * Ho, kh, Wo, kw, C]), [0, 2, 4, 1, 3]), [-1, kh * kw]);
      const onehot = tf.oneHot(tf.argMax(win, 1), kh * kw);                        // [N·Ho·Wo·C, k²]
      const g = tf.mul(onehot, tf.reshape(dy, [-1, 1]));
      const back = tf.reshape(tf.transpose(tf.reshape(g, [N * Ho, Wo, C, kh, kw]), [0, 3, 1, 4, 2]), [N, Ho * kh, Wo * kw, C]);
      return padOrCrop(back as tf.Tensor4D, 0, H - Ho * kh, 0, W - Wo * kw);
    }
    const xp = (top || bottom || left || right)
      ? tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], -Infinity) : x;
    const slices: tf.Tensor4D[][] = [];
    for (let a = 0; a < kh; a++) {
      slices.push([]);
      for (let b = 0; b < kw; b++) {
        slices[a].push(tf.stridedSlice(xp, [0, a, b, 0], [N, a + (Ho - 1) * sh + 1, b + (Wo - 1) * sw + 1, C], [1, sh, sw, 1]) as tf.Tensor4D);
      }
    }
    let m = slices[0][0];
    for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) if (a || b) m = tf.maximum(m, slices[a][b]);
    let taken: tf.Tensor | null = null;
    const g: tf.Tensor4D[][] = [];
    for (let a = 0; a < kh; a++) {
      g.push([]);
      for (let b = 0; b < kw; b++) {
        let e: tf.Tensor = tf.equal(slices[a][b], m);
        if (taken) { e = tf.logicalAnd(e, tf.logicalNot(taken)); taken = tf.logicalOr(taken, e); } else taken = e;
        g[a].push(tf.mul(dy, tf.cast(e, 'float32')) as tf.Tensor4D);
      }
    }
    const Hp = top + H + bottom, Wp = left + W + right;
    const parts: tf.Tensor4D[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        let u: tf.Tensor4D = g[a][b];
        if (sh > 1 || sw > 1) {
          const e = tf.pad(tf.reshape(u, [N, Ho, 1, Wo, 1, C]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
          u = tf.reshape(e, [N, Ho * sh, Wo * sw, C]) as tf.Tensor4D;
        }
        parts.push(padOrCrop(u, a, Hp - a - u.shape[1], b, Wp - b - u.shape[2]));
      }
    }
    const sum = parts.length === 1 ? parts[0] : tf.addN(parts);
    return tf.slice(sum, [0, top, left, 0], [N, H, W, C]) as tf.Tensor4D;
  });
}

function toNHWC(t: tf.Tensor, dataFormat: string | undefined): tf.Tensor4D {
  return (dataFormat === 'NCHW' ? tf.transpose(t, [0, 2, 3, 1]) : t) as tf.Tensor4D;
}
function shapeToNHWC(s: number[], dataFormat: string | undefined): number[] {
  return dataFormat === 'NCHW' ? [s[0], s[2], s[3], s[1]] : s;
}

const registered = new Set<string>();

/** Names of the kernels this module registered on `backendName` (for logs and tests). */
export function registeredWasmKernels(): string[] {
  return [...registered];
}

function replaceKernel(kernelName: string, backendName: string, kernelFunc: tf.KernelFunc, setupFunc?: tf.KernelConfig['setupFunc']): void {
  if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel(setupFunc ? { kernelName, backendName, kernelFunc, setupFunc } : { kernelName, backendName, kernelFunc });
  registered.add(kernelName);
}

export interface WasmKernelOptions {
  /** Use the swapped-conv dW (default true); false uses im2col everywhere (slower; for comparison). */
  fastFilterGrad?: boolean;
  /** Replace wasm's Conv2DBackpropInput by the conv form (default true). */
  fastInputGrad?: boolean;
  /** Replace wasm's MaxPoolGrad, wrong for all-negative windows in tfjs 4.22 (default true; false = for tests). */
  maxPoolGrad?: boolean;
  /** Shim BatchMatMul with transposes (default true). */
  matMulShim?: boolean;
  /** Conv2D of ±1 inputs with ±1 kernels by XNOR-popcount (binaryConv.ts; default true, wasm only). */
  binaryConv?: boolean;
  /**
   * Smallest number of output pixels (N·outH·outW) for which a conv takes the XNOR path (default 512). Each call
   * packs the whole kernel, a cost ∝ kernel size that only pays off over enough pixels: at batch 1, BinaryNet's
   * 8×8 layers were slower packed (float model 84 vs 45 ms per image with every layer packed; 35 ms with 512).
   */
  binaryConvMinPixels?: number;
  /** Delegate kernels that only cpu has to the cpu backend (default true). */
  cpuFallbacks?: boolean;
  /** Fused JS kernels on the wasm heap (fused.ts: exact Sign, quantizer, batch norm, Bop, Adam; default true). */
  fused?: boolean;
  /** Fused kernels use the WebAssembly SIMD module on tfjs' own memory (kernels/train.ts; default true). */
  fusedSimd?: boolean;
  /** dx of 3×3 convs by Winograd F(2×2,3×3) (default true; needs `fused`). */
  winogradInputGrad?: boolean;
  /** dW of 3×3 stride-1 convs by Winograd F(3×3,2×2) (default false: measured no faster than the swapped conv). */
  winogradFilterGrad?: boolean;
}

/**
 * Register on `backendName` (default 'wasm') the kernels needed to train conv nets: see the module comment.
 * Idempotent. The kernels are registered globally, but they only run for tensors on that backend.
 */
export function registerWasmTrainingKernels(opts: WasmKernelOptions = {}, backendName = 'wasm'): string[] {
  const fastFilter = opts.fastFilterGrad !== false;
  replaceKernel('Conv2DBackpropFilter', backendName, ({ inputs, attrs, backend }) => {
    const { x, dy } = inputs as { x: Info; dy: Info };
    const a = attrs as unknown as { strides: number | number[]; pad: unknown; dataFormat?: string;
      dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: number[]; dilations?: number | number[] };
    const dil = pair(a.dilations);
    return withWrapped([x, dy], backend as Backend, (xt, dyt) => {
      const xs = toNHWC(xt, a.dataFormat), dys = toNHWC(dyt, a.dataFormat);
      if (fastFilter && dil[0] === 1 && dil[1] === 1) {
        return conv2dFilterGradSwapped(xs, dys, a.filterShape, a.strides, a.pad, a.dimRoundingMode);
      }
      return conv2dFilterGradIm2col(xs, dys, a.filterShape, a.strides, a.pad, a.dimRoundingMode, a.dilations ?? 1);
    });
  });

  if (opts.fastInputGrad !== false) {
    replaceKernel('Conv2DBackpropInput', backendName, ({ inputs, attrs, backend }) => {
      const { dy, filter } = inputs as { dy: Info; filter: Info };
      const a = attrs as unknown as { strides: number | number[]; pad: unknown; dataFormat?: string;
        dimRoundingMode?: 'floor' | 'round' | 'ceil'; inputShape: number[] };
      return withWrapped([dy, filter], backend as Backend, (dyt, ft) => {
        const r = conv2dInputGradAsConv(toNHWC(dyt, a.dataFormat), ft as tf.Tensor4D, shapeToNHWC(a.inputShape, a.dataFormat),
          a.strides, a.pad, a.dimRoundingMode);
        return a.dataFormat === 'NCHW' ? tf.transpose(r, [0, 3, 1, 2]) : r;
      });
    });
  }

  if (opts.maxPoolGrad !== false) {
    replaceKernel('MaxPoolGrad', backendName, ({ inputs, attrs, backend }) => {
      const { dy, input } = inputs as { dy: Info; input: Info };
      const a = attrs as unknown as { filterSize: number | number[]; strides: number | number[]; pad: unknown;
        dimRoundingMode?: 'floor' | 'round' | 'ceil' };
      if (backendName === 'wasm' && opts.fused !== false && dy.dtype === 'float32' && input.dtype === 'float32') {
        const fast = maxPoolGradHeap(backend as unknown as HeapBackend, dy, input, a.filterSize, a.strides, a.pad, a.dimRoundingMode);
        if (fast) return fast;
      }
      return withWrapped([dy, input], backend as Backend, (dyt, xt) =>
        maxPoolGradAsOps(dyt as tf.Tensor4D, xt as tf.Tensor4D, a.filterSize, a.strides, a.pad, a.dimRoundingMode));
    });
  }

  if (opts.matMulShim !== false) {
    // keep the backend's own kernel the first time; later calls (idempotent) reuse it, never wrap the shim
    const base = baseMatMul.get(backendName) ?? tf.getKernel('BatchMatMul', backendName);
    if (base) {
      baseMatMul.set(backendName, base);
      replaceKernel('BatchMatMul', backendName, (args) => {
        const { inputs, attrs, backend } = args;
        const at = attrs as unknown as { transposeA: boolean; transposeB: boolean };
        if (!at.transposeA && !at.transposeB) return base.kernelFunc(args);
        const { a, b } = inputs as { a: Info; b: Info };
        return withWrapped([a, b], backend as Backend, (ta, tb) => {
          const T = (t: tf.Tensor) => {
            const r = t.rank; const perm = [...Array(r).keys()]; perm[r - 2] = r - 1; perm[r - 1] = r - 2;
            return tf.transpose(t, perm);
          };
          const r = ta.rank, M = ta.shape[at.transposeA ? r - 1 : r - 2], N = tb.shape[tb.rank - 2];
          if (!at.transposeA && at.transposeB && M * 4 <= N) {
            // A·Bᵀ with a small A (e.g. dx = dy·Wᵀ of a dense layer): (B·Aᵀ)ᵀ streams the big B once as the
            // GEMM input instead of transposing it and packing it as XNNPACK weights
            return T(tf.matMul(tb, T(ta)));
          }
          return tf.matMul(at.transposeA ? T(ta) : ta, at.transposeB ? T(tb) : tb);
        });
      });
    }
  }

  binaryMinPixels = opts.binaryConvMinPixels ?? 512;
  if (opts.binaryConv !== false && backendName === 'wasm') {
    const base = baseConv.get(backendName) ?? tf.getKernel('Conv2D', backendName);
    if (base) {
      baseConv.set(backendName, base);
      replaceKernel('Conv2D', backendName, (args) => binaryConvKernel(args) ?? base.kernelFunc(args), base.setupFunc);
    }
  } else if (baseConv.has(backendName)) {
    replaceKernel('Conv2D', backendName, baseConv.get(backendName)!.kernelFunc, baseConv.get(backendName)!.setupFunc);
  }

  if (backendName === 'wasm') setFusedKernels(opts.fused !== false, opts.fusedSimd !== false);
  winogradDw = opts.winogradFilterGrad === true;
  winogradDx = opts.winogradInputGrad !== false;

  if (opts.cpuFallbacks !== false) registerCpuFallbacks(backendName);
  return registeredWasmKernels();
}

const baseMatMul = new Map<string, tf.KernelConfig>();
const baseConv = new Map<string, tf.KernelConfig>();

/** The parts of tfjs-backend-wasm's BackendWasm used to read and write tensors in place on its heap. */
export interface HeapBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: string): Info;
}

/** A float32 view of a tensor's data on the wasm heap (re-create after any allocation: the heap may grow). */
export function heapF32(backend: HeapBackend, info: Info): Float32Array {
  const off = backend.dataIdMap.get(info.dataId).memoryOffset;
  return new Float32Array(backend.wasm.HEAPU8.buffer, off, info.shape.reduce((a, b) => a * b, 1));
}

/**
 * MaxPoolGrad for non-overlapping windows without padding (stride = size; BinaryNet's 2×2 pools) in one JS pass
 * on the wasm heap: each window's gradient goes to its first maximum in row-major order (as maxPoolGradAsOps and
 * the cpu backend); rows/columns beyond the last window get 0. Returns null for other geometries.
 */
export function maxPoolGradHeap(b: HeapBackend, dy: Info, x: Info, filterSize: number | number[], strides: number | number[],
  pad: unknown, dimRoundingMode?: 'floor' | 'round' | 'ceil'): Info | null {
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize as any, strides as any, 1, pad as any, dimRoundingMode);
  const kh = info.filterHeight, kw = info.filterWidth;
  const { top, left, bottom, right } = info.padInfo;
  if (info.strideHeight !== kh || info.strideWidth !== kw || top || left || bottom || right) return null;
  const [N, H, W, C] = x.shape;
  const Ho = info.outHeight, Wo = info.outWidth;
  if (dy.shape[1] !== Ho || dy.shape[2] !== Wo) return null;
  const out = b.makeOutput(x.shape.slice(), 'float32');
  const k = kh === 2 && kw === 2 && C % 4 === 0 ? simd(b as unknown as FusedHeapBackend) : null;
  if (k) {
    // SIMD: a table of window-row offsets (N·Ho entries), then one pass; cropped rows/cols stay 0
    if (Ho * 2 !== H || Wo * 2 !== W) heapF32(b, out).fill(0);
    const fb = b as unknown as FusedHeapBackend;
    const tabP = fb.wasm._malloc(N * Ho * 4 + 16) >>> 0;
    const tab = new Int32Array(fb.wasm.HEAPU8.buffer, tabP, N * Ho);
    for (let n = 0; n < N; n++) for (let oy = 0; oy < Ho; oy++) tab[n * Ho + oy] = (n * H + 2 * oy) * W * C * 4;
    const off = (i: Info) => b.dataIdMap.get(i.dataId).memoryOffset;
    k.maxPoolGrad2(tabP, N * Ho, Wo, C >>> 2, W * C * 4, off(x), off(dy), off(out));
    fb.wasm._free(tabP);
    return out;
  }
  const xv = heapF32(b, x), gv = heapF32(b, dy), dx = heapF32(b, out);
  dx.fill(0);
  const rowStride = W * C;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const base = ((n * H + oy * kh) * W + ox * kw) * C;
        const gb = ((n * Ho + oy) * Wo + ox) * C;
        for (let c = 0; c < C; c++) {
          let best = base + c, bv = xv[best];
          for (let a = 0; a < kh; a++) {
            for (let q = 0; q < kw; q++) {
              const i = base + a * rowStride + q * C + c;
              const v = xv[i];
              if (v > bv) { bv = v; best = i; }
            }
          }
          dx[best] = gv[gb + c];
        }
      }
    }
  }
  return out;
}

/** Conv2D by XNOR-popcount when x and filter are all ±1 (binaryConv.ts); null = use the float kernel. */
function binaryConvKernel({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): Info | null {
  const { x, filter } = inputs as { x: Info; filter: Info };
  const a = attrs as unknown as { strides: number | number[]; pad: unknown; dataFormat?: string;
    dimRoundingMode?: 'floor' | 'round' | 'ceil'; dilations?: number | number[] };
  const dil = pair(a.dilations);
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || (a.dataFormat && a.dataFormat !== 'NHWC') ||
    dil[0] !== 1 || dil[1] !== 1 || x.shape.length !== 4 || x.shape[3] < 8) return null;
  const hb = backend as unknown as HeapBackend;
  const gm = convGeometry(x.shape, filter.shape, a.strides, a.pad, a.dimRoundingMode);
  const [N, H, W, Ci] = x.shape;
  const g: BinConvGeom = { N, H, W, Ci, kh: filter.shape[0], kw: filter.shape[1], Co: filter.shape[3],
    sh: gm.strides[0], sw: gm.strides[1], padTop: gm.padInfo.top, padLeft: gm.padInfo.left, outH: gm.outH, outW: gm.outW };
  if (g.outH <= 0 || g.outW <= 0 || N * g.outH * g.outW < binaryMinPixels) return null;
  let out: Info | null = null;
  const ok = binaryConv2d(heapF32(hb, x), heapF32(hb, filter), g, () => {
    out = hb.makeOutput([N, g.outH, g.outW, g.Co], 'float32');
    return heapF32(hb, out);
  });
  return ok ? out : null;
}

/** Kernels that must never be delegated (complex/string dtypes, or implemented above). */
const NO_FALLBACK = new Set(['Complex', 'Real', 'Imag', 'ComplexAbs', 'FFT', 'IFFT', 'StaticRegexReplace', 'Draw',
  'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', 'MaxPoolGrad']);

/**
 * Register on `backendName` a kernel that runs `cpuKernel` on the cpu backend: inputs are copied to cpu, outputs
 * copied back. Correct wherever the cpu kernel is, not fast.
 */
function registerCpuDelegate(cpuKernel: tf.KernelConfig, backendName: string): void {
  if (tf.getKernel(cpuKernel.kernelName, backendName)) tf.unregisterKernel(cpuKernel.kernelName, backendName);
  tf.registerKernel({
    kernelName: cpuKernel.kernelName, backendName,
    kernelFunc: ({ inputs, attrs, backend: b }) => {
      const backend = b as tf.KernelBackend;
      const cpu = tf.engine().findBackend('cpu');
      if (cpu == null) throw new Error(`cpu delegate for ${cpuKernel.kernelName}: the cpu backend is not available`);
      const cpuInputs: Record<string, Info> = {};
      const made: Info[] = [];
      for (const [name, info] of Object.entries(inputs)) {
        if (info == null) continue;
        const values = backend.readSync(info.dataId) as tf.backend_util.BackendValues;
        const ci = { dataId: cpu.write(values, info.shape, info.dtype), shape: info.shape, dtype: info.dtype };
        cpuInputs[name] = ci; made.push(ci);
      }
      try {
        const out = cpuKernel.kernelFunc({ inputs: cpuInputs, attrs, backend: cpu });
        const outs = Array.isArray(out) ? out : [out];
        const res = outs.map((o) => {
          const vals = cpu.readSync(o.dataId) as tf.backend_util.BackendValues;
          cpu.disposeData(o.dataId);
          return { dataId: backend.write(vals, o.shape, o.dtype), shape: o.shape, dtype: o.dtype };
        });
        return Array.isArray(out) ? res : res[0];
      } finally {
        made.forEach((i) => cpu.disposeData(i.dataId));
      }
    },
  });
  registered.add(cpuKernel.kernelName);
}

/** Kernels whose wasm implementation is wrong in tfjs 4.22 and that we delegate to cpu (none known now). */
const BUGGY_ON_WASM: string[] = [];

/**
 * For each kernel registered for 'cpu' but not for `backendName`, register a delegate that copies the inputs to the
 * cpu backend, runs the cpu kernel, and copies the outputs back. Returns the names registered.
 */
export function registerCpuFallbacks(backendName = 'wasm'): string[] {
  const have = new Set(tf.getKernelsForBackend(backendName).map((k) => k.kernelName));
  const names: string[] = [];
  for (const k of tf.getKernelsForBackend('cpu')) {
    const buggy = BUGGY_ON_WASM.includes(k.kernelName);
    if ((have.has(k.kernelName) && !(buggy && !registered.has(k.kernelName))) || NO_FALLBACK.has(k.kernelName)) continue;
    registerCpuDelegate(k, backendName);
    names.push(k.kernelName);
  }
  return names;
}
