/**
 * The fused packed-inference engine: one WebAssembly module generated per model, in which every stage runs
 * without JS glue.
 *
 *   - No im2col. Each layer's input lives in linear memory as a *padded* image: bits [Hp][Wp][cwp words]
 *     (binary stages; cwp = ceil(inC/32) rounded up to 4 words, unused bits 0 in both input and kernel, so
 *     they XOR to 0) or float32 [Hp][Wp][inC] (the real first layer). The padding border holds 0-bits (= −1
 *     for binary inputs, corrected exactly below) or 0.0 (real input, exact as is). A patch is then `kh`
 *     contiguous segments of kw·cwp words, one per kernel row, `Wp·cwp` words apart, so the GEMM reads the
 *     image in place: the address of each output pixel's patch comes from a small table.
 *   - The GEMM of each layer is generated for its exact shape: the loop over the kernel row length is fully
 *     unrolled with constant address offsets, blocked P pixels × R kernel rows (each loaded word used R or P
 *     times). 'simd': v128.xor + i8x16.popcnt, summed in 8-bit lanes for up to 31 steps (≤ 248) before
 *     widening; 'i64': i64.xor + i64.popcnt. Output: popcount(patch XOR kernel row) per (pixel, channel).
 *   - The post-op of each layer is generated too (i32x4, 16 channels per step):
 *         y = A[pattern(p)][o] − 2·popcount             (A = nValid·inC + 2·Σ_{padded taps} popcount(w_tap);
 *                                                       pattern 0 = no padded tap, A = kh·kw·inC)
 *         y = max over the pool window                    (max-pool before BN, exact on integers)
 *         bit = sgn[o]·y ≥ T[o]                           (BN+sign folded into an integer threshold:
 *                                                       y ≥ ceil(t), or −y ≥ ceil(−t) for a negative scale)
 *     and the 16 bits are packed with i8x16.bitmask straight into the next layer's padded image. Channels
 *     beyond outC get T = 2^30 (never set). The last stage writes its integer y; JS applies the float32 BN.
 *   - The real first layer: a float32 f32x4 GEMM over its padded float image (the same summation order as
 *     kernels.ts' sgemm), then bit = sgn·y ≥ sgn·t in float32, as the JS reference does.
 *
 * Every GEMM and post function takes a range (pixels, and kernel rows for the GEMM), so the work can be split
 * between threads sharing one memory.
 */
import { uleb, section, vec, str, I32, I64, V128, op as base, WA, funcBody } from '../wasm/asm';
import type { WasmMemory, WasmModule } from '../wasm/asm';
import type { PackedSpec } from './packed';

/** Instructions this module needs beyond src/wasm/asm.ts' table (opcodes: core spec §5.4, SIMD 0xfd xx). */
const op = {
  ...base,
  i32load: (off = 0) => [0x28, 2, ...uleb(off)],
  i32store16: (off = 0) => [0x3b, 1, ...uleb(off)],
  i32sub: [0x6b],
  i32shru: [0x76],
  i8x16add: [0xfd, 0x6e],
  shuffle: (lanes: number[]) => [0xfd, 0x0d, ...lanes],
  i32x4add: [0xfd, 0xae, 0x01],
  i32x4sub: [0xfd, 0xb1, 0x01],
  i32x4mul: [0xfd, 0xb5, 0x01],
  i32x4shl: [0xfd, 0xab, 0x01],
  i32x4ges: [0xfd, 0x3f],
  i32x4maxs: [0xfd, 0xb8, 0x01],
  f32x4ge: [0xfd, 0x46],
  i16x8narrow: [0xfd, 0x85, 0x01],
  i8x16narrow: [0xfd, 0x65],
  i8x16bitmask: [0xfd, 0x64],
};

export type GemmMode = 'simd' | 'i64';

const words = (c: number) => Math.ceil(c / 32);
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

/** Assembles functions (all i32 params, no results) over an imported memory env.mem. */
function assembleWithImportedMemory(fns: Fn[], pages: number, shared: boolean): Uint8Array {
  const arities = [...new Set(fns.map((f) => f.nparams))];
  const types = arities.map((n) => [0x60, ...vec(new Array(n).fill([I32])), 0x00]);
  const limits = shared ? [0x03, ...uleb(pages), ...uleb(pages)] : [0x00, ...uleb(pages)];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...str('env'), ...str('mem'), 0x02, ...limits]])),
    ...section(3, vec(fns.map((f) => uleb(arities.indexOf(f.nparams))))),
    ...section(7, vec(fns.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map((f) => f.body()))),
  ];
  return new Uint8Array(bytes);
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

