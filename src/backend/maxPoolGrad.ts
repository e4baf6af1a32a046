/**
 * The gradient of max pooling (NHWC) with tfjs semantics: each output's gradient goes to the FIRST maximum of its
 * window in row-major order (padding never wins), as the cpu backend does. wasm's own MaxPoolGrad (tfjs 4.22) sends
 * it to the wrong cell, or drops it, when every value of a window is negative; wasmKernels.ts replaces it by
 * `maxPoolGradHeap` (one pass on the heap, SIMD for 2×2 windows) where it applies, else by `maxPoolGradAsOps`.
 */
import * as tf from '@tensorflow/tfjs';
import { padOrCrop, zeroInsert } from './convGrads';
import { heapF32, heapPtr, simd } from './heap';
import type { HeapBackend } from './heap';

type Info = tf.TensorInfo;

/**
 * dx of maxPool (NHWC), tfjs semantics: each output's gradient goes to the FIRST maximum of its window in
 * row-major order (padding never wins). wasm's own MaxPoolGrad (tfjs 4.22) is wrong when a window is all negative.
 * For each window offset (a,b): x_ab = strided slice of the (-inf)-padded input; mask_ab = (x_ab == max) and no
 * earlier offset was a max; dx = Σ_ab place_ab(mask_ab · dy), each piece zero-upsampled by the stride and shifted.
 * Non-overlapping windows without padding (stride = size, the pools of BinaryNet and UNet) take a faster path:
 * windows as rows, argMax (first max), one-hot times dy.
 */
export function maxPoolGradAsOps(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  filterSize: number | number[],
  strides: number | number[],
  pad: unknown,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const info = tf.backend_util.computePool2DInfo(
      x.shape,
      filterSize as any,
      strides as any,
      1,
      pad as any,
      dimRoundingMode,
    );
    const { top, left, bottom, right } = info.padInfo;
    if (
      info.strideHeight === info.filterHeight &&
      info.strideWidth === info.filterWidth &&
      !(top || bottom || left || right)
    ) {
      return maxPoolGradWindows(dy, x, info);
    }
    return maxPoolGradOffsets(dy, x, info);
  });
}

/**
 * Non-overlapping windows without padding: put each window's k² values last, argMax (first max), one-hot · dy, put
 * back. Transposes, ArgMax and OneHot are native on wasm; strided slices are not (~40× slower here).
 */
function maxPoolGradWindows(dy: tf.Tensor4D, x: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  const [N, H, W, C] = x.shape;
  const Ho = info.outHeight,
    Wo = info.outWidth;
  const xc = Ho * kh !== H || Wo * kw !== W ? tf.slice(x, [0, 0, 0, 0], [N, Ho * kh, Wo * kw, C]) : x;
  const win = tf.reshape(tf.transpose(tf.reshape(xc, [N * Ho, kh, Wo, kw, C]), [0, 2, 4, 1, 3]), [-1, kh * kw]);
  const onehot = tf.oneHot(tf.argMax(win, 1), kh * kw); // [N·Ho·Wo·C, k²]
  const g = tf.mul(onehot, tf.reshape(dy, [-1, 1]));
  const back = tf.reshape(tf.transpose(tf.reshape(g, [N * Ho, Wo, C, kh, kw]), [0, 3, 1, 4, 2]), [
    N,
    Ho * kh,
    Wo * kw,
    C,
  ]);
  return padOrCrop(back as tf.Tensor4D, 0, H - Ho * kh, 0, W - Wo * kw);
}

/**
 * Any geometry: for each window offset (a,b) the strided slice x_ab of the (−∞)-padded input; mask_ab = (x_ab == max)
 * and no earlier offset was a max; dx = Σ_ab place_ab(mask_ab · dy), each piece zero-upsampled by the stride and
 * shifted (`placeOffset`).
 */
