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
 *   'simd': WebAssembly SIMD (v128.xor + i8x16.popcnt + pairwise widening adds), 4 kernel rows per pass;
 *   'i64':  WebAssembly scalar i64.xor + i64.popcnt, 4 kernel rows per pass;
 *   'js':   plain JS typed arrays with popcount32 (popcount.ts), the reference and fallback.
 *
 * The two wasm modules are assembled with src/wasm/asm.ts (~400 bytes each); they
 * own one linear memory in which the caller lays out weights, patches and outputs (`alloc`). All three
 * kernels work on the same memory layout, so they are tested against each other.
 * Layout requirements: kp (words per row) a multiple of 4, nout a multiple of 4 (16 for sgemm), byte offsets 16-aligned.
 * Both wasm modules also hold `sgemm`, a float32 f32x4 GEMM for the real-input first layer.
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

import { assemble, funcBody, I32, I64, V128, op, WA } from '../wasm/asm';
import type { WasmMemory, WasmModule } from '../wasm/asm';
import { popcount32 } from './popcount';

/**
 * sgemm(pp, npix, kq, wp, noutp, op): out[p][o] = Σ_q patch[p][q]·w[q][o] in float32 (f32x4, 16 outputs per
 * pass; noutp a multiple of 16; patch rows of kq floats, w [kq][noutp], out [npix][noutp]). Used by the
 * real-input first layer (w = ±1).
 */
function sgemmBody(): number[] {
  // params: 0 pp, 1 npix, 2 kq, 3 wp, 4 noutp, 5 op; locals: 6 p, 7 o, 8 q, 9 prow, 10 wq, 11 orow, 12..15 acc, 16 x
  const [P, NPIX, KQ, WP, NOUT, OP, p, o, q, prow, wq, orow] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const acc = [12, 13, 14, 15];
  const x = 16;
  const body: number[] = [];
  const e = (...parts: number[][]) => parts.forEach((b) => body.push(...b));
  e(op.i32c(0), op.set(p), op.get(P), op.set(prow), op.get(OP), op.set(orow));
  e(op.block, op.loop);
  {
    e(op.i32c(0), op.set(o));
    e(op.block, op.loop);
    {
      for (const a of acc) e(op.v128const0, op.set(a));
      // wq = wp + 4·o ; q = 0
      e(op.get(WP), op.get(o), op.i32c(2), op.i32shl, op.i32add, op.set(wq), op.i32c(0), op.set(q));
      e(op.block, op.loop);
      {
        e(op.get(prow), op.get(q), op.i32c(2), op.i32shl, op.i32add, op.f32load(), op.f32x4splat, op.set(x));
        acc.forEach((a, r) => e(op.get(a), op.get(x), op.get(wq), op.v128load(16 * r), op.f32x4mul, op.f32x4add, op.set(a)));
        e(op.get(wq), op.get(NOUT), op.i32c(2), op.i32shl, op.i32add, op.set(wq));
        e(op.get(q), op.i32c(1), op.i32add, op.tee(q), op.get(KQ), op.i32ltu, op.brIf(0));
      }
      e(op.end, op.end);
      acc.forEach((a, r) => e(op.get(orow), op.get(o), op.i32c(2), op.i32shl, op.i32add, op.get(a), op.v128store(16 * r)));
      e(op.get(o), op.i32c(16), op.i32add, op.tee(o), op.get(NOUT), op.i32ltu, op.brIf(0));
    }
    e(op.end, op.end);
    e(op.get(prow), op.get(KQ), op.i32c(2), op.i32shl, op.i32add, op.set(prow));
    e(op.get(orow), op.get(NOUT), op.i32c(2), op.i32shl, op.i32add, op.set(orow));
    e(op.get(p), op.i32c(1), op.i32add, op.tee(p), op.get(NPIX), op.i32ltu, op.brIf(0));
  }
  e(op.end, op.end);
  return funcBody([[6, I32], [5, V128]], body);
}

/**
 * Builds the module: export "mem" (memory, 1 page to start), export "bgemm"(pp, npix, kpBytes, wp, nout, op)
 * with `simd` choosing the v128 inner loop (16 bytes per step) or the i64 one (8 bytes per step). Blocked
 * 2 pixels × 4 kernel rows per pass (8 accumulators: each loaded word is used twice or four times), so it
 * reads and writes ceil(npix/2)·2 rows: callers zero one spare patch row and leave one spare output row.
 */