/**
 * bgemm_<i>(p0, p1, o0, o1): out[p][o] = popcount(patch(p) XOR w[o]) for p in [p0, p1) (step P) and
 * o in [o0, o1) (step R). Fully unrolled over the row.
 */
function genBgemm(fn: Fn, g: GemmGeom, mode: GemmMode): void {
  const { P, R } = g;
  const simd = mode === 'simd';
  const step = simd ? 16 : 8;
  const p = fn.local(I32), o = fn.local(I32), wrow = fn.local(I32), orow = fn.local(I32);
  const b = Array.from({ length: P }, () => fn.local(I32));
  const acc = Array.from({ length: P }, () => Array.from({ length: R }, () => fn.local(simd ? V128 : I64)));
  const x = Array.from({ length: P }, () => fn.local(simd ? V128 : I64));
  const w = fn.local(simd ? V128 : I64);
  const sums = simd ? Array.from({ length: P }, () => Array.from({ length: R / 4 }, () => fn.local(V128))) : [];
  const e = fn.e.bind(fn);
  const load = (off: number) => (simd ? op.v128load(off) : op.i64load(off));
  const steps: { xo: number; wo: number }[] = [];
  for (let s = 0; s < g.segs; s++) for (let k = 0; k < g.segBytes; k += step) steps.push({ xo: s * g.segStride + k, wo: s * g.segBytes + k });
  const chunk = simd ? 31 : steps.length;

  e(op.get(0), op.set(p));
  e(op.block, op.loop);
  for (let j = 0; j < P; j++) e(op.get(p), op.i32c(2), op.i32shl, op.i32load(g.tab + 4 * j), op.set(b[j]));
  // orow = outOff + p·noutp·4
  e(op.get(p), op.i32c(g.noutp * 4), op.i32mul, op.i32c(g.outOff), op.i32add, op.set(orow));
  e(op.get(2), op.set(o), op.get(2), op.i32c(g.KB), op.i32mul, op.i32c(g.wOff), op.i32add, op.set(wrow));
  e(op.block, op.loop);
  for (let c0 = 0; c0 < steps.length; c0 += chunk) {
    for (const row of acc) for (const a of row) e(simd ? op.v128const0 : op.i64c(0), op.set(a));
    for (const st of steps.slice(c0, c0 + chunk)) {
      for (let j = 0; j < P; j++) e(op.get(b[j]), load(st.xo), op.set(x[j]));
      for (let r = 0; r < R; r++) {
        e(op.get(wrow), load(r * g.KB + st.wo), op.set(w));
        for (let j = 0; j < P; j++) {
          e(op.get(acc[j][r]), op.get(x[j]), op.get(w));
          if (simd) e(op.v128xor, op.i8x16popcnt, op.i8x16add, op.set(acc[j][r]));
          else e(op.i64xor, op.i64popcnt, op.i64add, op.set(acc[j][r]));
        }
      }
    }
    if (simd) {
      // per pixel and group of 4 rows: [Σ acc_r0, Σ acc_r1, Σ acc_r2, Σ acc_r3] as i32x4 (widen, then transpose-add)
      const lo = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
      const hi = lo.map((l) => l + 4);
      for (let j = 0; j < P; j++)
        for (let q = 0; q < R / 4; q++) {
          const widen = (r: number) => e(op.get(acc[j][4 * q + r]), op.i16x8extaddU, op.i32x4extaddU);
          // g01 = pairsum(e0, e1), g23 = pairsum(e2, e3), then pairsum(g01, g23)
          const t0 = x[0], t1 = w;
          widen(0), widen(1), e(op.set(t1), op.set(t0));
          e(op.get(t0), op.get(t1), op.shuffle(lo), op.get(t0), op.get(t1), op.shuffle(hi), op.i32x4add, op.set(acc[j][4 * q]));
          widen(2), widen(3), e(op.set(t1), op.set(t0));
          e(op.get(t0), op.get(t1), op.shuffle(lo), op.get(t0), op.get(t1), op.shuffle(hi), op.i32x4add, op.set(t1));
          e(op.get(acc[j][4 * q]), op.get(t1), op.shuffle(lo), op.get(acc[j][4 * q]), op.get(t1), op.shuffle(hi), op.i32x4add);
          if (c0 > 0) e(op.get(sums[j][q]), op.i32x4add);
          e(op.set(sums[j][q]));
        }
    }
  }
  for (let j = 0; j < P; j++) {
    // address orow + j·noutp·4 + o·4
    const addr = () => e(op.get(orow), op.get(o), op.i32c(2), op.i32shl, op.i32add);
    if (simd) for (let q = 0; q < R / 4; q++) addr(), e(op.get(sums[j][q]), op.v128store(j * g.noutp * 4 + 16 * q));
    else for (let r = 0; r < R; r++) addr(), e(op.get(acc[j][r]), op.i32wrap, op.i32store(j * g.noutp * 4 + 4 * r));
  }
  e(op.get(wrow), op.i32c(R * g.KB), op.i32add, op.set(wrow));
  e(op.get(o), op.i32c(R), op.i32add, op.tee(o), op.get(3), op.i32ltu, op.brIf(0));
  e(op.end, op.end);
  e(op.get(p), op.i32c(P), op.i32add, op.tee(p), op.get(1), op.i32ltu, op.brIf(0));
  e(op.end, op.end);
}