function maxPoolGradOffsets(dy: tf.Tensor4D, x: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const { top, left, bottom, right } = info.padInfo;
  const [N, H, W, C] = x.shape;
  const Ho = info.outHeight,
    Wo = info.outWidth;
  const xp =
    top || bottom || left || right
      ? tf.pad(
          x,
          [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ],
          -Infinity,
        )
      : x;
  const slices: tf.Tensor4D[][] = [];
  for (let a = 0; a < kh; a++) {
    slices.push([]);
    for (let b = 0; b < kw; b++) {
      slices[a].push(
        tf.stridedSlice(
          xp,
          [0, a, b, 0],
          [N, a + (Ho - 1) * sh + 1, b + (Wo - 1) * sw + 1, C],
          [1, sh, sw, 1],
        ) as tf.Tensor4D,
      );
    }
  }
  let m = slices[0][0];
  for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) if (a || b) m = tf.maximum(m, slices[a][b]);
  let taken: tf.Tensor | null = null;
  const parts: tf.Tensor4D[] = [];
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      let e: tf.Tensor = tf.equal(slices[a][b], m);
      if (taken) {
        e = tf.logicalAnd(e, tf.logicalNot(taken));
        taken = tf.logicalOr(taken, e);
      } else taken = e;
      parts.push(placeOffset(tf.mul(dy, tf.cast(e, 'float32')) as tf.Tensor4D, a, b, info));
    }
  }
  const sum = parts.length === 1 ? parts[0] : tf.addN(parts);
  return tf.slice(sum, [0, top, left, 0], [N, H, W, C]) as tf.Tensor4D;
}

/** The gradient piece of window offset (a, b), zero-upsampled by the stride and shifted into the padded input's frame. */
function placeOffset(u: tf.Tensor4D, a: number, b: number, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const { top, left, bottom, right } = info.padInfo;
  const Hp = top + info.inHeight + bottom,
    Wp = left + info.inWidth + right;
  if (sh > 1 || sw > 1) u = zeroInsert(u, sh, sw);
  return padOrCrop(u, a, Hp - a - u.shape[1], b, Wp - b - u.shape[2]);
}

/**
 * MaxPoolGrad for non-overlapping windows without padding (stride = size; BinaryNet's 2×2 pools) in one JS pass
 * on the wasm heap: each window's gradient goes to its first maximum in row-major order (as maxPoolGradAsOps and
 * the cpu backend); rows/columns beyond the last window get 0. Returns null for other geometries.
 */
export function maxPoolGradHeap(
  b: HeapBackend,
  dy: Info,
  x: Info,
  filterSize: number | number[],
  strides: number | number[],
  pad: unknown,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): Info | null {
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    filterSize as any,
    strides as any,
    1,
    pad as any,
    dimRoundingMode,
  );
  const kh = info.filterHeight,
    kw = info.filterWidth;
  const { top, left, bottom, right } = info.padInfo;
  if (info.strideHeight !== kh || info.strideWidth !== kw || top || left || bottom || right) return null;
  const [N, H, W, C] = x.shape;
  const Ho = info.outHeight,
    Wo = info.outWidth;
  if (dy.shape[1] !== Ho || dy.shape[2] !== Wo) return null;
  const out = b.makeOutput(x.shape.slice(), 'float32');
  const k = kh === 2 && kw === 2 && C % 4 === 0 ? simd(b) : null;
  if (k) {
    // SIMD: a table of window-row offsets (N·Ho entries), then one pass; cropped rows/cols stay 0
    if (Ho * 2 !== H || Wo * 2 !== W) heapF32(b, out).fill(0);
    const tabP = b.wasm._malloc(N * Ho * 4 + 16) >>> 0;
    const tab = new Int32Array(b.wasm.HEAPU8.buffer, tabP, N * Ho);
    for (let n = 0; n < N; n++) for (let oy = 0; oy < Ho; oy++) tab[n * Ho + oy] = (n * H + 2 * oy) * W * C * 4;
    k.maxPoolGrad2(tabP, N * Ho, Wo, C >>> 2, W * C * 4, heapPtr(b, x), heapPtr(b, dy), heapPtr(b, out));
    b.wasm._free(tabP);
    return out;
  }
  const xv = heapF32(b, x),
    gv = heapF32(b, dy),
    dx = heapF32(b, out);
  dx.fill(0);
  const rowStride = W * C;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const base = ((n * H + oy * kh) * W + ox * kw) * C;
        const gb = ((n * Ho + oy) * Wo + ox) * C;
        for (let c = 0; c < C; c++) {
          let best = base + c,
            bv = xv[best];
          for (let a = 0; a < kh; a++) {
            for (let q = 0; q < kw; q++) {
              const i = base + a * rowStride + q * C + c;
              const v = xv[i];
              if (v > bv) {
                bv = v;
                best = i;
              }
            }
          }
          dx[best] = gv[gb + c];
        }
      }
    }
  }
  return out;
}
