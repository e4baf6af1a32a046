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
 * Packing (src/xnor/bits.ts), im2col, the padding correction (src/xnor/conv.ts) and the GEMM (`bgemm` of
 * src/xnor/gemm.ts: WebAssembly SIMD v128.xor + i8x16.popcnt) are src/xnor's, shared with packed inference; this
 * module reads the tfjs tensors in place from the wasm backend's heap and writes the result straight into a new
 * tensor on the heap. Packing checks that every input and kernel value is exactly ±1; if one is not, the
 * caller falls back to the float convolution (e.g. the first layer's real input, or Bop's kernels before its first
 * step, which are still the glorot-initialised reals).
 */
import {
  createKernel,
  im2colBits,
  packActivations,
  packKernel,
  paddingTable,
  tapPopcounts,
  words,
  xnorOutputs,
} from '../xnor';
import type { BinaryKernel, ConvGeom } from '../xnor';

/** Geometry of one NHWC convolution (tfjs semantics: padInfo from backend_util.computeConv2DInfo). */
export interface BinConvGeom {
  N: number;
  H: number;
  W: number;
  Ci: number;
  kh: number;
  kw: number;
  Co: number;
  sh: number;
  sw: number;
  padTop: number;
  padLeft: number;
  outH: number;
  outW: number;
}

let kernel: BinaryKernel | null = null;
let kernelBytes = 0;
let kernelBase = 0;
let xbitsBuf = new Uint32Array(0);

function kernelWith(bytes: number): BinaryKernel {
  if (!kernel || kernelBytes < bytes) {
    kernel = createKernel();
    kernelBytes = Math.ceil((bytes * 1.25) / 65536) * 65536;
    kernelBase = kernel.alloc(kernelBytes);
  }
  return kernel;
}

/** Stats for benchmarks/tests: calls that took the binary path and calls that fell back. */
export const binaryConvStats = { binary: 0, fallback: 0 };

/**
 * y = conv2d(x, w) for ±1 x and w by XNOR-popcount. `x`, `w` are read (NHWC / HWIO float32), `alloc(size)` must
 * return the float32 array to write y [N,outH,outW,Co] into (called only once the inputs are known to be ±1).
 * Returns false (having written nothing) if some value of x or w is not exactly ±1.
 */
export function binaryConv2d(
  x: Float32Array,
  w: Float32Array,
  g: BinConvGeom,
  alloc: (size: number) => Float32Array,
): boolean {
  const { N, H, W, Ci, kh, kw, Co, outH, outW } = g;
  const cg: ConvGeom = {
    inH: H,
    inW: W,
    inC: Ci,
    kh,
    kw,
    strideH: g.sh,
    strideW: g.sw,
    padTop: g.padTop,
    padLeft: g.padLeft,
    convH: outH,
    convW: outW,
  };
  const shape = { kh, kw, cin: Ci, cout: Co };
  const cw = words(Ci);
  const kp = Math.ceil((kh * kw * cw) / 4) * 4;
  const noutP = Math.ceil(Co / 4) * 4;
  const npix = N * outH * outW;
  const rows = npix + (npix & 1); // the wasm kernels work on pixel pairs
  const patchBytes = rows * kp * 4,
    weightBytes = noutP * kp * 4,
    outBytes = rows * noutP * 4;
  const k = kernelWith(patchBytes + weightBytes + outBytes + 64);
  const pOff = kernelBase,
    wOff = pOff + patchBytes,
    oOff = wOff + weightBytes; // all multiples of 16
  let mem = new Uint32Array(k.buffer());
  if (!packKernel(w, shape, { mode: 'exact', rowWords: kp, rows: noutP, out: mem, outWord: wOff >>> 2 })) {
    binaryConvStats.fallback++;
    return false;
  }
  const npixIn = N * H * W;
  if (xbitsBuf.length < npixIn * cw) xbitsBuf = new Uint32Array(npixIn * cw);
  if (!packActivations(x, npixIn, Ci, xbitsBuf)) {
    binaryConvStats.fallback++;
    return false;
  }
  const table = paddingTable(cg, tapPopcounts(mem, shape, kp, wOff >>> 2), Co);
  mem = new Uint32Array(k.buffer());
  im2colBits(xbitsBuf, cg, N, mem, pOff >>> 2, kp);
  if (rows > npix) mem.fill(0, (pOff >>> 2) + npix * kp, (pOff >>> 2) + rows * kp);
  k.bgemm(pOff, npix, kp, wOff, noutP, oOff);
  const y = alloc(npix * Co);
  xnorOutputs(new Int32Array(k.buffer(), oOff, rows * noutP), noutP, table, N, Co, y);
  binaryConvStats.binary++;
  return true;
}
