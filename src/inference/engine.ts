/**
 * The fused packed-inference engine: one WebAssembly module generated per model, in which every stage runs
 * without JS glue.
 *
 *   - No im2col. Each layer's input lives in linear memory as a *padded* image: bits [Hp][Wp][ceil(inC/32) words]
 *     (binary stages; unused high bits 0 in both input and kernel, so they XOR to 0) or float32 [Hp][Wp][inC] (the
 *     real first layer). The padding border holds 0-bits (= −1 for binary inputs, corrected exactly below) or 0.0
 *     (real input, exact as is). A patch is then `kh` contiguous segments of kw·cw words, one per kernel row, `Wp·cw`
 *     words apart, so the GEMM reads the image in place: the address of each output pixel's patch comes from a table.
 *   - The GEMM of each layer is generated for its exact shape: the loop over the kernel row is fully unrolled with
 *     constant address offsets (16-byte loads, then 8- and 4-byte tails loaded with zeroed upper bytes), blocked
 *     P pixels × R kernel rows (each loaded word used R or P times). 'simd': v128.xor + i8x16.popcnt, summed in 8-bit
 *     lanes for up to 31 steps (≤ 248) before widening; 'i64': i64.xor + i64.popcnt; 'mix' (default): half of each
 *     row block on each, so the vector and the integer units work side by side. Output: popcount(patch XOR row).
 *   - The post-op of each layer is generated too (i32x4, 16 channels per step):
 *         y = A[pattern(p)][o] − 2·popcount             (A = nValid·inC + 2·Σ_{padded taps} popcount(w_tap);
 *                                                       pattern 0 = no padded tap, A = kh·kw·inC)
 *         y = max over the pool window                    (BinaryNet: max-pool before BN, exact on integers;
 *                                                       UNet: pool after BN+sign = max of sgn·y, the OR of the bits)
 *         bit = sgn[o]·y ≥ T[o]                           (BN+sign folded into an integer threshold:
 *                                                       y ≥ ceil(t), or −y ≥ ceil(−t) for a negative scale)
 *     and the 16 bits are packed with i8x16.bitmask straight into every consumer's padded image (graphs: at the
 *     channel offset of a concatenation, and at 4 positions for a 2× upsampling). Channels beyond outC get T = 2^30
 *     (never set). The last stage writes its integer y; JS applies the float32 BN.
 *   - The real first layer: a float32 f32x4 GEMM over its padded float image (the same summation order as
 *     src/xnor/gemm.ts' sgemm), then bit = sgn·y ≥ sgn·t in float32, as the JS reference does.
 *
 * Every GEMM and post function takes a range (pixels and kernel rows / channels), so the work can be split between
 * threads sharing one memory (FusedEngine with threads: 2: the worker_threads worker of worker.ts, scheduled as
 * threads.ts describes).
 *
 * All bytes go through src/wasm/asm.ts (its one opcode table and `assemble`); the padding correction, the kernel
 * tap popcounts and the real layer's ±1 weights come from src/xnor.
 */
import * as path from 'path';
import { assemble, funcBody, I32, I64, V128, op, WA } from '../wasm/asm';
import type { WasmMemory, WasmModule } from '../wasm/asm';
import { paddingTable, tapPopcounts, unpackKernel, words } from '../xnor';
import type { PackedSpec, PoolSpec } from './spec';
import { BATCH_CHUNK, ctrlLength, doneSlot, lastStageDone, readFinal, runImage, Slot, splitPlans, waitAtLeast, writeInput } from './threads';
import type { EnginePlan, FusedBuild, Run, Share, StageLayout, WorkerData } from './threads';

export type { EnginePlan, FusedBuild } from './threads';

/**
 * Binary GEMM flavour: 'simd' (v128, 2 pixels × 4 rows per block), 'i64' (scalar, 2 × 4), 'mix' (1 pixel × 8 rows,
 * 4 rows on v128 and 4 on scalar i64 at the same time; measured ~10% faster than 'simd' here).
 */
export type GemmMode = 'simd' | 'i64' | 'mix';

