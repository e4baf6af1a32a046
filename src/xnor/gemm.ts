/**
 * The generic XNOR-popcount GEMM (used by training's ±1 convolutions, src/backend/binaryConv.ts, and by packed
 * inference's reference path), in three interchangeable implementations:
 *
 *   out[p·noutStride + o] = Σ_k popcount(patch[p·kp + k] XOR weight[o·kp + k])      (k over 32-bit words)
 *
 * i.e. the number of sign disagreements between a bit-packed input patch and a bit-packed kernel row
 * (bit 1 = +1, bit 0 = −1), from which the ±1 dot product is  n − 2·popcount  (XNOR-popcount, Rastegari
 * et al. 2016 / Courbariaux et al. 2016).
 *
 *   'simd': WebAssembly SIMD (v128.xor + i8x16.popcnt + pairwise widening adds), 2 pixels × 4 kernel rows per pass;
 *   'i64':  WebAssembly scalar i64.xor + i64.popcnt, 2 pixels × 4 kernel rows per pass;
 *   'js':   plain JS typed arrays with popcount32 (popcount.ts), the reference and fallback.
 *
 * The wasm kernels are AssemblyScript source, kernels/xnor.ts (one module with both GEMMs and sgemm, compiled and
 * loaded by src/wasm/load.ts); each BinaryKernel owns one linear memory in which the caller lays out weights,
 * patches and outputs (`alloc`). All three kernels work on the same memory layout, so they are tested against
 * each other.
 * Layout requirements: kp (words per row) a multiple of 4, nout a multiple of 4 (16 for sgemm), byte offsets 16-aligned.
 * The wasm module also holds `sgemm`, a float32 f32x4 GEMM for the real-input first layer (JS: the same sums in
 * the same order).
 */

export type KernelName = 'simd' | 'i64' | 'js';

export interface BinaryKernel {
  readonly name: KernelName;
  /** The linear memory (re-read after `alloc`, which may grow it). */
  buffer(): ArrayBuffer;
  /** Reserves `bytes` (16-aligned) and returns the byte offset. Zero-filled. */
  alloc(bytes: number): number;
  /**
   * See the module comment. Offsets in bytes; kp in 32-bit words (multiple of 4); nout multiple of 4.
   * The wasm kernels process pixel pairs: with odd npix they read one more (zeroed) patch row and write one more output row.
   */
  bgemm(patchOff: number, npix: number, kp: number, weightOff: number, nout: number, outOff: number): void;
  /** Float GEMM: out[p][o] = Σ_q patch[p][q]·w[q][o]; patch rows of kq floats, w [kq][nout], nout a multiple of 16. */
  sgemm(patchOff: number, npix: number, kq: number, weightOff: number, nout: number, outOff: number): void;
}

import { WA } from '../wasm/asm';
import type { WasmMemory } from '../wasm/asm';
import { loadKernels } from '../wasm/load';
import { popcount32 } from './popcount';

/** The exports of kernels/xnor.ts (byte offsets into the kernel's memory; kb = bytes per patch/kernel row). */
interface XnorExports {
  bgemmSimd(pp: number, npix: number, kb: number, wp: number, nout: number, op: number): void;
  bgemmI64(pp: number, npix: number, kb: number, wp: number, nout: number, op: number): void;
  sgemm(pp: number, npix: number, kq: number, wp: number, nout: number, op: number): void;
}

// ---------------------------------------------------------------- implementations

