/**
 * Code generation of the fused engine (engine.ts): the wasm functions of one model, each generated for its exact
 * shape by src/wasm/asm.ts' emitter. layout.ts decides where everything lives in memory and calls these.
 *
 *   - The GEMM of each layer: the loop over the kernel row fully unrolled with constant address offsets (16-byte
 *     loads, then 8- and 4-byte tails loaded with zeroed upper bytes), blocked P pixels × R kernel rows (each
 *     loaded word used R or P times). 'simd': v128.xor + i8x16.popcnt, summed in 8-bit lanes for up to 31 steps
 *     (≤ 248) before widening; 'i64': i64.xor + i64.popcnt; 'mix' (default): half of each row block on each, so the
 *     vector and the integer units work side by side. Output: popcount(patch XOR row).
 *   - The real first layer: a float32 f32x4 GEMM over its padded float image (the same summation order as
 *     src/xnor/gemm.ts' sgemm).
 *   - The post-op of each layer (i32x4, 16 channels per step):
 *         y = A[pattern(p)][o] − 2·popcount             (A = nValid·inC + 2·Σ_{padded taps} popcount(w_tap);
 *                                                       pattern 0 = no padded tap, A = kh·kw·inC)
 *         y = max over the pool window                    (BinaryNet: max-pool before BN, exact on integers;
 *                                                       UNet: pool after BN+sign = max of sgn·y, the OR of the bits)
 *         bit = sgn[o]·y ≥ T[o]                           (BN+sign folded into an integer threshold)
 *     and the 16 bits are packed with i8x16.bitmask straight into every consumer's padded image. The last stage
 *     writes its integer y. The real layer: bit = sgn·y ≥ sgn·t in float32, as the JS reference does.
 *
 * Every function takes a range (pixels and kernel rows / channels), so the work can be split between threads.
 */
import { assemble, funcBody, I32, I64, V128, op } from '../wasm/asm';
import type { StageLayout } from './threads';

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

/** A function under construction: i32 params, then typed locals. */
export class Fn {
  readonly code: number[] = [];
  private readonly types: number[] = [];
  constructor(
    readonly name: string,
    readonly nparams: number,
  ) {}
  local(t: number): number {
    this.types.push(t);
    return this.nparams + this.types.length - 1;
  }
  e(...parts: number[][]): void {
    for (const p of parts) for (const b of p) this.code.push(b);
  }
  body(): number[] {
    return funcBody(
      this.types.map((t) => [1, t] as [number, number]),
      this.code,
    );
  }
}

/** Assembles functions (all i32 params, no results) over an imported memory env.mem of exactly `pages` pages. */
export function assembleFns(fns: Fn[], pages: number, shared: boolean): Uint8Array {
  return assemble({
    funcs: fns.map((f) => ({ name: f.name, params: new Array(f.nparams).fill(I32), body: f.body() })),
    memory: { min: pages, max: shared ? pages : undefined, shared },
  });
}

// ------------------------------------------------------------------ GEMM generators

/** Geometry of one generated GEMM (all offsets in bytes): the stage's GEMM layout (threads.ts' StageLayout), blocked P × R. */
export type GemmGeom = Pick<
  StageLayout,
  'tab' | 'segs' | 'segStride' | 'segBytes' | 'wOff' | 'KB' | 'noutp' | 'outOff'
> & { P: number; R: number };

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
const vload = (size: number, off: number) =>
  size === 16 ? op.v128load(off) : size === 8 ? op.v128load64zero(off) : op.v128load32zero(off);
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
export function genBgemm(fn: Fn, g: GemmGeom, mode: 'simd' | 'i64'): void {
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
      if (simd) for (let q = 0; q < R / 4; q++) (addr(), e(op.get(sums[j][q]), op.v128store(j * g.noutp * 4 + 16 * q)));
      else for (let r = 0; r < R; r++) (addr(), e(op.get(acc[j][r]), op.i32wrap, op.i32store(j * g.noutp * 4 + 4 * r)));
    }
  });
}