function buildModule(simd: boolean): Uint8Array {
  // params: 0 pp, 1 npix, 2 kpBytes, 3 wp, 4 nout, 5 op
  // locals: 6 p, 7 o, 8 k, 9 prow, 10 w0, 11 orow, 12..19 acc (i64 or v128) [pixel j, row r] = 12 + 4j + r,
  //         20 x0, 21 x1, 22 wv
  const [P, NPIX, KB, WP, NOUT, OP, p, o, k, prow, w0, orow] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const acc = (j: number, r: number) => 12 + 4 * j + r;
  const xs = [20, 21];
  const wv = 22;
  const AT = simd ? V128 : I64;
  const step = simd ? 16 : 8;
  const body: number[] = [];
  const e = (...parts: number[][]) => parts.forEach((b) => body.push(...b));
  const load = simd ? op.v128load() : op.i64load();
  e(op.i32c(0), op.set(p), op.get(P), op.set(prow), op.get(OP), op.set(orow));
  e(op.block, op.loop); // per 2 pixels
  {
    e(op.i32c(0), op.set(o), op.get(WP), op.set(w0));
    e(op.block, op.loop); // per 4 kernel rows
    {
      for (let a = 0; a < 8; a++) e(simd ? op.v128const0 : op.i64c(0), op.set(12 + a));
      e(op.i32c(0), op.set(k));
      e(op.block, op.loop); // per step of the row
      {
        e(op.get(prow), op.get(k), op.i32add, load, op.set(xs[0]));
        e(op.get(prow), op.get(KB), op.i32add, op.get(k), op.i32add, load, op.set(xs[1]));
        for (let r = 0; r < 4; r++) {
          e(op.get(w0), op.get(k), op.i32add);
          if (r > 0) e(op.get(KB), op.i32c(r), op.i32mul, op.i32add);
          e(load, op.set(wv));
          for (let j = 0; j < 2; j++) {
            const a = acc(j, r);
            e(op.get(a), op.get(xs[j]), op.get(wv));
            if (simd) e(op.v128xor, op.i8x16popcnt, op.i16x8extaddU, op.i16x8add, op.set(a));
            else e(op.i64xor, op.i64popcnt, op.i64add, op.set(a));
          }
        }
        e(op.get(k), op.i32c(step), op.i32add, op.tee(k), op.get(KB), op.i32ltu, op.brIf(0));
      }
      e(op.end, op.end);
      for (let j = 0; j < 2; j++)
        for (let r = 0; r < 4; r++) {
          const a = acc(j, r);
          // address orow + j·4·nout + 4·o, offset 4r
          e(op.get(orow), op.get(o), op.i32c(2), op.i32shl, op.i32add);
          if (j > 0) e(op.get(NOUT), op.i32c(2), op.i32shl, op.i32add);
          if (simd) {
            e(op.get(a), op.i32x4extaddU, op.tee(wv));
            e(op.i32x4lane(0), op.get(wv), op.i32x4lane(1), op.i32add, op.get(wv), op.i32x4lane(2), op.i32add, op.get(wv), op.i32x4lane(3), op.i32add);
          } else e(op.get(a), op.i32wrap);
          e(op.i32store(4 * r));
        }
      e(op.get(w0), op.get(KB), op.i32c(2), op.i32shl, op.i32add, op.set(w0));
      e(op.get(o), op.i32c(4), op.i32add, op.tee(o), op.get(NOUT), op.i32ltu, op.brIf(0));
    }
    e(op.end, op.end);
    e(op.get(prow), op.get(KB), op.i32c(1), op.i32shl, op.i32add, op.set(prow));
    e(op.get(orow), op.get(NOUT), op.i32c(3), op.i32shl, op.i32add, op.set(orow));
    e(op.get(p), op.i32c(2), op.i32add, op.tee(p), op.get(NPIX), op.i32ltu, op.brIf(0));
  }
  e(op.end, op.end);
  const params = new Array(6).fill(I32);
  return assemble({
    funcs: [
      { name: 'bgemm', params, body: funcBody([[6, I32], [8, AT], [3, AT]], body) },
      { name: 'sgemm', params, body: sgemmBody() },
    ],
    memory: { export: { pages: 1 } },
  });
}

// ---------------------------------------------------------------- implementations

class WasmKernel implements BinaryKernel {
  private top = 16;
  private readonly memory: WasmMemory;
  private readonly fn: (pp: number, npix: number, kb: number, wp: number, nout: number, op: number) => void;
  private readonly sfn: (pp: number, npix: number, kq: number, wp: number, nout: number, op: number) => void;
  constructor(readonly name: 'simd' | 'i64', module: WasmModule) {
    const inst = new WA!.Instance(module, {});
    this.memory = inst.exports.mem as WasmMemory;
    this.fn = inst.exports.bgemm as WasmKernel['fn'];
    this.sfn = inst.exports.sgemm as WasmKernel['sfn'];
  }
  sgemm(pp: number, npix: number, kq: number, wp: number, nout: number, o: number): void {
    if (npix <= 0 || nout <= 0 || kq <= 0) return;
    this.sfn(pp, npix, kq, wp, nout, o);
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
    this.fn(pp, npix, kp * 4, wp, nout, o);
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
    for (let p = 0; p < npix; p++) {
      const pr = pw + p * kp;
      for (let o = 0; o < nout; o++) {
        const wr = ww + o * kp;
        let acc = 0;
        for (let k = 0; k < kp; k++) acc += popcount32(m[pr + k] ^ m[wr + k]);
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

const modules: Partial<Record<'simd' | 'i64', WasmModule | null>> = {};
function moduleFor(name: 'simd' | 'i64'): WasmModule | null {
  if (modules[name] === undefined) {
    const bytes = buildModule(name === 'simd');
    modules[name] = WA!.validate(bytes) ? new WA!.Module(bytes) : null;
  }
  return modules[name] ?? null;
}

/** Kernels this runtime can run, fastest first. */
export function availableKernels(): KernelName[] {
  const out: KernelName[] = [];
  if (WA !== undefined) {
    if (moduleFor('simd')) out.push('simd');
    if (moduleFor('i64')) out.push('i64');
  }
  out.push('js');
  return out;
}

/** A fresh kernel with its own memory; `name` defaults to the fastest available. Throws if `name` is unavailable. */
export function createKernel(name?: KernelName): BinaryKernel {
  const avail = availableKernels();
  const pick = name ?? avail[0];
  if (!avail.includes(pick)) throw new Error(`Binary kernel '${pick}' is not available here (available: ${avail.join(', ')}).`);
  if (pick === 'js') return new JsKernel();
  return new WasmKernel(pick, moduleFor(pick)!);
}
