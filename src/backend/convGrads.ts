/**
 * Convolution gradients on the wasm backend as forward convolutions and GEMMs (XNNPACK), for wasmKernels.ts'
 * Conv2DBackpropFilter and Conv2DBackpropInput (reference semantics: tfjs-backend-cpu's, same math in loop form).
 *
 * - dW[a,b,ci,co] = Σ_{n,i,j} xpad[n, i·s+a, j·s+b, ci] · dy[n,i,j,co].
 *   Fast path ("swapped conv"): with batch and channels swapped this *is* a forward convolution, run by XNNPACK:
 *   dW = T( conv2d( X' = xpad^T [Ci,Hp,Wp,N], F' = dy^T [Ho,Wo,N,Co], stride 1, dilation s, 'valid') ),
 *   where the forward stride s becomes the dilation of the "filter" dy. 1×1/stride-1 filters use one matMul.
 *   General path: im2col built from strided slices + one matMul (used where the fast path does not apply, e.g.
 *   dilation > 1 — which tfjs' own conv2d gradient rejects anyway).
 * - dx is the "full" correlation of dy (zero-upsampled by the stride s) with the 180°-rotated filter whose in/out
 *   channels are swapped: dx = conv2d( pad(upsample_s(dy)), reverse(W,[0,1])^T(io), 1, 'valid' ); 3×3 filters by
 *   Winograd F(2×2,3×3) (winograd.ts). Also the forward of conv2dTranspose.
 */
import * as tf from '@tensorflow/tfjs';
import { padTransposeCHWNFused, winogradConv3x3Fused } from './fused';

export type ConvPad =
  'valid' | 'same' | number | number[] | [[number, number], [number, number], [number, number], [number, number]];

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

/** A stride, dilation or window size as [height, width]. */
export function pair(v: number | number[] | undefined, d = 1): [number, number] {
  if (v == null) return [d, d];
  if (typeof v === 'number') return [v, v];
  return [v[0], v.length > 1 ? v[1] : v[0]];
}

/** Geometry of a NHWC conv2d as tfjs computes it (padding, output size), via backend_util.computeConv2DInfo. */
export function convGeometry(
  xShape: number[],
  filterShape: number[],
  strides: number | number[],
  pad: unknown,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): ConvGeom {
  const s = pair(strides);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    s,
    [1, 1],
    pad as any,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  return {
    strides: s,
    padInfo: info.padInfo,
    outH: info.outHeight,
    outW: info.outWidth,
    inH: info.inHeight,
    inW: info.inWidth,
    kh: filterShape[0],
    kw: filterShape[1],
  };
}

export function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const p = (v: number) => Math.max(0, v);
  let y = x;
  if (p(top) || p(bottom) || p(left) || p(right))
    y = tf.pad(y, [
      [0, 0],
      [p(top), p(bottom)],
      [p(left), p(right)],
      [0, 0],
    ]);
  const ct = Math.max(0, -top),
    cb = Math.max(0, -bottom),
    cl = Math.max(0, -left),
    cr = Math.max(0, -right);
  if (ct || cb || cl || cr) {
    const [n, h, w, c] = y.shape;
    y = tf.slice(y, [0, ct, cl, 0], [n, h - ct - cb, w - cl - cr, c]);
  }
  return y;
}

/** The part of x (padded as the forward conv pads it) that the forward conv reads: [N,(Ho-1)s+kh,(Wo-1)s+kw,Ci]. */
function paddedInput(x: tf.Tensor4D, g: ConvGeom): tf.Tensor4D {
  const needH = (g.outH - 1) * g.strides[0] + g.kh,
    needW = (g.outW - 1) * g.strides[1] + g.kw;
  const { top, left } = g.padInfo;
  return padOrCrop(x, top, needH - top - g.inH, left, needW - left - g.inW);
}

/**
 * Zero-insertion by the strides: [N, Ho, Wo, C] → [N, Ho·sh, Wo·sw, C], each value followed by sh − 1 zero rows and
 * sw − 1 zero columns (reshape to [N, Ho, 1, Wo, 1, C], pad, reshape back).
 */