class WasmKernel implements BinaryKernel {
  private top = 16;
  private readonly fns: XnorExports;
  private readonly bfn: XnorExports['bgemmSimd'];
  constructor(
    readonly name: 'simd' | 'i64',
    private readonly memory: WasmMemory,
  ) {
    this.fns = loadKernels<XnorExports>('xnor', memory);
    this.bfn = name === 'simd' ? this.fns.bgemmSimd : this.fns.bgemmI64;
  }
  sgemm(pp: number, npix: number, kq: number, wp: number, nout: number, o: number): void {
    if (npix <= 0 || nout <= 0 || kq <= 0) return;
    this.fns.sgemm(pp, npix, kq, wp, nout, o);
  }
  buffer(): ArrayBuffer {
    return this.memory.buffer;
  }
  alloc(bytes: number): number {
    const off = this.top;
    this.top += Math.ceil(bytes / 16) * 16;
    const need = this.top - this.memory.buffer.byteLength;
    if (need > 0) this.memory.grow(Math.ceil(need / 65536));
    return off;
  }
  bgemm(pp: number, npix: number, kp: number, wp: number, nout: number, o: number): void {
    if (npix <= 0 || nout <= 0) return;
    this.bfn(pp, npix, kp * 4, wp, nout, o);
  }
}

class JsKernel implements BinaryKernel {
  readonly name = 'js' as const;
  private buf = new ArrayBuffer(1 << 16);
  private top = 16;
  buffer(): ArrayBuffer {
    return this.buf;
  }
  alloc(bytes: number): number {
    const off = this.top;
    this.top += Math.ceil(bytes / 16) * 16;
    if (this.top > this.buf.byteLength) {
      const nb = new ArrayBuffer(Math.max(this.top, this.buf.byteLength * 2));
      new Uint8Array(nb).set(new Uint8Array(this.buf));
      this.buf = nb;
    }
    return off;
  }
  bgemm(pp: number, npix: number, kp: number, wp: number, nout: number, op: number): void {
    const m = new Uint32Array(this.buf);
    const out = new Int32Array(this.buf);
    const pw = pp >> 2;
    const ww = wp >> 2;
    const ow = op >> 2;
    const pc = popcount32; // a local: no module-object load per word
    for (let p = 0; p < npix; p++) {
      const pr = pw + p * kp;
      for (let o = 0; o < nout; o++) {
        const wr = ww + o * kp;
        let acc = 0;
        for (let k = 0; k < kp; k++) acc += pc(m[pr + k] ^ m[wr + k]);
        out[ow + p * nout + o] = acc;
      }
    }
  }
  sgemm(pp: number, npix: number, kq: number, wp: number, nout: number, op: number): void {
    const f = new Float32Array(this.buf);
    const pw = pp >> 2;
    const ww = wp >> 2;
    const ow = op >> 2;
    const acc = new Float32Array(nout);
    for (let p = 0; p < npix; p++) {
      acc.fill(0);
      for (let q = 0; q < kq; q++) {
        const x = f[pw + p * kq + q];
        const wr = ww + q * nout;
        for (let o = 0; o < nout; o++) acc[o] += x * f[wr + o];
      }
      f.set(acc, ow + p * nout);
    }
  }
}

/** A fresh linear memory for a wasm kernel (1 page to start; alloc grows it). */
const newMemory = (): WasmMemory => new WA!.Memory!({ initial: 1 });

let wasmOk: boolean | undefined;
/** Whether kernels/xnor.ts builds, loads and runs here (WebAssembly with SIMD); checked once. */
function wasmAvailable(): boolean {
  if (wasmOk === undefined) {
    try {
      wasmOk =
        WA?.Memory !== undefined && typeof loadKernels<XnorExports>('xnor', newMemory()).bgemmSimd === 'function';
    } catch {
      wasmOk = false;
    }
  }
  return wasmOk;
}

/** Kernels this runtime can run, fastest first. */
export function availableKernels(): KernelName[] {
  const out: KernelName[] = [];
  if (wasmAvailable()) out.push('simd', 'i64');
  out.push('js');
  return out;
}

/** A fresh kernel with its own memory; `name` defaults to the fastest available. Throws if `name` is unavailable. */
export function createKernel(name?: KernelName): BinaryKernel {
  const avail = availableKernels();
  const pick = name ?? avail[0];
  if (!avail.includes(pick))
    throw new Error(`Binary kernel '${pick}' is not available here (available: ${avail.join(', ')}).`);
  if (pick === 'js') return new JsKernel();
  return new WasmKernel(pick, newMemory());
}