/**
 * sgemm_<i>(p0, p1, o0, o1): out[p][o] = Σ_q x_p[q]·w[q][o] in float32, 16 outputs × P pixels per pass,
 * q in the patch order (ky, kx, c), accumulated from 0 as kernels.ts' sgemm does. g.KB = noutp·4.
 */
function genSgemm(fn: Fn, g: GemmGeom, kwc: number): void {
  const { P } = g;
  const p = fn.local(I32), o = fn.local(I32), wrow = fn.local(I32), orow = fn.local(I32);
  const b = Array.from({ length: P }, () => fn.local(I32));
  const acc = Array.from({ length: P }, () => Array.from({ length: 4 }, () => fn.local(V128)));
  const x = Array.from({ length: P }, () => fn.local(V128));
  const w = fn.local(V128);
  const e = fn.e.bind(fn);
  e(op.get(0), op.set(p));
  e(op.block, op.loop);
  for (let j = 0; j < P; j++) e(op.get(p), op.i32c(2), op.i32shl, op.i32load(g.tab + 4 * j), op.set(b[j]));
  e(op.get(p), op.i32c(g.noutp * 4), op.i32mul, op.i32c(g.outOff), op.i32add, op.set(orow));
  e(op.get(2), op.set(o), op.get(2), op.i32c(2), op.i32shl, op.i32c(g.wOff), op.i32add, op.set(wrow));
  e(op.block, op.loop);
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
  e(op.get(wrow), op.i32c(64), op.i32add, op.set(wrow));
  e(op.get(o), op.i32c(16), op.i32add, op.tee(o), op.get(3), op.i32ltu, op.brIf(0));
  e(op.end, op.end);
  e(op.get(p), op.i32c(P), op.i32add, op.tee(p), op.get(1), op.i32ltu, op.brIf(0));
  e(op.end, op.end);
}

