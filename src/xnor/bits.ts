/**
 * Bit-packing of ±1 values: the one layout shared by training (src/backend/binaryConv.ts) and inference
 * (src/inference).
 *
 * Layout. A ±1 value is one bit: 1 = +1, 0 = −1. Channels are packed along 32-bit words, little end first:
 * channel c of a pixel is bit (c mod 32) of word ⌊c/32⌋, and a pixel of C channels takes `words(C)` = ⌈C/32⌉
 * words whose unused high bits are 0 (so that two packed vectors XOR to 0 there).
 *   - activations [npix][C] (NHWC order): pixel p at words [p·words(C), (p+1)·words(C));
 *   - a kernel [kh][kw][Cin][Cout] (HWIO, tfjs' order) becomes one row per output channel o:
 *     [o][tap = ky·kw + kx][words(Cin)], the row `rowWords` words long (≥ kh·kw·words(Cin); the rest 0), so that
 *     an im2col patch row (`im2colBits`, same [tap][words] order) and a kernel row line up word for word.
 * With this layout the ±1 dot product of n pairs is n − 2·popcount(x XOR w) (XNOR-popcount: Courbariaux et al.
 * 2016, Rastegari et al. 2016); padded taps are handled by src/xnor/conv.ts.
 */
import { popcount32 } from './popcount';

/** 32-bit words per pixel of `c` channels: ⌈c/32⌉. */
export const words = (c: number): number => Math.ceil(c / 32);

/** Geometry of a kernel [kh][kw][cin][cout]. */
export interface KernelShape {
  kh: number;
  kw: number;
  cin: number;
  cout: number;
}

export interface PackKernelOptions {
  /**
   * 'sign' (default): bit = v ≥ 0 (Larq's sign, sign(0) = +1), NaN throws; 'exact': every value must be exactly
   * ±1, else nothing is written but the zero fill and null is returned.
   */
  mode?: 'sign' | 'exact';
  /** Words per output row (default kh·kw·words(cin)). */
  rowWords?: number;
  /** Rows written (zero-filled beyond cout; default cout). */
  rows?: number;
  /** Destination (default: a new array of rows·rowWords words) and its first word. */
  out?: Uint32Array;
  outWord?: number;
}

/**
 * Packs a kernel [kh][kw][cin][cout] (HWIO float32) into rows [o][tap][words(cin)] (see the module comment).
 * Returns the array written (`opts.out` or a new one), or null in 'exact' mode when a value is not ±1.
 */
export function packKernel(
  values: Float32Array,
  k: KernelShape,
  opts?: PackKernelOptions & { mode?: 'sign' },
): Uint32Array;
export function packKernel(values: Float32Array, k: KernelShape, opts: PackKernelOptions): Uint32Array | null;
export function packKernel(values: Float32Array, k: KernelShape, opts: PackKernelOptions = {}): Uint32Array | null {
  const { kh, kw, cin, cout } = k;
  const cw = words(cin);
  const kk = kh * kw;
  if (values.length !== kk * cin * cout)
    throw new Error(`packKernel: ${values.length} values for a ${kh}×${kw}×${cin}×${cout} kernel`);
  const rowWords = opts.rowWords ?? kk * cw;
  if (rowWords < kk * cw) throw new Error(`packKernel: rows of ${rowWords} words cannot hold ${kk}·${cw} words`);
  const rows = opts.rows ?? cout;
  if (rows < cout) throw new Error(`packKernel: ${rows} rows for ${cout} output channels`);
  const w0 = opts.outWord ?? 0;
  const out = opts.out ?? new Uint32Array(w0 + rows * rowWords);
  if (out.length < w0 + rows * rowWords)
    throw new Error(`packKernel: destination too small (${out.length} < ${w0 + rows * rowWords} words)`);
  out.fill(0, w0, w0 + rows * rowWords);
  const exact = opts.mode === 'exact';
  for (let q = 0; q < kk; q++)
    for (let c = 0; c < cin; c++) {
      const base = (q * cin + c) * cout;
      const word = w0 + q * cw + (c >>> 5);
      const bit = 1 << (c & 31);
      for (let o = 0; o < cout; o++) {
        const v = values[base + o];
        if (exact) {
          if (v === 1) out[word + o * rowWords] |= bit;
          else if (v !== -1) return null;
        } else if (v >= 0) out[word + o * rowWords] |= bit;
        else if (Number.isNaN(v))
          throw new Error(`packKernel: NaN in the kernel (tap ${q}, channel ${c}, filter ${o})`);
      }
    }
  return out;
}

/**
 * Per output channel and tap, the number of +1 weights: pc[o·kh·kw + tap] = popcount of the tap's words in row o
 * (rows of `rowWords` words from word `word0` of `packed`, as packKernel writes them).
 */
export function tapPopcounts(
  packed: Uint32Array,
  k: KernelShape,
  rowWords = k.kh * k.kw * words(k.cin),
  word0 = 0,
): Int32Array {
  const kk = k.kh * k.kw;
  const cw = words(k.cin);
  const pc = new Int32Array(k.cout * kk);
  for (let o = 0; o < k.cout; o++)
    for (let q = 0; q < kk; q++) {
      let s = 0;
      const b = word0 + o * rowWords + q * cw;
      for (let j = 0; j < cw; j++) s += popcount32(packed[b + j]);
      pc[o * kk + q] = s;
    }
  return pc;
}

/**
 * The ±1 kernel back as float32 [tap·cin + c][ncols] (ncols ≥ cout, extra columns 0), from packed rows
 * [o][tap][words(cin)] (rowWords = kh·kw·words(cin)): the weights of a real-input layer's float GEMM.
 */
export function unpackKernel(packed: Uint32Array, k: KernelShape, ncols = k.cout): Float32Array {
  const kk = k.kh * k.kw;
  const cw = words(k.cin);
  const out = new Float32Array(kk * k.cin * ncols);
  for (let o = 0; o < k.cout; o++)
    for (let q = 0; q < kk; q++)
      for (let c = 0; c < k.cin; c++)
        out[(q * k.cin + c) * ncols + o] = (packed[(o * kk + q) * cw + (c >> 5)] >>> (c & 31)) & 1 ? 1 : -1;
  return out;
}

/**
 * Packs activations [npix][c] that must be exactly ±1 into `dst` [npix][words(c)] (from word 0). Returns false as
 * soon as a value is not ±1 (`dst` then holds a partial result).
 */
export function packActivations(x: Float32Array, npix: number, c: number, dst: Uint32Array): boolean {
  const cw = words(c);
  for (let p = 0; p < npix; p++) {
    const xb = p * c;
    const db = p * cw;
    let ok = true;
    for (let j = 0; j < cw; j++) {
      const c0 = j << 5;
      const c1 = Math.min(c, c0 + 32);
      let word = 0;
      for (let ch = c0; ch < c1; ch++) {
        const v = x[xb + ch];
        if (v === 1) word |= 1 << (ch - c0);
        else if (v !== -1) ok = false;
      }
      dst[db + j] = word;
    }
    if (!ok) return false;
  }
  return true;
}
