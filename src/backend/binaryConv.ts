/**
 * Exact forward convolution of ±1 inputs with ±1 kernels by XNOR-popcount, for the wasm backend's Conv2D.
 *
 * With bits b = 1 for +1 and 0 for −1, the ±1 dot product of n pairs is  n − 2·popcount(x XOR w)
 * (Courbariaux et al. 2016; Rastegari et al. 2016). 'same' zero padding contributes 0, not ±1: a padded position
 * holds 0-bits (= −1), so it adds popcount(w at that position) to the XOR count, which we subtract back:
 *
 *   y[p,o] = nValid(p)·Ci − 2·( popcount_all(p,o) − Σ_{padded taps q of p} pcw[o,q] ),   pcw[o,q] = #(+1 in w[q,:,o]).
 *
 * Every value is an integer of magnitude ≤ kh·kw·Ci, so the float32 result is bit-identical to a float convolution
 * of the same ±1 tensors (sums of ±1 below 2^24 are exact in float32 in any order).
 *
 * The GEMM is `bgemm` of src/inference/kernels.ts (WebAssembly SIMD v128.xor + i8x16.popcnt); this module packs
 * the tfjs tensors (read in place from the wasm backend's heap) into its memory and writes the result straight into
 * a new tensor on the heap. Packing checks that every input and kernel value is exactly ±1; if one is not, the
 * caller falls back to the float convolution (e.g. the first layer's real input, or Bop's kernels before its first
 * step, which are still the glorot-initialised reals).
 */
import { createKernel, BinaryKernel } from '../inference/kernels';

/** Geometry of one NHWC convolution (tfjs semantics: padInfo from backend_util.computeConv2DInfo). */
export interface BinConvGeom {
  N: number; H: number; W: number; Ci: number;
  kh: number; kw: number; Co: number;
  sh: number; sw: number; padTop: number; padLeft: number;
  outH: number; outW: number;
}

let kernel: BinaryKernel | null = null;
let kernelBytes = 0;
let kernelBase = 0;
let xbitsBuf = new Uint32Array(0);

function kernelWith(bytes: number): BinaryKernel {
  if (!kernel || kernelBytes < bytes) {
    kernel = createKernel();
    kernelBytes = Math.ceil(bytes * 1.25 / 65536) * 65536;
    kernelBase = kernel.alloc(kernelBytes);
  }
  return kernel;
}

/** Stats for benchmarks/tests: calls that took the binary path and calls that fell back. */
export const binaryConvStats = { binary: 0, fallback: 0 };

/**
 * Pack W [kh,kw,Ci,Co] (±1) into rows of kp words per output (bit ci of word q·cw + ci/32 in row o) and the
 * per-tap counts of +1. Returns null if a value is not exactly ±1.
 */
export function packWeights(w: Float32Array, g: BinConvGeom, kp: number, noutP: number, dst: Uint32Array, dstWord: number,
  pcw: Int32Array): boolean {
  const { kh, kw, Ci, Co } = g;
  const cw = (Ci + 31) >>> 5;
  const kk = kh * kw;
  dst.fill(0, dstWord, dstWord + noutP * kp);
  pcw.fill(0);
  for (let q = 0; q < kk; q++) {
    for (let ci = 0; ci < Ci; ci++) {
      const base = (q * Ci + ci) * Co;
      const wordOff = dstWord + q * cw + (ci >>> 5);
      const bit = 1 << (ci & 31);
      for (let o = 0; o < Co; o++) {
        const v = w[base + o];
        if (v === 1) {
          dst[wordOff + o * kp] |= bit;
          pcw[o * kk + q]++;
        } else if (v !== -1) {
          return false;
        }
      }
    }
  }
  return true;
}

/** Pack x [N,H,W,Ci] (±1) into cw = ceil(Ci/32) words per pixel. Returns false if a value is not exactly ±1. */
export function packInput(x: Float32Array, npixIn: number, Ci: number, dst: Uint32Array): boolean {
  const cw = (Ci + 31) >>> 5;
  let ok = true;
  for (let p = 0; p < npixIn; p++) {
    const xb = p * Ci;
    const db = p * cw;
    for (let j = 0; j < cw; j++) {
      const c0 = j << 5;
      const c1 = Math.min(Ci, c0 + 32);
      let word = 0;
      for (let c = c0; c < c1; c++) {
        const v = x[xb + c];
        if (v === 1) word |= 1 << (c - c0);
        else if (v !== -1) ok = false;
      }
      dst[db + j] = word;
    }
    if (!ok) return false;
  }
  return true;
}