/** Geometry of one generated post-op. */
interface PostGeom {
  /** int32 [nq]: conv pixel index of each output pixel's pool window (top-left). */
  srcTab: number;
  /** int32 [nq]: byte address of each output pixel's destination (bits in the next image, or int32 y row). */
  dstTab: number;
  /** conv-pixel index offsets of the window's pixels. */
  window: number[];
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
  const q = fn.local(I32), src = fn.local(I32), dst = fn.local(I32), o4 = fn.local(I32);
  const pcRow = fn.local(I32);
  const aRow = g.real ? [] : g.window.map(() => fn.local(I32));
  const m = fn.local(V128);
  const cs = [fn.local(V128), fn.local(V128), fn.local(V128), fn.local(V128)];
  const e = fn.e.bind(fn);
  const final = g.sgnOff < 0;
  const rowB = g.noutp * 4;
  e(op.get(0), op.set(q));
  e(op.block, op.loop);
  e(op.get(q), op.i32c(2), op.i32shl, op.tee(src), op.i32load(g.dstTab), op.set(dst));
  e(op.get(src), op.i32load(g.srcTab), op.tee(src));
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
      if (i > 0) e(op.get(m), op.i32x4maxs);
      e(op.set(m));
    });
    if (final) e(op.get(dst), op.get(o4), op.i32add, op.get(m), op.v128store(16 * v));
    else {
      e(op.get(m), op.get(o4), op.v128load(g.sgnOff + 16 * v), g.real ? op.f32x4mul : op.i32x4mul);
      e(op.get(o4), op.v128load(g.tOff + 16 * v), g.real ? op.f32x4ge : op.i32x4ges, op.set(cs[v]));
    }
  }
  if (!final) {
    e(op.get(dst), op.get(o4), op.i32c(5), op.i32shru, op.i32add);
    e(op.get(cs[0]), op.get(cs[1]), op.i16x8narrow, op.get(cs[2]), op.get(cs[3]), op.i16x8narrow, op.i8x16narrow, op.i8x16bitmask);
    e(op.i32store16(0));
  }
  e(op.get(o4), op.i32c(64), op.i32add, op.tee(o4), op.get(3), op.i32c(2), op.i32shl, op.i32ltu, op.brIf(0));
  e(op.end, op.end);
  e(op.get(q), op.i32c(1), op.i32add, op.tee(q), op.get(1), op.i32ltu, op.brIf(0));
  e(op.end, op.end);
}

// ------------------------------------------------------------------ engine

/** Per-stage plan: what to call with which ranges. */
export interface EnginePlan {
  /** Index of the stage in the spec. */
  stage: number;
  gemm: string;
  post: string;
  /** GEMM pixel range [0, npixP) in steps of P; row range [0, noutp) in steps of R. */
  npixP: number;
  P: number;
  noutp: number;
  R: number;
  /** post range [0, nq). */
  nq: number;
}

/** Whether the fused engine handles this spec (otherwise PackedModel uses the reference path). */
export function fusedSupports(spec: PackedSpec): string | null {
  if (spec.stages.length < 2) return 'a single stage';
  for (const [i, s] of spec.stages.entries()) {
    if (s.pools.length > 1) return `stage ${s.name}: more than one pool`;
    if (s.input === 'real' && s.pools.length > 0) return `stage ${s.name}: pooling after the real layer`;
    if (s.input === 'real' && i > 0) return `stage ${s.name}: real input after the first stage`;
    if (i < spec.stages.length - 1 && s.post.kind !== 'threshold') return `stage ${s.name}: no threshold`;
  }
  return null;
}

export interface FusedBuild {
  bytes: Uint8Array;
  pages: number;
  /** Initial memory contents: [byte offset, data] (everything else zero). */
  init: [number, Uint8Array][];
  plans: EnginePlan[];
  /** Real input: padded float image. */
  input: { off: number; H: number; W: number; C: number; Wp: number; padTop: number; padLeft: number };
  /** Last stage's int32 y [outH·outW][noutp]. */
  final: { off: number; npix: number; noutp: number; outC: number };
}

/**
 * Lays out memory for `spec` and generates its module. `mode` picks the binary GEMM; `shared` declares the
 * imported memory shared (for worker threads).
 */
