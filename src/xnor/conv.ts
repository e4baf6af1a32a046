/**
 * Convolution of packed ±1 activations with packed ±1 kernels (layout: bits.ts) as a GEMM over im2col patch rows,
 * and the exact correction for zero padding.
 *
 * Zero ('same') padding contributes 0 to a convolution, not ±1, but a padded tap of a patch row holds 0-bits, i.e.
 * −1. XOR-popcount then counts the tap's +1 weights as disagreements, so with pcw[o][t] = #(+1 weights of row o at
 * tap t) and popcount_all = popcount(patch XOR row) over every tap:
 *
 *   y[p][o] = nValid(p)·C − 2·(popcount_all − Σ_{padded taps t of p} pcw[o][t])
 *           = A[pattern(p)][o] − 2·popcount_all,   A = nValid·C + 2·Σ_{padded taps} pcw[o][t],
 *
 * where nValid(p) is the number of taps of p inside the image (times C channels) and pattern(p) the set of its
 * padded taps; pixels away from the border have none (A = kh·kw·C). Every y is an integer with |y| ≤ kh·kw·C, so
 * a float32 y is exact.
 */
import { words } from './bits';

/** One 2-D convolution, NHWC (the field names of a packed inference stage). */
export interface ConvGeom {
  inH: number;
  inW: number;
  inC: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  /** Zero rows above / columns left of the input (TF 'same': `padBefore`). */
  padTop: number;
  padLeft: number;
  /** Output size of the convolution. */
  convH: number;
  convW: number;
}

/**
 * TF's 'same' padding before the input along one axis of size n, kernel k, stride s:
 * total = max((⌈n/s⌉ − 1)·s + k − n, 0), before = ⌊total/2⌋ (the extra one, if odd, goes after).
 */
export function padBefore(n: number, k: number, s: number): number {
  return Math.floor(Math.max((Math.ceil(n / s) - 1) * s + k - n, 0) / 2);
}

/**
 * The geometry of a convolution of an inH×inW×inC input with a kh×kw kernel and strides (sh, sw), TF semantics:
 * 'same': output ⌈n/s⌉, padding `padBefore` before (the rest after); 'valid': output ⌊(n − k)/s⌋ + 1, no padding.
 * The output size may come out < 1 (the kernel does not fit): callers check.
 */
export function convGeom(
  inH: number,
  inW: number,
  inC: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  padding: 'same' | 'valid',
): ConvGeom {
  const same = padding === 'same';
  return {
    inH,
    inW,
    inC,
    kh,
    kw,
    strideH: sh,
    strideW: sw,
    padTop: same ? padBefore(inH, kh, sh) : 0,
    padLeft: same ? padBefore(inW, kw, sw) : 0,
    convH: same ? Math.ceil(inH / sh) : Math.floor((inH - kh) / sh) + 1,
    convW: same ? Math.ceil(inW / sw) : Math.floor((inW - kw) / sw) + 1,
  };
}

/** The taps (ky·kw + kx) of output pixel (oy, ox) that fall on padding. */
export function paddedTaps(g: ConvGeom, oy: number, ox: number): number[] {
  const taps: number[] = [];
  for (let ky = 0; ky < g.kh; ky++) {
    const iy = oy * g.strideH + ky - g.padTop;
    for (let kx = 0; kx < g.kw; kx++) {
      const ix = ox * g.strideW + kx - g.padLeft;
      if (!(iy >= 0 && iy < g.inH && ix >= 0 && ix < g.inW)) taps.push(ky * g.kw + kx);
    }
  }
  return taps;
}

/** The padding correction of one convolution (module comment): A per pattern, and each output pixel's pattern. */
export interface PaddingTable {
  /** A[k·stride + o] = nValid_k·C + 2·Σ_{padded taps t of pattern k} pcw[o][t] (0 for o ≥ cout). */
  A: Int32Array;
  stride: number;
  /** pattern[oy·convW + ox]: the row of A of that output pixel. */
  pattern: Int32Array;
}

/**
 * Builds the padding table of `g` for kernel rows with tap popcounts `pcw` [cout][kh·kw] (bits.ts' tapPopcounts);
 * rows of A are `stride` ≥ cout entries long. Patterns are numbered in order of first appearance.
 */