/**
 * y = conv2d(x, w) for ±1 x and w by XNOR-popcount. `x`, `w` are read (NHWC / HWIO float32), `alloc(size)` must
 * return the float32 array to write y [N,outH,outW,Co] into (called only once the inputs are known to be ±1).
 * Returns false (having written nothing) if some value of x or w is not exactly ±1.
 */
export function binaryConv2d(x: Float32Array, w: Float32Array, g: BinConvGeom, alloc: (size: number) => Float32Array): boolean {
  const { N, H, W, Ci, kh, kw, Co, sh, sw, padTop, padLeft, outH, outW } = g;
  const cw = (Ci + 31) >>> 5;
  const kk = kh * kw;
  const kp = Math.ceil((kk * cw) / 4) * 4;
  const noutP = Math.ceil(Co / 4) * 4;
  const npix = N * outH * outW;
  const rows = npix + (npix & 1);
  const patchBytes = rows * kp * 4, weightBytes = noutP * kp * 4, outBytes = rows * noutP * 4;
  const k = kernelWith(patchBytes + weightBytes + outBytes + 64);
  const pOff = kernelBase, wOff = pOff + patchBytes, oOff = wOff + weightBytes; // all multiples of 16
  let mem = new Uint32Array(k.buffer());
  const pcw = new Int32Array(noutP * kk);
  if (!packWeights(w, g, kp, noutP, mem, wOff >>> 2, pcw)) { binaryConvStats.fallback++; return false; }
  const npixIn = N * H * W;
  if (xbitsBuf.length < npixIn * cw) xbitsBuf = new Uint32Array(npixIn * cw);
  const xb = xbitsBuf;
  if (!packInput(x, npixIn, Ci, xb)) { binaryConvStats.fallback++; return false; }
  // im2col of bits: row p = [tap q: cw words] padded to kp words; padded taps are 0-bits
  mem = new Uint32Array(k.buffer());
  let r = pOff >>> 2;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const rowEnd = r + kp;
        for (let a = 0; a < kh; a++) {
          const iy = oy * sh + a - padTop;
          const inY = iy >= 0 && iy < H;
          for (let b = 0; b < kw; b++) {
            const ix = ox * sw + b - padLeft;
            if (inY && ix >= 0 && ix < W) {
              const s = ((n * H + iy) * W + ix) * cw;
              for (let j = 0; j < cw; j++) mem[r + j] = xb[s + j];
            } else {
              for (let j = 0; j < cw; j++) mem[r + j] = 0;
            }
            r += cw;
          }
        }
        while (r < rowEnd) mem[r++] = 0;
      }
    }
  }
  if (rows > npix) mem.fill(0, r, r + kp);
  k.bgemm(pOff, npix, kp, wOff, noutP, oOff);
  const y = alloc(npix * Co);
  const cnt = new Int32Array(k.buffer(), oOff, rows * noutP);
  // per output position: padded taps (none for interior pixels)
  const full = kk * Ci;
  const corr = new Int32Array(Co);
  let p = 0;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++, p++) {
        let nPad = 0;
        corr.fill(0);
        for (let a = 0; a < kh; a++) {
          const iy = oy * sh + a - padTop;
          for (let b = 0; b < kw; b++) {
            const ix = ox * sw + b - padLeft;
            if (!(iy >= 0 && iy < H && ix >= 0 && ix < W)) {
              nPad++;
              const q = a * kw + b;
              for (let o = 0; o < Co; o++) corr[o] += pcw[o * kk + q];
            }
          }
        }
        const cb = p * noutP, yb = p * Co;
        if (nPad === 0) {
          for (let o = 0; o < Co; o++) y[yb + o] = full - 2 * cnt[cb + o];
        } else {
          const nv = (kk - nPad) * Ci;
          for (let o = 0; o < Co; o++) y[yb + o] = nv - 2 * (cnt[cb + o] - corr[o]);
        }
      }
    }
  }
  binaryConvStats.binary++;
  return true;
}