/**
 * The end of a chunk of SIMD popcount steps: for each pixel j and group q of 4 kernel rows, the i8x16 counters
 * acc[j][4q..4q+3] become one i32x4 [Σ acc_r0, Σ acc_r1, Σ acc_r2, Σ acc_r3] (widen, then transpose-add:
 * g01 = pairsum(e0, e1), g23 = pairsum(e2, e3), pairsum(g01, g23)), added to sums[j][q] when `accumulate`.
 * t0 and t1 are v128 scratch locals; acc[j][4q] is reused as a third.
 */
function emitRowSums(
  e: (...parts: number[][]) => void,
  acc: number[][],
  sums: number[][],
  groups: number,
  t0: number,
  t1: number,
  accumulate: boolean,
): void {
  const lo = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
  const hi = lo.map((l) => l + 4);
  for (let j = 0; j < acc.length; j++)
    for (let q = 0; q < groups; q++) {
      const widen = (r: number) => e(op.get(acc[j][4 * q + r]), op.i16x8extaddU, op.i32x4extaddU);
      (widen(0), widen(1), e(op.set(t1), op.set(t0)));
      e(
        op.get(t0),
        op.get(t1),
        op.shuffle(lo),
        op.get(t0),
        op.get(t1),
        op.shuffle(hi),
        op.i32x4add,
        op.set(acc[j][4 * q]),
      );
      (widen(2), widen(3), e(op.set(t1), op.set(t0)));
      e(op.get(t0), op.get(t1), op.shuffle(lo), op.get(t0), op.get(t1), op.shuffle(hi), op.i32x4add, op.set(t1));
      e(
        op.get(acc[j][4 * q]),
        op.get(t1),
        op.shuffle(lo),
        op.get(acc[j][4 * q]),
        op.get(t1),
        op.shuffle(hi),
        op.i32x4add,
      );
      if (accumulate) e(op.get(sums[j][q]), op.i32x4add);
      e(op.set(sums[j][q]));
    }
}

/**
 * 'mix': the same GEMM with the first RS rows of each block on SIMD (v128 xor + i8x16.popcnt) and the other
 * R − RS rows on scalar i64 (xor + popcnt), so the vector and the integer units work at the same time.
 */
export function genBgemmMix(fn: Fn, g: GemmGeom, RS: number): void {
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
        const halves =
          st.size === 16
            ? [
                [8, 0],
                [8, 8],
              ]
            : [[st.size, 0]];
        for (let j = 0; j < P; j++) e(op.get(b[j]), vload(st.size, st.xo), op.set(x[j]));
        for (let j = 0; j < P; j++)
          halves.forEach(([z, off], h) => e(op.get(b[j]), iload(z, st.xo + off), op.set(xl[j][h])));
        for (let r = 0; r < Math.max(RS, RI); r++) {
          if (r < RS) {
            e(op.get(wrow), vload(st.size, r * g.KB + st.wo), op.set(w));
            for (let j = 0; j < P; j++)
              e(
                op.get(accV[j][r]),
                op.get(x[j]),
                op.get(w),
                op.v128xor,
                op.i8x16popcnt,
                op.i8x16add,
                op.set(accV[j][r]),
              );
          }
          if (r < RI)
            for (const [h, [z, off]] of halves.entries()) {
              e(op.get(wrow), iload(z, (RS + r) * g.KB + st.wo + off), op.set(wi));
              for (let j = 0; j < P; j++)
                e(
                  op.get(accI[j][r]),
                  op.get(xl[j][h]),
                  op.get(wi),
                  op.i64xor,
                  op.i64popcnt,
                  op.i64add,
                  op.set(accI[j][r]),
                );
            }
        }
      }
      emitRowSums(e, accV, sums, RS / 4, x[0], w, c0 > 0);
    }
    for (let j = 0; j < P; j++) {
      const addr = () => e(op.get(orow), op.get(o), op.i32c(2), op.i32shl, op.i32add);
      for (let q = 0; q < RS / 4; q++) (addr(), e(op.get(sums[j][q]), op.v128store(j * g.noutp * 4 + 16 * q)));
      for (let r = 0; r < RI; r++)
        (addr(), e(op.get(accI[j][r]), op.i32wrap, op.i32store(j * g.noutp * 4 + 4 * (RS + r))));
    }
  });
}