export function zeroInsert(u: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  const [N, Ho, Wo, C] = u.shape;
  const e = tf.pad(tf.reshape(u, [N, Ho, 1, Wo, 1, C]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return tf.reshape(e, [N, Ho * sh, Wo * sw, C]) as tf.Tensor4D;
}

/** dW by the swapped-batch/channel forward conv (XNNPACK on wasm). x NHWC, dy NHWC; returns [kh,kw,Ci,Co]. */
export function conv2dFilterGradSwapped(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: number[],
  strides: number | number[],
  pad: unknown,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = convGeometry(x.shape, filterShape, strides, pad, dimRoundingMode);
    const Ci = x.shape[3];
    const Co = dy.shape[3];
    if (!(g.kh === 1 && g.kw === 1 && g.strides[0] === 1 && g.strides[1] === 1)) {
      // wasm: pad + transpose in one pass on the heap (fused.ts) instead of PadV2 + a generic Transpose
      const needH = (g.outH - 1) * g.strides[0] + g.kh,
        needW = (g.outW - 1) * g.strides[1] + g.kw;
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
      const a = tf.transpose(tf.reshape(xp, [-1, Ci])); // [Ci, NHW]
      return tf.reshape(tf.matMul(a, tf.reshape(dy, [-1, Co])), [1, 1, Ci, Co]);
    }
    const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [Ci, Hp, Wp, N]
    const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, N, Co]
    const out = tf.conv2d(xT, f, 1, 'valid', 'NHWC', g.strides); // [Ci, kh, kw, Co]
    return tf.transpose(out, [1, 2, 0, 3]) as tf.Tensor4D; // [kh, kw, Ci, Co]
  });
}

/** dW by im2col (strided slices + one matMul): the straightforward general path, any stride/padding/dilation. */
export function conv2dFilterGradIm2col(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: number[],
  strides: number | number[],
  pad: unknown,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
  dilations: number | number[] = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    const d = pair(dilations);
    const [kh, kw, Ci, Co] = filterShape;
    const s = pair(strides);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape,
      filterShape as [number, number, number, number],
      s,
      d,
      pad as any,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const { top, left } = info.padInfo;
    const Ho = info.outHeight,
      Wo = info.outWidth,
      N = x.shape[0];
    const needH = (Ho - 1) * s[0] + (kh - 1) * d[0] + 1,
      needW = (Wo - 1) * s[1] + (kw - 1) * d[1] + 1;
    const xp = padOrCrop(x, top, needH - top - x.shape[1], left, needW - left - x.shape[2]);
    const cols: tf.Tensor[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        cols.push(
          tf.stridedSlice(
            xp,
            [0, a * d[0], b * d[1], 0],
            [N, a * d[0] + (Ho - 1) * s[0] + 1, b * d[1] + (Wo - 1) * s[1] + 1, Ci],
            [1, s[0], s[1], 1],
          ),
        );
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
 * pad by k-1-pad, correlate with the 180°-rotated, in/out-swapped filter. inputShape NHWC. `winograd`: 3×3 filters
 * by Winograd F(2×2,3×3) where the fused kernels run (default).
 */
export function conv2dInputGradAsConv(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: number[],
  strides: number | number[],
  pad: unknown,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
  winograd = true,
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = convGeometry(inputShape, filter.shape, strides, pad, dimRoundingMode);
    const [sh, sw] = g.strides;
    const [N, Ho, Wo, Co] = dy.shape;
    let u: tf.Tensor4D = dy;
    if (sh > 1 || sw > 1) {
      // zero-insertion: [N,Ho,1,Wo,1,Co] -> pad -> [N,Ho*sh,Wo*sw,Co] -> keep (Ho-1)*sh+1 rows
      u = tf.slice(zeroInsert(dy, sh, sw), [0, 0, 0, 0], [N, (Ho - 1) * sh + 1, (Wo - 1) * sw + 1, Co]) as tf.Tensor4D;
    }
    // dx[y] = Σ_a u[y + top - a] W[a]: full correlation; rows of dx: inH; rows needed in padded u: inH + kh - 1
    const top = g.kh - 1 - g.padInfo.top,
      left = g.kw - 1 - g.padInfo.left;
    const bottom = g.inH + g.kh - 1 - top - u.shape[1],
      right = g.inW + g.kw - 1 - left - u.shape[2];
    const up = padOrCrop(u, top, bottom, left, right);
    const wRot = rotate180SwapIO(filter); // [kh,kw,Co,Ci]
    // wasm, 3×3: Winograd F(2×2,3×3) (winograd.ts), 2.25× fewer multiplications than XNNPACK's direct conv
    return (winograd ? winogradConv3x3Fused(up, wRot) : null) ?? tf.conv2d(up, wRot, 1, 'valid');
  });
}