export function paddingTable(g: ConvGeom, pcw: Int32Array, cout: number, stride = cout): PaddingTable {
  const kk = g.kh * g.kw;
  if (pcw.length !== cout * kk) throw new Error(`paddingTable: ${pcw.length} tap counts for ${cout}×${kk}`);
  const ids = new Map<string, number>();
  const rows: Int32Array[] = [];
  const pattern = new Int32Array(g.convH * g.convW);
  for (let oy = 0; oy < g.convH; oy++)
    for (let ox = 0; ox < g.convW; ox++) {
      const pads = paddedTaps(g, oy, ox);
      const key = pads.join(',');
      let id = ids.get(key);
      if (id === undefined) {
        id = rows.length;
        ids.set(key, id);
        const row = new Int32Array(stride);
        const nValid = (kk - pads.length) * g.inC;
        for (let o = 0; o < cout; o++) {
          let corr = 0;
          for (const t of pads) corr += pcw[o * kk + t];
          row[o] = nValid + 2 * corr;
        }
        rows.push(row);
      }
      pattern[oy * g.convW + ox] = id;
    }
  const A = new Int32Array(rows.length * stride);
  rows.forEach((r, k) => A.set(r, k * stride));
  return { A, stride, pattern };
}

/**
 * im2col of packed activations: for each of `n` images [inH][inW][words(inC)] in `bits`, each output pixel's patch
 * row [tap][words(inC)] (padded taps 0-bits), zero-filled to `rowWords` words, written from word `dstWord` of
 * `dst` (n·convH·convW rows).
 */
export function im2colBits(
  bits: Uint32Array,
  g: ConvGeom,
  n: number,
  dst: Uint32Array,
  dstWord: number,
  rowWords: number,
): void {
  const { inH, inW, kh, kw, convH, convW } = g;
  const cw = words(g.inC);
  if (rowWords < kh * kw * cw)
    throw new Error(`im2colBits: rows of ${rowWords} words cannot hold ${kh}·${kw}·${cw} words`);
  let r = dstWord;
  for (let i = 0; i < n; i++) {
    const img = i * inH * inW;
    for (let oy = 0; oy < convH; oy++)
      for (let ox = 0; ox < convW; ox++) {
        const rowEnd = r + rowWords;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * g.strideH + ky - g.padTop;
          const inY = iy >= 0 && iy < inH;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * g.strideW + kx - g.padLeft;
            if (inY && ix >= 0 && ix < inW) {
              const s = (img + iy * inW + ix) * cw;
              for (let j = 0; j < cw; j++) dst[r + j] = bits[s + j];
            } else for (let j = 0; j < cw; j++) dst[r + j] = 0;
            r += cw;
          }
        }
        while (r < rowEnd) dst[r++] = 0;
      }
  }
}

/**
 * The ±1 convolution outputs from XOR popcounts: out[p·cout + o] = A[pattern(p mod convH·convW)][o] − 2·counts[p·
 * countStride + o] for the n·convH·convW output pixels p of `n` images (the module comment's formula).
 */
export function xnorOutputs(
  counts: Int32Array,
  countStride: number,
  t: PaddingTable,
  n: number,
  cout: number,
  out: Float32Array,
): void {
  const npix = t.pattern.length;
  const { A, stride, pattern } = t;
  if (cout > stride) throw new Error(`xnorOutputs: ${cout} outputs per pixel, the padding table has rows of ${stride}`);
  if (out.length < n * npix * cout)
    throw new Error(`xnorOutputs: output of ${out.length} values for ${n}·${npix}·${cout}`);
  if (n > 0 && counts.length < (n * npix - 1) * countStride + cout)
    throw new Error(`xnorOutputs: ${counts.length} counts for ${n}·${npix} pixels of stride ${countStride}`);
  for (let i = 0, p = 0; i < n; i++)
    for (let q = 0; q < npix; q++, p++) {
      const a = pattern[q] * stride;
      const c = p * countStride;
      const y = p * cout;
      for (let o = 0; o < cout; o++) out[y + o] = A[a + o] - 2 * counts[c + o];
    }
}