export function buildFused(spec: PackedSpec, mode: GemmMode, shared = false): FusedBuild {
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
  // padded input images: stage i's input [Hp][Wp][pixel]
  const img = S.map((s) => {
    const Hp = Math.max(s.inH + s.padTop, (s.convH - 1) * s.strideH + s.kh);
    const Wp = Math.max(s.inW + s.padLeft, (s.convW - 1) * s.strideW + s.kw);
    const pixB = s.input === 'real' ? s.inC * 4 : roundUp(words(s.inC), 4) * 4;
    return { Hp, Wp, pixB, off: alloc(Hp * Wp * pixB) };
  });
  const fns: Fn[] = [];
  const plans: EnginePlan[] = [];
  let final: FusedBuild['final'] | null = null;
  S.forEach((s, i) => {
    const im = img[i];
    const npix = s.convH * s.convW;
    const dense = npix === 1;
    const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
    const P = s.input === 'real' ? 2 : dense ? 1 : Number(env.BNN_P ?? 2);
    const R = s.input === 'real' ? 16 : dense ? Number(env.BNN_RD ?? 8) : Number(env.BNN_R ?? 4);
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
    let segs = s.kh, segBytes = s.kw * im.pixB, segStride = im.Wp * im.pixB;
    if (segStride === segBytes) (segBytes *= segs), (segs = 1);
    const fnG = new Fn(`gemm${i}`, 4);
    if (s.input === 'real') {
      const kq = kk * s.inC;
      const wf = new Float32Array(kq * noutp);
      const cw = words(s.inC);
      for (let o = 0; o < s.outC; o++)
        for (let pos = 0; pos < kk; pos++)
          for (let c = 0; c < s.inC; c++) wf[(pos * s.inC + c) * noutp + o] = (s.weights[(o * kk + pos) * cw + (c >> 5)] >>> (c & 31)) & 1 ? 1 : -1;
      genSgemm(fnG, { tab, segs: s.kh, segStride, segBytes: s.kw * im.pixB, wOff: put(wf), KB: noutp * 4, noutp, outOff, P, R }, s.kw * s.inC);
    } else {
      const cw = words(s.inC);
      const cwp = im.pixB / 4;
      const KW = kk * cwp;
      const wb = new Uint32Array(noutp * KW);
      for (let o = 0; o < s.outC; o++)
        for (let pos = 0; pos < kk; pos++) for (let j = 0; j < cw; j++) wb[o * KW + pos * cwp + j] = s.weights[(o * kk + pos) * cw + j];
      genBgemm(fnG, { tab, segs, segStride, segBytes, wOff: put(wb), KB: KW * 4, noutp, outOff, P, R }, mode);
    }
    fns.push(fnG);

    // post-op tables
    const pool = s.pools[0];
    const window: number[] = [];
    if (pool) for (let dy = 0; dy < pool.size[0]; dy++) for (let dx = 0; dx < pool.size[1]; dx++) window.push(dy * s.convW + dx);
    else window.push(0);
    const nq = s.outH * s.outW;
    const srcA = new Int32Array(nq);
    const dstA = new Int32Array(nq);
    const last = i === S.length - 1;
    let finalOff = 0;
    if (last) finalOff = alloc(nq * noutp * 4);
    for (let qy = 0; qy < s.outH; qy++)
      for (let qx = 0; qx < s.outW; qx++) {
        const qi = qy * s.outW + qx;
        srcA[qi] = pool ? qy * pool.stride[0] * s.convW + qx * pool.stride[1] : qi;
        if (last) dstA[qi] = finalOff + qi * noutp * 4;
        else {
          const n = S[i + 1];
          const ni = img[i + 1];
          dstA[qi] = ni.off + ((qy + n.padTop) * ni.Wp + qx + n.padLeft) * ni.pixB;
        }
      }
    let patTab = 0;
    if (s.input === 'binary') {
      // A[pattern][o] = nValid·inC + 2·Σ_{padded taps} popcount(w_tap)
      const cw = words(s.inC);
      const pcw = new Int32Array(s.outC * kk);
      for (let o = 0; o < s.outC; o++)
        for (let pos = 0; pos < kk; pos++) for (let j = 0; j < cw; j++) pcw[o * kk + pos] += popcnt(s.weights[(o * kk + pos) * cw + j]);
      const patterns = new Map<string, number>();
      const rows: Int32Array[] = [];
      const patOf = new Int32Array(npix);
      for (let p = 0; p < npix; p++) {
        const oy = Math.floor(p / s.convW), ox = p % s.convW;
        const pads: number[] = [];
        for (let ky = 0; ky < s.kh; ky++)
          for (let kx = 0; kx < s.kw; kx++) {
            const iy = oy * s.strideH + ky - s.padTop, ix = ox * s.strideW + kx - s.padLeft;
            if (!(iy >= 0 && iy < s.inH && ix >= 0 && ix < s.inW)) pads.push(ky * s.kw + kx);
          }
        const key = pads.join(',');
        let id = patterns.get(key);
        if (id === undefined) {
          id = rows.length;
          patterns.set(key, id);
          const row = new Int32Array(noutp);
          for (let o = 0; o < s.outC; o++) {
            let corr = 0;
            for (const t of pads) corr += pcw[o * kk + t];
            row[o] = (kk - pads.length) * s.inC + 2 * corr;
          }
          rows.push(row);
        }
        patOf[p] = id;
      }
      const aTab = new Int32Array(rows.length * noutp);
      rows.forEach((r, k) => aTab.set(r, k * noutp));
      const aOff = put(aTab);
      patTab = put(Int32Array.from(patOf, (id) => aOff + id * noutp * 4));
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
    genPost(fnP, { srcTab: put(srcA), dstTab: put(dstA), window, noutp, outOff, patTab, sgnOff, tOff, real: s.input === 'real' });
    fns.push(fnP);
    plans.push({ stage: i, gemm: fnG.name, post: fnP.name, npixP, P, noutp, R, nq });
  });
  const pages = Math.ceil(top / 65536) + 1;
  const s0 = S[0];
  return {
    bytes: assembleWithImportedMemory(fns, pages, shared),
    pages,
    init,
    plans,
    input: { off: img[0].off, H: s0.inH, W: s0.inW, C: s0.inC, Wp: img[0].Wp, padTop: s0.padTop, padLeft: s0.padLeft },
    final: final!,
  };
}

function popcnt(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

type Run = (a: number, b: number, c: number, d: number) => void;

/** One thread's share of a stage: GEMM (pixels, kernel rows) and post-op (output pixels, channels); null = none. */
type Share = [gemm: string, p0: number, p1: number, o0: number, o1: number, post: string, q0: number, q1: number] | null;

/**
 * Splits each stage between 2 threads by output channels (multiples of 16): thread t computes the GEMM rows and
 * post-op channels of its half for every pixel, so the only dependency is between stages (one barrier each).
 */
function splitPlans(plans: EnginePlan[]): [Share, Share][] {
  return plans.map((pl) => {
    const whole: Share = [pl.gemm, 0, pl.npixP, 0, pl.noutp, pl.post, 0, pl.nq];
    if (pl.noutp < 32) return [whole, null];
    const half = Math.floor(pl.noutp / 32) * 16;
    return [
      [pl.gemm, 0, pl.npixP, 0, half, pl.post, 0, pl.nq],
      [pl.gemm, 0, pl.npixP, half, pl.noutp, pl.post, 0, pl.nq],
    ];
  });
}

/** The worker's code (plain JS, run with eval): instantiate on the shared memory, then run shares on request. */
const WORKER_SRC = `
const { workerData } = require('worker_threads');
const { bytes, memory, ctrlBuf, shares } = workerData;
const fns = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: memory } }).exports;
const ctrl = new Int32Array(ctrlBuf);
const SPIN = ${'${SPIN}'};
function waitFor(i, pred) {
  for (let n = 0; !pred(Atomics.load(ctrl, i)); n++) if (n > SPIN) Atomics.wait(ctrl, i, Atomics.load(ctrl, i), 50);
}
let seq = 0, bar = 0;
Atomics.store(ctrl, 3, 1);
Atomics.notify(ctrl, 3);
for (;;) {
  waitFor(0, (v) => v !== seq);
  seq = Atomics.load(ctrl, 0);
  if (seq < 0) break;
  for (const sh of shares) {
    if (sh) { fns[sh[0]](sh[1], sh[2], sh[3], sh[4]); fns[sh[5]](sh[6], sh[7], sh[3], sh[4]); }
    bar += 2;
    Atomics.add(ctrl, 1, 1);
    Atomics.notify(ctrl, 1);
    waitFor(1, (v) => v >= bar);
  }
}
`;

/** Spin iterations (Atomics.load) before a thread sleeps in Atomics.wait while it waits at a barrier. */
const SPIN = 200000;

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
    require('worker_threads');
    return true;
  } catch {
    return false;
  }
}