/**
 * sgemm_<i>(p0, p1, o0, o1): out[p][o] = Σ_q x_p[q]·w[q][o] in float32, 16 outputs × P pixels per pass,
 * q in the patch order (ky, kx, c), accumulated from 0 as src/xnor's sgemm (kernels/xnor.ts) does. g.KB = noutp·4.
 */
export function genSgemm(fn: Fn, g: GemmGeom, kwc: number): void {
  const { P } = g;
  const e = fn.e.bind(fn);
  emitGemmLoops(fn, g, 16, 4, ({ o, wrow, orow, b }) => {
    const acc = Array.from({ length: P }, () => Array.from({ length: 4 }, () => fn.local(V128)));
    const x = Array.from({ length: P }, () => fn.local(V128));
    const w = fn.local(V128);
    for (const row of acc) for (const a of row) e(op.v128const0, op.set(a));
    const nq = g.segs * kwc;
    for (let q = 0; q < nq; q++) {
      const s = Math.floor(q / kwc),
        k = q % kwc;
      for (let j = 0; j < P; j++) e(op.get(b[j]), op.f32load(s * g.segStride + 4 * k), op.f32x4splat, op.set(x[j]));
      for (let r = 0; r < 4; r++) {
        e(op.get(wrow), op.v128load(q * g.KB + 16 * r), op.set(w));
        for (let j = 0; j < P; j++)
          e(op.get(acc[j][r]), op.get(x[j]), op.get(w), op.f32x4mul, op.f32x4add, op.set(acc[j][r]));
      }
    }
    for (let j = 0; j < P; j++)
      for (let r = 0; r < 4; r++)
        e(
          op.get(orow),
          op.get(o),
          op.i32c(2),
          op.i32shl,
          op.i32add,
          op.get(acc[j][r]),
          op.v128store(j * g.noutp * 4 + 16 * r),
        );
  });
}

/** Geometry of one generated post-op (the stage layout fields it reads; threads.ts documents them). */
export type PostGeom = Pick<
  StageLayout,
  'srcTab' | 'dstTab' | 'K' | 'window' | 'afterSign' | 'noutp' | 'outOff' | 'patTab' | 'sgnOff' | 'tOff' | 'real'
>;

/** post_<i>(q0, q1, c0, c1): output pixels [q0, q1), channels [c0, c1) (multiples of 16); see the module comment. */
export function genPost(fn: Fn, g: PostGeom): void {
  const q = fn.local(I32),
    src = fn.local(I32),
    o4 = fn.local(I32),
    bm = fn.local(I32);
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
  if (!g.real)
    g.window.forEach((d, i) => e(op.get(src), op.i32c(2), op.i32shl, op.i32load(g.patTab + 4 * d), op.set(aRow[i])));
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
    e(
      op.get(cs[0]),
      op.get(cs[1]),
      op.i16x8narrow,
      op.get(cs[2]),
      op.get(cs[3]),
      op.i16x8narrow,
      op.i8x16narrow,
      op.i8x16bitmask,
      op.set(bm),
    );
    for (let k = 0; k < g.K; k++)
      e(op.get(dst[k]), op.get(o4), op.i32c(5), op.i32shru, op.i32add, op.get(bm), op.i32store16(0));
  }
  e(op.get(o4), op.i32c(64), op.i32add, op.tee(o4), op.get(3), op.i32c(2), op.i32shl, op.i32ltu, op.brIf(0));
  e(op.end, op.end);
  e(op.get(q), op.i32c(1), op.i32add, op.tee(q), op.get(1), op.i32ltu, op.brIf(0));
  e(op.end, op.end);
}