/** Block sizes of the binary GEMMs (for experiments): P pixels × R rows, RS of them on SIMD in 'mix'. */
export interface GemmTune {
  /** Pixels per block of the real first layer's float GEMM. */
  PR?: number;
  P?: number;
  R?: number;
  RS?: number;
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;
const T_NEVER = 1 << 30;

/** A function under construction: i32 params, then typed locals. */
class Fn {
  readonly code: number[] = [];
  private readonly types: number[] = [];
  constructor(readonly name: string, readonly nparams: number) {}
  local(t: number): number {
    this.types.push(t);
    return this.nparams + this.types.length - 1;
  }
  e(...parts: number[][]): void {
    for (const p of parts) for (const b of p) this.code.push(b);
  }
  body(): number[] {
    return funcBody(this.types.map((t) => [1, t] as [number, number]), this.code);
  }
}

/** Assembles functions (all i32 params, no results) over an imported memory env.mem of exactly `pages` pages. */
function assembleFns(fns: Fn[], pages: number, shared: boolean): Uint8Array {
  return assemble({
    funcs: fns.map((f) => ({ name: f.name, params: new Array(f.nparams).fill(I32), body: f.body() })),
    memory: { min: pages, max: shared ? pages : undefined, shared },
  });
}

// ------------------------------------------------------------------ GEMM generators

/** Geometry of one generated GEMM (all offsets in bytes). */
interface GemmGeom {
  /** int32 table: byte offset of each output pixel's patch (npixP entries). */
  tab: number;
  segs: number;
  segStride: number;
  segBytes: number;
  wOff: number;
  /** bytes per kernel row (segs·segBytes for binary; for the real GEMM: bytes per input step row = noutp·4). */
  KB: number;
  noutp: number;
  outOff: number;
  P: number;
  R: number;
}

/** The row split into loads of `big` bytes (16 or 8), then tails of 8 and 4 bytes (rows are whole 32-bit words). */
function rowSteps(g: GemmGeom, big: number): { xo: number; wo: number; size: number }[] {
  const steps: { xo: number; wo: number; size: number }[] = [];
  for (let s = 0; s < g.segs; s++) {
    let k = 0;
    for (const size of [big, 8, 4].filter((z) => z <= big))
      while (k + size <= g.segBytes && (size === big || g.segBytes - k < 2 * size)) {
        steps.push({ xo: s * g.segStride + k, wo: s * g.segBytes + k, size });
        k += size;
      }
    if (k !== g.segBytes) throw new Error(`rowSteps: segment of ${g.segBytes} bytes is not whole words`);
  }
  return steps;
}

/** Loads of 16/8/4 bytes as v128 (upper bytes zero: they XOR to 0) or as i64 (8/4 bytes, zero-extended). */
const vload = (size: number, off: number) => (size === 16 ? op.v128load(off) : size === 8 ? op.v128load64zero(off) : op.v128load32zero(off));
const iload = (size: number, off: number) => (size === 8 ? op.i64load(off) : op.i64load32u(off));

/** The loop variables of a generated GEMM (locals). */
interface GemmLoop {
  p: number;
  o: number;
  /** byte address of the current block's first weight row (or column) */
  wrow: number;
  /** byte address of the current pixel's output row */
  orow: number;
  /** b[j]: byte address of pixel p + j's patch */
  b: number[];
}

/**
 * The loop nest of every generated GEMM (params p0, p1, o0, o1): for p in [p0, p1) step P, with b[j] = tab[p + j]
 * and orow = outOff + p·noutp·4; for o in [o0, o1) step `R`, with wrow = wOff + o·wStride (wStride: weight bytes
 * per output: a row of KB bytes for the binary GEMMs, a 4-byte column for the float one). `body` emits one block.
 */
function emitGemmLoops(fn: Fn, g: GemmGeom, R: number, wStride: number, body: (l: GemmLoop) => void): void {
  const l: GemmLoop = { p: fn.local(I32), o: fn.local(I32), wrow: fn.local(I32), orow: fn.local(I32), b: [] };
  for (let j = 0; j < g.P; j++) l.b.push(fn.local(I32));
  const { p, o, wrow, orow, b } = l;
  const e = fn.e.bind(fn);
  e(op.get(0), op.set(p));
  e(op.block, op.loop);
  for (let j = 0; j < g.P; j++) e(op.get(p), op.i32c(2), op.i32shl, op.i32load(g.tab + 4 * j), op.set(b[j]));
  e(op.get(p), op.i32c(g.noutp * 4), op.i32mul, op.i32c(g.outOff), op.i32add, op.set(orow));
  e(op.get(2), op.set(o), op.get(2), op.i32c(wStride), op.i32mul, op.i32c(g.wOff), op.i32add, op.set(wrow));
  e(op.block, op.loop);
  body(l);
  e(op.get(wrow), op.i32c(R * wStride), op.i32add, op.set(wrow));
  e(op.get(o), op.i32c(R), op.i32add, op.tee(o), op.get(3), op.i32ltu, op.brIf(0));
  e(op.end, op.end);
  e(op.get(p), op.i32c(g.P), op.i32add, op.tee(p), op.get(1), op.i32ltu, op.brIf(0));
  e(op.end, op.end);
}

/**
 * bgemm_<i>(p0, p1, o0, o1): out[p][o] = popcount(patch(p) XOR w[o]) for p in [p0, p1) (step P) and
 * o in [o0, o1) (step R). Fully unrolled over the row.
 */
function genBgemm(fn: Fn, g: GemmGeom, mode: 'simd' | 'i64'): void {
  const { P, R } = g;
  const simd = mode === 'simd';
  const step = simd ? 16 : 8;
  const load = (size: number, off: number) => (simd ? vload(size, off) : iload(size, off));
  const steps = rowSteps(g, step);
  const chunk = simd ? 31 : steps.length;
  const e = fn.e.bind(fn);
  emitGemmLoops(fn, g, R, g.KB, ({ o, wrow, orow, b }) => {
    const acc = Array.from({ length: P }, () => Array.from({ length: R }, () => fn.local(simd ? V128 : I64)));
    const x = Array.from({ length: P }, () => fn.local(simd ? V128 : I64));
    const w = fn.local(simd ? V128 : I64);
    const sums = simd ? Array.from({ length: P }, () => Array.from({ length: R / 4 }, () => fn.local(V128))) : [];
    for (let c0 = 0; c0 < steps.length; c0 += chunk) {
      for (const row of acc) for (const a of row) e(simd ? op.v128const0 : op.i64c(0), op.set(a));
      for (const st of steps.slice(c0, c0 + chunk)) {
        for (let j = 0; j < P; j++) e(op.get(b[j]), load(st.size, st.xo), op.set(x[j]));
        for (let r = 0; r < R; r++) {
          e(op.get(wrow), load(st.size, r * g.KB + st.wo), op.set(w));
          for (let j = 0; j < P; j++) {
            e(op.get(acc[j][r]), op.get(x[j]), op.get(w));
            if (simd) e(op.v128xor, op.i8x16popcnt, op.i8x16add, op.set(acc[j][r]));
            else e(op.i64xor, op.i64popcnt, op.i64add, op.set(acc[j][r]));
          }
        }
      }
      if (simd) emitRowSums(e, acc, sums, R / 4, x[0], w, c0 > 0);
    }
    for (let j = 0; j < P; j++) {
      // address orow + j·noutp·4 + o·4
      const addr = () => e(op.get(orow), op.get(o), op.i32c(2), op.i32shl, op.i32add);
      if (simd) for (let q = 0; q < R / 4; q++) addr(), e(op.get(sums[j][q]), op.v128store(j * g.noutp * 4 + 16 * q));
      else for (let r = 0; r < R; r++) addr(), e(op.get(acc[j][r]), op.i32wrap, op.i32store(j * g.noutp * 4 + 4 * r));
    }
  });
}

/**
 * The end of a chunk of SIMD popcount steps: for each pixel j and group q of 4 kernel rows, the i8x16 counters
 * acc[j][4q..4q+3] become one i32x4 [Σ acc_r0, Σ acc_r1, Σ acc_r2, Σ acc_r3] (widen, then transpose-add:
 * g01 = pairsum(e0, e1), g23 = pairsum(e2, e3), pairsum(g01, g23)), added to sums[j][q] when `accumulate`.
 * t0 and t1 are v128 scratch locals; acc[j][4q] is reused as a third.
 */
function emitRowSums(e: (...parts: number[][]) => void, acc: number[][], sums: number[][], groups: number, t0: number, t1: number, accumulate: boolean): void {
  const lo = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
  const hi = lo.map((l) => l + 4);
  for (let j = 0; j < acc.length; j++)
    for (let q = 0; q < groups; q++) {
      const widen = (r: number) => e(op.get(acc[j][4 * q + r]), op.i16x8extaddU, op.i32x4extaddU);
      widen(0), widen(1), e(op.set(t1), op.set(t0));
      e(op.get(t0), op.get(t1), op.shuffle(lo), op.get(t0), op.get(t1), op.shuffle(hi), op.i32x4add, op.set(acc[j][4 * q]));
      widen(2), widen(3), e(op.set(t1), op.set(t0));
      e(op.get(t0), op.get(t1), op.shuffle(lo), op.get(t0), op.get(t1), op.shuffle(hi), op.i32x4add, op.set(t1));
      e(op.get(acc[j][4 * q]), op.get(t1), op.shuffle(lo), op.get(acc[j][4 * q]), op.get(t1), op.shuffle(hi), op.i32x4add);
      if (accumulate) e(op.get(sums[j][q]), op.i32x4add);
      e(op.set(sums[j][q]));
    }
}

/**
 * 'mix': the same GEMM with the first RS rows of each block on SIMD (v128 xor + i8x16.popcnt) and the other
 * R − RS rows on scalar i64 (xor + popcnt), so the vector and the integer units work at the same time.
 */
function genBgemmMix(fn: Fn, g: GemmGeom, RS: number): void {
  const { P, R } = g;
  const RI = R - RS;
  const steps = rowSteps(g, 16);
  const chunk = 31;
  const e = fn.e.bind(fn);
  emitGemmLoops(fn, g, R, g.KB, ({ o, wrow, orow, b }) => {
    const accV = Array.from({ length: P }, () => Array.from({ length: RS }, () => fn.local(V128)));
    const accI = Array.from({ length: P }, () => Array.from({ length: RI }, () => fn.local(I64)));
    const x = Array.from({ length: P }, () => fn.local(V128));
    const xl = Array.from({ length: P }, () => [fn.local(I64), fn.local(I64)]);
    const w = fn.local(V128);
    const wi = fn.local(I64);
    const sums = Array.from({ length: P }, () => Array.from({ length: RS / 4 }, () => fn.local(V128)));
    for (const row of accI) for (const a of row) e(op.i64c(0), op.set(a));
    for (let c0 = 0; c0 < steps.length; c0 += chunk) {
      for (const row of accV) for (const a of row) e(op.v128const0, op.set(a));
      for (const st of steps.slice(c0, c0 + chunk)) {
        // i64 halves: 16 bytes → two 8-byte loads; tails → one load of 8 or 4 bytes
        const halves = st.size === 16 ? [[8, 0], [8, 8]] : [[st.size, 0]];
        for (let j = 0; j < P; j++) e(op.get(b[j]), vload(st.size, st.xo), op.set(x[j]));
        for (let j = 0; j < P; j++) halves.forEach(([z, off], h) => e(op.get(b[j]), iload(z, st.xo + off), op.set(xl[j][h])));
        for (let r = 0; r < Math.max(RS, RI); r++) {
          if (r < RS) {
            e(op.get(wrow), vload(st.size, r * g.KB + st.wo), op.set(w));
            for (let j = 0; j < P; j++) e(op.get(accV[j][r]), op.get(x[j]), op.get(w), op.v128xor, op.i8x16popcnt, op.i8x16add, op.set(accV[j][r]));
          }
          if (r < RI)
            for (const [h, [z, off]] of halves.entries()) {
              e(op.get(wrow), iload(z, (RS + r) * g.KB + st.wo + off), op.set(wi));
              for (let j = 0; j < P; j++) e(op.get(accI[j][r]), op.get(xl[j][h]), op.get(wi), op.i64xor, op.i64popcnt, op.i64add, op.set(accI[j][r]));
            }
        }
      }
      emitRowSums(e, accV, sums, RS / 4, x[0], w, c0 > 0);
    }
    for (let j = 0; j < P; j++) {
      const addr = () => e(op.get(orow), op.get(o), op.i32c(2), op.i32shl, op.i32add);
      for (let q = 0; q < RS / 4; q++) addr(), e(op.get(sums[j][q]), op.v128store(j * g.noutp * 4 + 16 * q));
      for (let r = 0; r < RI; r++) addr(), e(op.get(accI[j][r]), op.i32wrap, op.i32store(j * g.noutp * 4 + 4 * (RS + r)));
    }
  });
}

/**
 * sgemm_<i>(p0, p1, o0, o1): out[p][o] = Σ_q x_p[q]·w[q][o] in float32, 16 outputs × P pixels per pass,
 * q in the patch order (ky, kx, c), accumulated from 0 as src/xnor's sgemm (kernels/xnor.ts) does. g.KB = noutp·4.
 */
function genSgemm(fn: Fn, g: GemmGeom, kwc: number): void {
  const { P } = g;
  const e = fn.e.bind(fn);
  emitGemmLoops(fn, g, 16, 4, ({ o, wrow, orow, b }) => {
    const acc = Array.from({ length: P }, () => Array.from({ length: 4 }, () => fn.local(V128)));
    const x = Array.from({ length: P }, () => fn.local(V128));
    const w = fn.local(V128);
    for (const row of acc) for (const a of row) e(op.v128const0, op.set(a));
    const nq = g.segs * kwc;
    for (let q = 0; q < nq; q++) {
      const s = Math.floor(q / kwc), k = q % kwc;
      for (let j = 0; j < P; j++) e(op.get(b[j]), op.f32load(s * g.segStride + 4 * k), op.f32x4splat, op.set(x[j]));
      for (let r = 0; r < 4; r++) {
        e(op.get(wrow), op.v128load(q * g.KB + 16 * r), op.set(w));
        for (let j = 0; j < P; j++) e(op.get(acc[j][r]), op.get(x[j]), op.get(w), op.f32x4mul, op.f32x4add, op.set(acc[j][r]));
      }
    }
    for (let j = 0; j < P; j++)
      for (let r = 0; r < 4; r++) e(op.get(orow), op.get(o), op.i32c(2), op.i32shl, op.i32add, op.get(acc[j][r]), op.v128store(j * g.noutp * 4 + 16 * r));
  });
}

/** Geometry of one generated post-op. */
interface PostGeom {
  /** int32 [nq]: conv pixel index of each output pixel's pool window (top-left). */
  srcTab: number;
  /**
   * int32 [nq][K]: byte addresses of each output pixel's K destinations (its bits in the consumers' padded images,
   * at their channel offsets; several for skips and upsampling), or of its int32 y row (last stage, K = 1).
   */
  dstTab: number;
  K: number;
  /** conv-pixel index offsets of the window's pixels. */
  window: number[];
  /** Pool after BN + sign (graphs): max of sgn·y over the window, i.e. OR of the bits; else max of y (before BN). */
  afterSign: boolean;
  noutp: number;
  outOff: number;
  /** binary: int32 [convPix]: byte address of each conv pixel's A row. */
  patTab: number;
  /** threshold: sgn and T (int32 or float32) [noutp]; -1 for the last stage (writes y). */
  sgnOff: number;
  tOff: number;
  real: boolean;
}

/** post_<i>(q0, q1, c0, c1): output pixels [q0, q1), channels [c0, c1) (multiples of 16); see the module comment. */
function genPost(fn: Fn, g: PostGeom): void {
  const q = fn.local(I32), src = fn.local(I32), o4 = fn.local(I32), bm = fn.local(I32);
  const dst = Array.from({ length: g.K }, () => fn.local(I32));
  const pcRow = fn.local(I32);
  const aRow = g.real ? [] : g.window.map(() => fn.local(I32));
  const m = fn.local(V128);
  const cs = [fn.local(V128), fn.local(V128), fn.local(V128), fn.local(V128)];
  const e = fn.e.bind(fn);
  const final = g.sgnOff < 0;
  const rowB = g.noutp * 4;
  const mul = g.real ? op.f32x4mul : op.i32x4mul;
  e(op.get(0), op.set(q));
  e(op.block, op.loop);
  for (let k = 0; k < g.K; k++) e(op.get(q), op.i32c(4 * g.K), op.i32mul, op.i32load(g.dstTab + 4 * k), op.set(dst[k]));
  e(op.get(q), op.i32c(2), op.i32shl, op.i32load(g.srcTab), op.tee(src));
  e(op.i32c(rowB), op.i32mul, op.i32c(g.outOff), op.i32add, op.set(pcRow));
  if (!g.real) g.window.forEach((d, i) => e(op.get(src), op.i32c(2), op.i32shl, op.i32load(g.patTab + 4 * d), op.set(aRow[i])));
  e(op.get(2), op.i32c(2), op.i32shl, op.set(o4));
  e(op.block, op.loop);
  for (let v = 0; v < 4; v++) {
    g.window.forEach((d, i) => {
      if (g.real) e(op.get(pcRow), op.get(o4), op.i32add, op.v128load(d * rowB + 16 * v));
      else {
        e(op.get(aRow[i]), op.get(o4), op.i32add, op.v128load(16 * v));
        e(op.get(pcRow), op.get(o4), op.i32add, op.v128load(d * rowB + 16 * v), op.i32c(1), op.i32x4shl, op.i32x4sub);
      }
      if (g.afterSign) e(op.get(o4), op.v128load(g.sgnOff + 16 * v), mul);
      if (i > 0) e(op.get(m), g.real ? op.f32x4max : op.i32x4maxs);
      e(op.set(m));
    });
    if (final) e(op.get(dst[0]), op.get(o4), op.i32add, op.get(m), op.v128store(16 * v));
    else {
      e(op.get(m));
      if (!g.afterSign) e(op.get(o4), op.v128load(g.sgnOff + 16 * v), mul);
      e(op.get(o4), op.v128load(g.tOff + 16 * v), g.real ? op.f32x4ge : op.i32x4ges, op.set(cs[v]));
    }
  }
  if (!final) {
    e(op.get(cs[0]), op.get(cs[1]), op.i16x8narrow, op.get(cs[2]), op.get(cs[3]), op.i16x8narrow, op.i8x16narrow, op.i8x16bitmask, op.set(bm));
    for (let k = 0; k < g.K; k++) e(op.get(dst[k]), op.get(o4), op.i32c(5), op.i32shru, op.i32add, op.get(bm), op.i32store16(0));
  }
  e(op.get(o4), op.i32c(64), op.i32add, op.tee(o4), op.get(3), op.i32c(2), op.i32shl, op.i32ltu, op.brIf(0));
  e(op.end, op.end);
  e(op.get(q), op.i32c(1), op.i32add, op.tee(q), op.get(1), op.i32ltu, op.brIf(0));
  e(op.end, op.end);
}

// ------------------------------------------------------------------ engine

/** Where one stage's output pixel (qy, qx) goes: a consumer stage's padded image (or the final buffer: -1). */
interface Dest {
  stage: number;
  /** channel offset in the consumer's input (concatenation), a multiple of 16. */
  chanOff: number;
  map: (qy: number, qx: number) => [number, number][];
}

interface Route {
  pool: PoolSpec | null;
  afterSign: boolean;
  outH: number;
  outW: number;
  dests: Dest[];
}

/**
 * Per stage: its pool and where its bits go. Sequential specs: to the next stage. Graph specs (graph.ts): through
 * OR-pools (fused as max of sgn·y), upsampling (several destinations per pixel) and concatenations (channel offsets)
 * to every consuming conv. Throws (with the reason) what the fused engine cannot do.
 */
function routes(spec: PackedSpec): Route[] {
  const S = spec.stages;
  const id = (qy: number, qx: number): [number, number][] => [[qy, qx]];
  if (!spec.graph)
    return S.map((s, i) => ({
      pool: s.pools[0] ?? null,
      afterSign: false,
      outH: s.outH,
      outW: s.outW,
      dests: [{ stage: i + 1 < S.length ? i + 1 : -1, chanOff: 0, map: id }],
    }));
  const { nodes, output } = spec.graph;
  const consumers = nodes.map((_, i) => nodes.map((n, j) => (n.inputs.includes(i) ? j : -1)).filter((j) => j >= 0));
  return S.map((s, si) => {
    const ni = nodes.findIndex((n) => n.op === 'conv' && n.stage === si);
    let from = ni;
    let pool: PoolSpec | null = null;
    const cs = consumers[ni];
    if (cs.length === 1 && nodes[cs[0]].op === 'orpool') {
      pool = nodes[cs[0]].pool!;
      from = cs[0];
    }
    const dests: Dest[] = [];
    const resolve = (n: number, chanOff: number, map: Dest['map']) => {
      if (n === output) dests.push({ stage: -1, chanOff, map });
      for (const c of consumers[n]) {
        const cn = nodes[c];
        if (cn.op === 'conv') dests.push({ stage: cn.stage!, chanOff, map });
        else if (cn.op === 'upsample') {
          const [fy, fx] = cn.up!;
          resolve(c, chanOff, (qy, qx) => map(qy, qx).flatMap(([y, x]) => {
            const out: [number, number][] = [];
            for (let dy = 0; dy < fy; dy++) for (let dx = 0; dx < fx; dx++) out.push([y * fy + dy, x * fx + dx]);
            return out;
          }));
        } else if (cn.op === 'concat') {
          const k = cn.inputs.indexOf(n);
          if (cn.inputs.indexOf(n, k + 1) >= 0) throw new Error(`${cn.name}: the same input twice`);
          let off = 0;
          for (const j of cn.inputs.slice(0, k)) {
            if (nodes[j].c % 16 !== 0) throw new Error(`${cn.name}: an input of ${nodes[j].c} channels (not a multiple of 16) before others`);
            off += nodes[j].c;
          }
          resolve(c, chanOff + off, map);
        } else throw new Error(`${cn.name}: ${cn.op} of a tensor used elsewhere too`);
      }
    };
    resolve(from, 0, id);
    if (s.input === 'real' && pool) throw new Error(`stage ${s.name}: pooling after the real layer`);
    return { pool, afterSign: pool !== null, outH: nodes[from].h, outW: nodes[from].w, dests };
  });
}

/** Whether the fused engine handles this spec (otherwise PackedModel uses the reference path): null, or why not. */
export function fusedSupports(spec: PackedSpec): string | null {
  if (spec.stages.length < 2) return 'a single stage';
  for (const [i, s] of spec.stages.entries()) {
    if (s.pools.length > 1) return `stage ${s.name}: more than one pool`;
    if (s.input === 'real' && s.pools.length > 0) return `stage ${s.name}: pooling after the real layer`;
    if (s.input === 'real' && i > 0) return `stage ${s.name}: real input after the first stage`;
  }
  try {
    const rs = routes(spec);
    for (const [i, r] of rs.entries()) {
      const fin = r.dests.some((d) => d.stage < 0);
      if (fin && r.dests.length > 1) return `stage ${spec.stages[i].name}: the output is also used inside the model`;
      if (!fin && spec.stages[i].post.kind !== 'threshold') return `stage ${spec.stages[i].name}: no threshold`;
      if (fin && i !== rs.length - 1) return `stage ${spec.stages[i].name}: the output stage is not the last`;
    }
    if (!rs[rs.length - 1].dests.some((d) => d.stage < 0)) return 'the last stage is not the output';
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/**
 * Lays out memory for `spec` and generates its module. `mode` picks the binary GEMM; `shared` declares the
 * imported memory shared (for worker threads). With `codegen` false only the memory layout is made (`bytes` is
 * empty; `layout` describes every stage for an engine that runs the same memory with its own code: native.ts).
 */
export function buildFused(spec: PackedSpec, mode: GemmMode, shared = false, tune: GemmTune = {}, codegen = true): FusedBuild {
  const why = fusedSupports(spec);
  if (why) throw new Error(`buildFused: unsupported model (${why})`);
  let top = 64;
  const alloc = (bytes: number) => {
    const off = top;
    top += roundUp(Math.max(bytes, 16), 64);
    return off;
  };
  const init: [number, Uint8Array][] = [];
  const put = (a: Int32Array | Float32Array | Uint32Array) => {
    const off = alloc(a.byteLength);
    init.push([off, new Uint8Array(a.buffer, a.byteOffset, a.byteLength)]);
    return off;
  };
  const S = spec.stages;
  const RT = routes(spec);
  // padded input images: stage i's input [Hp][Wp][pixel]
  const img = S.map((s) => {
    const Hp = Math.max(s.inH + s.padTop, (s.convH - 1) * s.strideH + s.kh);
    const Wp = Math.max(s.inW + s.padLeft, (s.convW - 1) * s.strideW + s.kw);
    const pixB = s.input === 'real' ? s.inC * 4 : words(s.inC) * 4;
    return { Hp, Wp, pixB, off: alloc(Hp * Wp * pixB) };
  });
  const fns: Fn[] = [];
  const plans: EnginePlan[] = [];
  const layout: StageLayout[] = [];
  let final: FusedBuild['final'] | null = null;
  S.forEach((s, i) => {
    const im = img[i];
    const npix = s.convH * s.convW;
    const dense = npix === 1;
    const mix = mode === 'mix';
    const P = s.input === 'real' ? tune.PR ?? 1 : tune.P ?? (dense || mix ? 1 : 2);
    const R = s.input === 'real' ? 16 : tune.R ?? (dense || mix ? 8 : 4);
    if (s.input === 'binary' && (16 % R !== 0 || (mode !== 'i64' && R % 4 !== 0))) throw new Error(`buildFused: R = ${R} must divide 16 (and be a multiple of 4 for SIMD)`);
    const npixP = roundUp(npix, P);
    const noutp = roundUp(s.outC, 16);
    const kk = s.kh * s.kw;
    const tabA = new Int32Array(npixP);
    for (let p = 0; p < npixP; p++) {
      const pp = p < npix ? p : 0;
      const oy = Math.floor(pp / s.convW), ox = pp % s.convW;
      tabA[p] = im.off + (oy * s.strideH * im.Wp + ox * s.strideW) * im.pixB;
    }
    const tab = put(tabA);
    const outOff = alloc(npixP * noutp * 4);
    let segs = s.kh, segBytes = s.kw * im.pixB;
    const segStride = im.Wp * im.pixB;
    if (segStride === segBytes) (segBytes *= segs), (segs = 1);
    const fnG = new Fn(`gemm${i}`, 4);
    let gLayout: GemmGeom;
    if (s.input === 'real') {
      const wf = unpackKernel(s.weights, { kh: s.kh, kw: s.kw, cin: s.inC, cout: s.outC }, noutp);
      gLayout = { tab, segs: s.kh, segStride, segBytes: s.kw * im.pixB, wOff: put(wf), KB: noutp * 4, noutp, outOff, P, R };
      if (codegen) genSgemm(fnG, gLayout, s.kw * s.inC);
    } else {
      const cw = words(s.inC);
      const cwp = im.pixB / 4;
      const KW = kk * cwp;
      const wb = new Uint32Array(noutp * KW);
      for (let o = 0; o < s.outC; o++)
        for (let pos = 0; pos < kk; pos++) for (let j = 0; j < cw; j++) wb[o * KW + pos * cwp + j] = s.weights[(o * kk + pos) * cw + j];
      const gg = { tab, segs, segStride, segBytes, wOff: put(wb), KB: KW * 4, noutp, outOff, P, R };
      gLayout = gg;
      if (codegen) {
        if (mode === 'mix') genBgemmMix(fnG, gg, tune.RS ?? R / 2);
        else genBgemm(fnG, gg, mode);
      }
    }
    fns.push(fnG);

    // post-op tables
    const rt = RT[i];
    const pool = rt.pool;
    const window: number[] = [];
    if (pool) for (let dy = 0; dy < pool.size[0]; dy++) for (let dx = 0; dx < pool.size[1]; dx++) window.push(dy * s.convW + dx);
    else window.push(0);
    const nq = rt.outH * rt.outW;
    const srcA = new Int32Array(nq);
    const last = rt.dests.some((d) => d.stage < 0);
    const K = rt.dests.reduce((n, d) => n + d.map(0, 0).length, 0);
    const dstA = new Int32Array(nq * K);
    let finalOff = 0;
    if (last) finalOff = alloc(nq * noutp * 4);
    for (let qy = 0; qy < rt.outH; qy++)
      for (let qx = 0; qx < rt.outW; qx++) {
        const qi = qy * rt.outW + qx;
        srcA[qi] = pool ? qy * pool.stride[0] * s.convW + qx * pool.stride[1] : qi;
        let k = 0;
        for (const d of rt.dests)
          for (const [y, x] of d.map(qy, qx)) {
            if (d.stage < 0) dstA[qi * K + k++] = finalOff + qi * noutp * 4;
            else {
              const n = S[d.stage];
              const ni = img[d.stage];
              if (y >= n.inH || x >= n.inW) throw new Error(`buildFused: stage ${s.name} writes outside stage ${n.name}'s input`);
              dstA[qi * K + k++] = ni.off + ((y + n.padTop) * ni.Wp + x + n.padLeft) * ni.pixB + d.chanOff / 8;
            }
          }
      }
    let patTab = 0;
    if (s.input === 'binary') {
      // A[pattern][o] = nValid·inC + 2·Σ_{padded taps} popcount(w_tap) (src/xnor/conv.ts)
      const pad = paddingTable(s, tapPopcounts(s.weights, { kh: s.kh, kw: s.kw, cin: s.inC, cout: s.outC }), s.outC, noutp);
      const aOff = put(pad.A);
      patTab = put(Int32Array.from(pad.pattern, (id) => aOff + id * noutp * 4));
    }
    let sgnOff = -1, tOff = -1;
    const post = s.post;
    if (post.kind === 'threshold') {
      if (s.input === 'real') {
        const sg = new Float32Array(noutp).fill(1), st = new Float32Array(noutp).fill(Infinity);
        for (let o = 0; o < s.outC; o++) (sg[o] = post.neg[o] ? -1 : 1), (st[o] = post.neg[o] ? -post.t[o] : post.t[o]);
        sgnOff = put(sg), tOff = put(st);
      } else {
        const sg = new Int32Array(noutp).fill(1), T = new Int32Array(noutp).fill(T_NEVER);
        const clamp = (v: number) => Math.max(-T_NEVER, Math.min(T_NEVER, v));
        for (let o = 0; o < s.outC; o++) {
          sg[o] = post.neg[o] ? -1 : 1;
          // integer y: y ≥ t ⇔ y ≥ ceil(t);  y ≤ t ⇔ −y ≥ ceil(−t)
          T[o] = clamp(post.neg[o] ? Math.ceil(-post.t[o]) : Math.ceil(post.t[o]));
        }
        sgnOff = put(sg), tOff = put(T);
      }
    } else final = { off: finalOff, npix: nq, noutp, outC: s.outC };
    const fnP = new Fn(`post${i}`, 4);
    const pg: PostGeom = { srcTab: put(srcA), dstTab: put(dstA), K, window, afterSign: rt.afterSign, noutp, outOff, patTab, sgnOff, tOff, real: s.input === 'real' };
    if (codegen) genPost(fnP, pg);
    fns.push(fnP);
    const gl = gLayout;
    layout.push({
      real: s.input === 'real', npix, npixP, noutp, outC: s.outC, tab: gl.tab, segs: gl.segs, segStride: gl.segStride, segBytes: gl.segBytes,
      wOff: gl.wOff, KB: gl.KB, outOff, nq, srcTab: pg.srcTab, dstTab: pg.dstTab, K, window, afterSign: rt.afterSign, patTab, sgnOff, tOff, final: last,
    });
    // a float multiply-add costs about as much as 64 bit ones here (f32x4 vs xor+popcnt on 128 bits, measured order)
    const macs = npix * noutp * kk * (s.input === 'real' ? s.inC * 64 : im.pixB * 8);
    plans.push({ stage: i, gemm: fnG.name, post: fnP.name, npixP, P, noutp, R, nq, macs });
  });
  const pages = Math.ceil(top / 65536) + 1;
  const s0 = S[0];
  return {
    bytes: codegen ? assembleFns(fns, pages, shared) : new Uint8Array(0),
    pages,
    layout,
    init,
    plans,
    input: { off: img[0].off, H: s0.inH, W: s0.inW, C: s0.inC, Wp: img[0].Wp, padTop: s0.padTop, padLeft: s0.padLeft },
    final: final!,
  };
}

interface WorkerLike {
  unref(): void;
  terminate(): Promise<number>;
  on(ev: string, f: (...a: unknown[]) => void): void;
}

/** Whether this runtime can run the engine on 2 threads (worker_threads, SharedArrayBuffer, shared wasm memory). */
export function threadsAvailable(): boolean {
  try {
    if (typeof SharedArrayBuffer === 'undefined' || !WA?.Memory) return false;
    new WA.Memory({ initial: 1, maximum: 1, shared: true });
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a probe: does this runtime have worker threads?
    require('worker_threads');
    return true;
  } catch {
    return false;
  }
}

/** The worker's module (worker.ts), started with tsx's CommonJS hook so that it runs as TypeScript. */
function startWorker(data: WorkerData): WorkerLike {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when the threaded engine starts
  const { Worker } = require('worker_threads') as { Worker: new (file: string, o: object) => WorkerLike };
  const file = require.resolve(path.join(__dirname, 'worker'));
  const execArgv = /\.[cm]?ts$/.test(file) ? ['--require', require.resolve('tsx/cjs')] : [];
  return new Worker(file, { workerData: data, execArgv });
}

/**
 * A fused model instance: one memory, one module instance, and with `threads: 2` one worker thread sharing
 * the memory (each stage split by output channels into shares that both threads claim: threads.ts). Results are
 * identical either way (integer arithmetic; the real layer's float sums are per output channel and not split).
 */
export class FusedEngine {
  readonly memory: WasmMemory;
  private readonly fns: Record<string, Run>;
  readonly build: FusedBuild;
  /** 2 when a worker runs half of every stage (once it has started: see `ready`). */
  readonly threads: number;
  private worker: WorkerLike | null = null;
  private readonly ctrl: Int32Array | null = null;
  private readonly shares: [Share, Share][] = [];
  private inBuf: Float32Array | null = null;
  private outBuf: Int32Array | null = null;
  private seq = 0;

  constructor(spec: PackedSpec, readonly mode: GemmMode, threads = 1, tune: GemmTune = {}) {
    if (!WA || !WA.Memory) throw new Error('FusedEngine: WebAssembly is not available');
    this.threads = threads >= 2 && threadsAvailable() ? 2 : 1;
    const shared = this.threads === 2;
    this.build = buildFused(spec, mode, shared, tune);
    const b = this.build;
    this.memory = shared ? new WA.Memory({ initial: b.pages, maximum: b.pages, shared: true }) : new WA.Memory({ initial: b.pages });
    const u8 = new Uint8Array(this.memory.buffer);
    for (const [off, data] of b.init) u8.set(data, off);
    const mod: WasmModule = new WA.Module(b.bytes);
    const inst = new WA.Instance(mod, { env: { mem: this.memory } });
    this.fns = inst.exports as Record<string, Run>;
    if (shared) {
      this.shares = splitPlans(b.plans);
      this.ctrl = new Int32Array(new SharedArrayBuffer(4 * ctrlLength(this.shares.length)));
      this.inBuf = new Float32Array(new SharedArrayBuffer(4 * BATCH_CHUNK * b.input.H * b.input.W * b.input.C));
      this.outBuf = new Int32Array(new SharedArrayBuffer(4 * BATCH_CHUNK * b.final.npix * b.final.outC));
      const { bytes: _bytes, ...build } = b;
      try {
        const w = startWorker({
          mod, memory: this.memory, ctrlBuf: this.ctrl.buffer as SharedArrayBuffer, shares: this.shares, build,
          inBuf: this.inBuf.buffer as SharedArrayBuffer, outBuf: this.outBuf.buffer as SharedArrayBuffer,
        });
        w.unref();
        w.on('error', () => (this.worker = null));
        w.on('exit', () => (this.worker = null));
        this.worker = w;
      } catch {
        this.worker = null; // no worker: one thread
      }
    }
  }

  /** Whether the worker runs (it has started and set the ready slot). */
  private workerUp(): boolean {
    return this.ctrl !== null && this.worker !== null && Atomics.load(this.ctrl, Slot.ready) === 1;
  }

  /** Resolves when the worker (if any) is running; until then `forward` runs on one thread. */
  async ready(timeoutMs = 10000): Promise<boolean> {
    const t0 = Date.now();
    while (this.ctrl && Atomics.load(this.ctrl, Slot.ready) !== 1) {
      if (Date.now() - t0 > timeoutMs || !this.worker) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.ctrl !== null && this.worker !== null;
  }

  /** Stops the worker (the engine then runs on one thread). */
  dispose(): void {
    if (this.ctrl && this.worker) {
      Atomics.store(this.ctrl, Slot.seq, -1);
      Atomics.notify(this.ctrl, Slot.seq);
      void this.worker.terminate();
    }
    this.worker = null;
  }

  /**
   * Several images on 2 threads by whole images: the worker runs a second copy of the model in its own memory;
   * both threads claim images from a shared counter (no per-stage synchronisation). Returns each image's last-stage
   * integer outputs, or null when there is no running worker (the caller then runs `forward` per image).
   */
  forwardBatch(data: Float32Array, n: number): Int32Array[] | null {
    const ctrl = this.ctrl;
    if (!ctrl || !this.inBuf || !this.outBuf || !this.workerUp()) return null;
    const { H, W, C } = this.build.input;
    const per = H * W * C;
    const outLen = this.build.final.npix * this.build.final.outC;
    const res: Int32Array[] = [];
    for (let s0 = 0; s0 < n; s0 += BATCH_CHUNK) {
      const m = Math.min(BATCH_CHUNK, n - s0);
      this.inBuf.set(data.subarray(s0 * per, (s0 + m) * per));
      // the done counter before the claim counter: a worker still in the previous hand-over may claim (and finish) an
      // image of this one as soon as batchNext is 0, and its count must not be reset after that
      Atomics.store(ctrl, Slot.batchDone, 0);
      Atomics.store(ctrl, Slot.batchCount, m);
      Atomics.store(ctrl, Slot.batchMode, 1);
      Atomics.store(ctrl, Slot.batchNext, 0);
      Atomics.store(ctrl, Slot.seq, ++this.seq);
      Atomics.notify(ctrl, Slot.seq);
      for (let i = Atomics.add(ctrl, Slot.batchNext, 1); i < m; i = Atomics.add(ctrl, Slot.batchNext, 1)) {
        const y = this.forward(this.inBuf.subarray(i * per, (i + 1) * per), null, [], true);
        this.outBuf.set(y, i * outLen);
        Atomics.add(ctrl, Slot.batchDone, 1);
      }
      waitAtLeast(ctrl, Slot.batchDone, m, 10000 + 1000 * m, 'FusedEngine: the worker thread stopped responding');
      for (let i = 0; i < m; i++) res.push(this.outBuf.slice(i * outLen, (i + 1) * outLen));
    }
    return res;
  }

  /** Runs one image (NHWC float32, H·W·C values); returns the last stage's integer outputs [npix·outC]. */
  forward(image: Float32Array, timings: Record<string, number> | null, names: string[], serial = false): Int32Array {
    const b = this.build;
    writeInput(this.memory.buffer, b.input, image);
    let t0 = timings ? performance.now() : 0;
    const lap = (k: string) => {
      if (!timings) return;
      const t = performance.now();
      timings[k] = (timings[k] ?? 0) + t - t0;
      t0 = t;
    };
    const ctrl = this.ctrl;
    if (!serial && ctrl && this.workerUp()) {
      const seq = ++this.seq;
      Atomics.store(ctrl, Slot.batchMode, 0);
      const n = this.shares.length;
      for (let j = 0; j < n; j++) Atomics.store(ctrl, doneSlot(n, j), seq * 8);
      Atomics.store(ctrl, Slot.seq, seq);
      Atomics.notify(ctrl, Slot.seq);
      runImage(ctrl, this.fns, this.shares, seq, 0, timings ? (j: number) => lap(`${names[b.plans[j].stage]} stage (2 threads)`) : null);
      // wait for the last stage's shares (the worker may run one)
      waitAtLeast(ctrl, doneSlot(n, n - 1), lastStageDone(this.shares, seq), 10000, 'FusedEngine: the worker thread stopped responding');
      lap('wait for the worker');
    } else
      for (const pl of b.plans) {
        this.fns[pl.gemm](0, pl.npixP, 0, pl.noutp);
        lap(`${names[pl.stage]} conv`);
        this.fns[pl.post](0, pl.nq, 0, pl.noutp);
        lap(`${names[pl.stage]} post`);
      }
    const out = new Int32Array(b.final.npix * b.final.outC);
    readFinal(this.memory.buffer, b.final, out);
    return out;
  }
}