/**
 * A fused model instance: one memory, one module instance, and with `threads: 2` one worker thread sharing
 * the memory (each stage split by output channels, a barrier between stages). Results are identical either
 * way (integer arithmetic; the real layer's float sums are per output channel and not split).
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
  private seq = 0;
  private bar = 0;

  constructor(spec: PackedSpec, readonly mode: GemmMode, threads = 1) {
    if (!WA || !WA.Memory) throw new Error('FusedEngine: WebAssembly is not available');
    this.threads = threads >= 2 && threadsAvailable() ? 2 : 1;
    const shared = this.threads === 2;
    this.build = buildFused(spec, mode, shared);
    const b = this.build;
    this.memory = shared ? new WA.Memory({ initial: b.pages, maximum: b.pages, shared: true }) : new WA.Memory({ initial: b.pages });
    const u8 = new Uint8Array(this.memory.buffer);
    for (const [off, data] of b.init) u8.set(data, off);
    const mod: WasmModule = new WA.Module(b.bytes);
    const inst = new WA.Instance(mod, { env: { mem: this.memory } });
    this.fns = inst.exports as Record<string, Run>;
    if (shared) {
      this.shares = splitPlans(b.plans);
      this.ctrl = new Int32Array(new SharedArrayBuffer(64));
      const { Worker } = require('worker_threads') as { Worker: new (src: string, o: object) => WorkerLike };
      const w = new Worker(WORKER_SRC.replace('${SPIN}', String(SPIN)), {
        eval: true,
        workerData: { bytes: b.bytes, memory: this.memory, ctrlBuf: this.ctrl.buffer, shares: this.shares.map((s) => s[1]) },
      });
      w.unref();
      w.on('error', () => (this.worker = null));
      w.on('exit', () => (this.worker = null));
      this.worker = w;
    }
  }

  /** Resolves when the worker (if any) is running; until then `forward` runs on one thread. */
  async ready(timeoutMs = 10000): Promise<boolean> {
    const t0 = Date.now();
    while (this.ctrl && Atomics.load(this.ctrl, 3) !== 1) {
      if (Date.now() - t0 > timeoutMs || !this.worker) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.ctrl !== null && this.worker !== null;
  }

  /** Stops the worker (the engine then runs on one thread). */
  dispose(): void {
    if (this.ctrl && this.worker) {
      Atomics.store(this.ctrl, 0, -1);
      Atomics.notify(this.ctrl, 0);
      void this.worker.terminate();
    }
    this.worker = null;
  }

  /** Runs one image (NHWC float32, H·W·C values); returns the last stage's integer outputs [npix·outC]. */
  forward(image: Float32Array, timings: Record<string, number> | null, names: string[]): Int32Array {
    const b = this.build;
    const { off, H, W, C, Wp, padTop, padLeft } = b.input;
    const f = new Float32Array(this.memory.buffer);
    for (let y = 0; y < H; y++) f.set(image.subarray(y * W * C, (y + 1) * W * C), (off >> 2) + ((y + padTop) * Wp + padLeft) * C);
    let t0 = timings ? performance.now() : 0;
    const lap = (k: string) => {
      if (!timings) return;
      const t = performance.now();
      timings[k] = (timings[k] ?? 0) + t - t0;
      t0 = t;
    };
    const ctrl = this.ctrl;
    if (ctrl && this.worker && Atomics.load(ctrl, 3) === 1) {
      Atomics.store(ctrl, 0, ++this.seq);
      Atomics.notify(ctrl, 0);
      this.shares.forEach(([mine], i) => {
        if (mine) {
          this.fns[mine[0]](mine[1], mine[2], mine[3], mine[4]);
          this.fns[mine[5]](mine[6], mine[7], mine[3], mine[4]);
        }
        lap(`${names[b.plans[i].stage]} stage (main thread)`);
        this.bar += 2;
        Atomics.add(ctrl, 1, 1);
        Atomics.notify(ctrl, 1);
        const t = Date.now();
        for (let n = 0; Atomics.load(ctrl, 1) < this.bar; n++)
          if (n > SPIN) {
            Atomics.wait(ctrl, 1, Atomics.load(ctrl, 1), 50);
            if (Date.now() - t > 10000) throw new Error('FusedEngine: the worker thread stopped responding');
          }
        lap(`${names[b.plans[i].stage]} barrier`);
      });
    } else
      for (const pl of b.plans) {
        this.fns[pl.gemm](0, pl.npixP, 0, pl.noutp);
        lap(`${names[pl.stage]} conv`);
        this.fns[pl.post](0, pl.nq, 0, pl.noutp);
        lap(`${names[pl.stage]} post`);
      }
    const { npix, noutp, outC } = b.final;
    const y = new Int32Array(this.memory.buffer, b.final.off, npix * noutp);
    const out = new Int32Array(npix * outC);
    for (let p = 0; p < npix; p++) out.set(y.subarray(p * noutp, p * noutp + outC), p * outC);
    return out;
  }
}
