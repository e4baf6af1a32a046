/**
 * WebAssembly SIMD kernels for the fused training ops (src/backend/fused.ts), assembled with src/wasm/asm.ts.
 * The module *imports* the memory of tfjs-backend-wasm (shared with the threaded build), so it reads and writes
 * tensors in place: no copies. Branch-free f32x4 code (plain JS loops on random signs pay a mispredicted branch
 * per element, ~10 ns).
 *
 * Functions (pointers are byte offsets into the tfjs heap; n4 = element count / 4; C4 = channels / 4):
 *   larqSign(x, y, n4)                     y = x < 0 ? −1 : +1                              (Larq sign, NaN → +1)
 *   sign(x, y, n4)                         y = (x > 0) − (x < 0)                             (NaN → 0)
 *   steGrad(dy, x, dx, n4, clip)           dx = dy · (|x| ≤ clip ? 1 : 0)
 *   bop(w, m, g, wn, mn, n4, c1, c2, tau)  mn = m·c1 + g·c2; d = w·mn − τ; wn = larqSign(−sign(d)·w)
 *   colSum(x, rows, C4, acc)               acc[c] += Σ_r x[r,c]
 *   colSqDev(x, rows, C4, mu, acc)         acc[c] += Σ_r (x[r,c] − mu[c])²
 *   bnApply(x, y, rows, C4, mu, s, beta)   y = (x − mu)·s + beta
 *   bnGradSums(dy, x, rows, C4, mu, a1, a2)  a1 += Σ dy, a2 += Σ dy·(x − mu)
 *   bnGradApply(dy, x, dx, rows, C4, mu, k0, k1, k2)  dx = k0·dy − k1 − k2·(x − mu)
 * Every float operation is a single IEEE float32 operation (wasm has no fused multiply-add), so the elementwise
 * kernels equal the composite float32 tf ops bit for bit.
 */
import { op, section, vec, str, funcBody, I32, F32, V128, WA, uleb } from './asm';
import type { WasmMemory } from './asm';

const x = {
  ...op,
  i32sub: [0x6b],
  i32load: (off = 0) => [0x28, 2, ...uleb(off)],
  f32x4eq: [0xfd, 0x41],
  v128andnot: [0xfd, 0x4f],
  f32x4lt: [0xfd, 0x43],
  f32x4gt: [0xfd, 0x44],
  f32x4le: [0xfd, 0x45],
  v128and: [0xfd, 0x4e],
  v128or: [0xfd, 0x50],
  bitselect: [0xfd, 0x52],
  f32x4abs: [0xfd, 0xe0, 0x01],
  f32x4neg: [0xfd, 0xe1, 0x01],
  f32x4sub: [0xfd, 0xe5, 0x01],
  /** v128.const of four equal f32 lanes. */
  f32x4const: (v: number) => {
    const b = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
    return [0xfd, 0x0c, ...Array.from(b)];
  },
};

type Code = number[][];
const flat = (c: Code) => c.flat();

/** for (i = 0; i < end; i += 16) body — i and end are locals; assumes end > 0. */
function loop16(i: number, end: number, body: Code): Code {
  return [x.i32c(0), x.set(i), x.block, x.loop, ...body, x.get(i), x.i32c(16), x.i32add, x.tee(i), x.get(end), x.i32ltu, x.brIf(0), x.end, x.end];
}
const ld = (base: number, i: number): Code => [x.get(base), x.get(i), x.i32add, x.v128load()];
const st = (base: number, i: number, val: Code): Code => [x.get(base), x.get(i), x.i32add, ...val, x.v128store()];

interface Fn { name: string; params: number[]; locals: [number, number][]; code: Code }

function elementwise(): Fn[] {
  // larqSign(x, y, n4): locals 3 i, 4 end
  const larq: Fn = {
    name: 'larqSign', params: [I32, I32, I32], locals: [[2, I32]],
    code: [x.get(2), x.i32c(4), x.i32shl, x.set(4), ...loop16(3, 4, st(1, 3, [
      x.f32x4const(-1), x.f32x4const(1), ...ld(0, 3), x.f32x4const(0), x.f32x4lt, x.bitselect]))],
  };
  // sign(x, y, n4): (gt & 1) | (lt & −1); locals 3 i, 4 end, 5 v
  const sign: Fn = {
    name: 'sign', params: [I32, I32, I32], locals: [[2, I32], [1, V128]],
    code: [x.get(2), x.i32c(4), x.i32shl, x.set(4), ...loop16(3, 4, [
      ...ld(0, 3), x.set(5),
      ...st(1, 3, [x.get(5), x.f32x4const(0), x.f32x4gt, x.f32x4const(1), x.v128and,
        x.get(5), x.f32x4const(0), x.f32x4lt, x.f32x4const(-1), x.v128and, x.v128or])])],
  };
  // steGrad(dy, x, dx, n4, clip): locals 5 i, 6 end, 7 clipv
  const ste: Fn = {
    name: 'steGrad', params: [I32, I32, I32, I32, F32], locals: [[2, I32], [1, V128]],
    code: [x.get(3), x.i32c(4), x.i32shl, x.set(6), x.get(4), x.f32x4splat, x.set(7), ...loop16(5, 6, st(2, 5, [
      ...ld(0, 5), ...ld(1, 5), x.f32x4abs, x.get(7), x.f32x4le, x.f32x4const(1), x.v128and, x.f32x4mul]))],
  };
  // bop(w, m, g, wn, mn, n4, c1, c2, tau): locals 9 i, 10 end, 11 c1v, 12 c2v, 13 tauv, 14 mm, 15 w, 16 d, 17 s
  const bop: Fn = {
    name: 'bop', params: [I32, I32, I32, I32, I32, I32, F32, F32, F32], locals: [[2, I32], [7, V128]],
    code: [x.get(5), x.i32c(4), x.i32shl, x.set(10),
      x.get(6), x.f32x4splat, x.set(11), x.get(7), x.f32x4splat, x.set(12), x.get(8), x.f32x4splat, x.set(13),
      ...loop16(9, 10, [
        ...ld(1, 9), x.get(11), x.f32x4mul, ...ld(2, 9), x.get(12), x.f32x4mul, x.f32x4add, x.set(14),
        ...st(4, 9, [x.get(14)]),
        ...ld(0, 9), x.set(15),
        x.get(15), x.get(14), x.f32x4mul, x.get(13), x.f32x4sub, x.set(16),
        // s = (d > 0 & 1) | (d < 0 & −1); z = (−s)·w; wn = z < 0 ? −1 : 1
        x.get(16), x.f32x4const(0), x.f32x4gt, x.f32x4const(1), x.v128and,
        x.get(16), x.f32x4const(0), x.f32x4lt, x.f32x4const(-1), x.v128and, x.v128or, x.set(17),
        ...st(3, 9, [x.f32x4const(-1), x.f32x4const(1), x.get(17), x.f32x4neg, x.get(15), x.f32x4mul, x.f32x4const(0), x.f32x4lt, x.bitselect]),
      ])],
  };
  return [larq, sign, ste, bop];
}

/**
 * Column kernels over a [rows, C] matrix (C = 4·C4): outer loop over rows (row pointer advances by C·4 bytes),
 * inner loop over 16-byte channel groups j. `rowPtrs` are the params holding row-major matrices (advanced per row);
 * `body(j)` is the inner-loop code.
 */
function colKernel(name: string, params: number[], rowsP: number, c4P: number, rowPtrs: number[], body: (j: number) => Code): Fn {
  const np = params.length;
  const r = np, j = np + 1, end = np + 2; // locals
  const code: Code = [
    x.get(c4P), x.i32c(4), x.i32shl, x.set(end),
    x.i32c(0), x.set(r),
    x.block, x.loop,
    ...loop16(j, end, body(j)),
    ...rowPtrs.flatMap((p) => [x.get(p), x.get(end), x.i32add, x.set(p)]),
    x.get(r), x.i32c(1), x.i32add, x.tee(r), x.get(rowsP), x.i32ltu, x.brIf(0),
    x.end, x.end,
  ];
  return { name, params, locals: [[3, I32]], code };
}

function columnKernels(): Fn[] {
  const P = (n: number) => new Array(n).fill(I32);
  // each kernel gets one extra v128 local after the three i32 locals, index np + 3
  const withV = (f: Fn): Fn => ({ ...f, locals: [...f.locals, [1, V128]] });
  const fns: Fn[] = [];
  fns.push(withV(colKernel('colSum', P(4), 1, 2, [0], (j) => st(3, j, [...ld(3, j), ...ld(0, j), x.f32x4add]))));
  {
    const v = 5 + 3;
    fns.push(withV(colKernel('colSqDev', P(5), 1, 2, [0], (j) => [
      ...ld(0, j), ...ld(3, j), x.f32x4sub, x.set(v),
      ...st(4, j, [...ld(4, j), x.get(v), x.get(v), x.f32x4mul, x.f32x4add]),
    ])));
  }
  // bnApply(x, y, rows, C4, mu, s, beta)
  fns.push(withV(colKernel('bnApply', P(7), 2, 3, [0, 1], (j) => st(1, j, [
    ...ld(0, j), ...ld(4, j), x.f32x4sub, ...ld(5, j), x.f32x4mul, ...ld(6, j), x.f32x4add]))));
  // bnGradSums(dy, x, rows, C4, mu, a1, a2)
  {
    const v = 7 + 3;
    fns.push(withV(colKernel('bnGradSums', P(7), 2, 3, [0, 1], (j) => [
      ...ld(0, j), x.set(v),
      ...st(5, j, [...ld(5, j), x.get(v), x.f32x4add]),
      ...st(6, j, [...ld(6, j), x.get(v), ...ld(1, j), ...ld(4, j), x.f32x4sub, x.f32x4mul, x.f32x4add]),
    ])));
  }
  // bnGradApply(dy, x, dx, rows, C4, mu, k0, k1, k2)
  fns.push(withV(colKernel('bnGradApply', P(9), 3, 4, [0, 1, 2], (j) => st(2, j, [
    ...ld(6, j), ...ld(0, j), x.f32x4mul, ...ld(7, j), x.f32x4sub,
    ...ld(8, j), ...ld(1, j), ...ld(5, j), x.f32x4sub, x.f32x4mul, x.f32x4sub]))));
  return fns;
}

/**
 * Winograd F(2×2,3×3) transforms with pointer tables (built in JS; out-of-range tile entries point at a zero or a
 * scratch row, so the SIMD loops have no bounds checks):
 *   winoIn(tab, T, C4, obase): for tile t, channel group j: d_k = load(tab[16t + k] + j), k = 0..15 (4×4 tile,
 *     row-major); V = Bᵀ d B; store V_k at obase[k] + 16·C4·t + j.
 *   winoOut(mbase, T, C4, dtab): m_k = load(mbase[k] + 16·C4·t + j); Y = Aᵀ m A (2×2); store Y_ab at dtab[4t + 2a + b] + j.
 */
function winograd(): Fn[] {
  // winoIn params 0 tab, 1 T, 2 C4, 3 obase; locals 4 t, 5 j, 6 end, 7 trow, 8 ooff; v128 9..24 d, 25..28 tmp
  const d = (k: number) => 9 + k, tmp = (k: number) => 25 + k;
  const inBody: Code = [];
  for (let k = 0; k < 16; k++) inBody.push(x.get(7), x.i32load(4 * k), x.get(5), x.i32add, x.v128load(), x.set(d(k)));
  for (let c = 0; c < 4; c++) {            // columns: rows' combination Bᵀ d
    const [r0, r1, r2, r3] = [d(c), d(4 + c), d(8 + c), d(12 + c)];
    inBody.push(x.get(r0), x.get(r2), x.f32x4sub, x.set(tmp(0)));
    inBody.push(x.get(r1), x.get(r2), x.f32x4add, x.set(tmp(1)));
    inBody.push(x.get(r2), x.get(r1), x.f32x4sub, x.set(tmp(2)));
    inBody.push(x.get(r1), x.get(r3), x.f32x4sub, x.set(tmp(3)));
    [r0, r1, r2, r3].forEach((r, i) => inBody.push(x.get(tmp(i)), x.set(r)));
  }
  const storeV = (k: number, val: Code) => [x.get(3), x.i32load(4 * k), x.get(8), x.i32add, x.get(5), x.i32add, ...val, x.v128store()];
  for (let i = 0; i < 16; i += 4) {        // rows: t B
    const [t0, t1, t2, t3] = [d(i), d(i + 1), d(i + 2), d(i + 3)];
    inBody.push(...storeV(i, [x.get(t0), x.get(t2), x.f32x4sub]));
    inBody.push(...storeV(i + 1, [x.get(t1), x.get(t2), x.f32x4add]));
    inBody.push(...storeV(i + 2, [x.get(t2), x.get(t1), x.f32x4sub]));
    inBody.push(...storeV(i + 3, [x.get(t1), x.get(t3), x.f32x4sub]));
  }
  const winoIn: Fn = {
    name: 'winoIn', params: [I32, I32, I32, I32], locals: [[5, I32], [20, V128]],
    code: [x.get(2), x.i32c(4), x.i32shl, x.set(6), x.i32c(0), x.set(4), x.get(0), x.set(7), x.i32c(0), x.set(8),
      x.block, x.loop, ...loop16(5, 6, inBody),
      x.get(7), x.i32c(64), x.i32add, x.set(7), x.get(8), x.get(6), x.i32add, x.set(8),
      x.get(4), x.i32c(1), x.i32add, x.tee(4), x.get(1), x.i32ltu, x.brIf(0), x.end, x.end],
  };
  // winoOut params 0 mbase, 1 T, 2 C4, 3 dtab; locals 4 t, 5 j, 6 end, 7 trow, 8 moff; v128 9..24 m, 25..32 s
  const m = (k: number) => 9 + k, sv = (a: number, c: number) => 25 + 4 * a + c;
  const outBody: Code = [];
  for (let k = 0; k < 16; k++) outBody.push(x.get(0), x.i32load(4 * k), x.get(8), x.i32add, x.get(5), x.i32add, x.v128load(), x.set(m(k)));
  for (let c = 0; c < 4; c++) {
    outBody.push(x.get(m(c)), x.get(m(4 + c)), x.f32x4add, x.get(m(8 + c)), x.f32x4add, x.set(sv(0, c)));
    outBody.push(x.get(m(4 + c)), x.get(m(8 + c)), x.f32x4sub, x.get(m(12 + c)), x.f32x4sub, x.set(sv(1, c)));
  }
  const storeY = (q: number, val: Code) => [x.get(7), x.i32load(4 * q), x.get(5), x.i32add, ...val, x.v128store()];
  for (let a = 0; a < 2; a++) {
    outBody.push(...storeY(2 * a, [x.get(sv(a, 0)), x.get(sv(a, 1)), x.f32x4add, x.get(sv(a, 2)), x.f32x4add]));
    outBody.push(...storeY(2 * a + 1, [x.get(sv(a, 1)), x.get(sv(a, 2)), x.f32x4sub, x.get(sv(a, 3)), x.f32x4sub]));
  }
  const winoOut: Fn = {
    name: 'winoOut', params: [I32, I32, I32, I32], locals: [[5, I32], [24, V128]],
    code: [x.get(2), x.i32c(4), x.i32shl, x.set(6), x.i32c(0), x.set(4), x.get(3), x.set(7), x.i32c(0), x.set(8),
      x.block, x.loop, ...loop16(5, 6, outBody),
      x.get(7), x.i32c(16), x.i32add, x.set(7), x.get(8), x.get(6), x.i32add, x.set(8),
      x.get(4), x.i32c(1), x.i32add, x.tee(4), x.get(1), x.i32ltu, x.brIf(0), x.end, x.end],
  };
  return [winoIn, winoOut];
}

/**
 * maxPoolGrad2(tab, rows, Wo, C4, rowBytes, dy, dx): 2×2 windows with stride 2. tab[r] = byte offset (from x and from
 * dx alike) of window row r's top-left; per window: m = sequential strict max of v00, v01, v10, v11 (row-major),
 * the first v equal to m gets dy, the others 0 (as the cpu backend's first-maximum rule). dy rows are contiguous.
 * Params: 0 tab, 1 rows, 2 Wo, 3 C4, 4 rowBytes, 5 x, 6 dy, 7 dx. Offsets in tab are relative to x / dx.
 */
function maxPoolGrad(): Fn {
  // locals: 8 r, 9 ox, 10 j, 11 end, 12 off (window), 13 g (dy pointer); v128 14..17 v, 18 m, 19..22 e, 23 taken
  const [r, ox, j, end, off, g] = [8, 9, 10, 11, 12, 13];
  const v = (k: number) => 14 + k, m = 18, e = (k: number) => 19 + k, taken = 23;
  const vOff = (k: number): Code => {
    const c: Code = [x.get(off), x.get(j), x.i32add];
    if (k & 1) c.push(x.get(end), x.i32add);
    if (k & 2) c.push(x.get(4), x.i32add);
    return c;
  };
  const body: Code = [];
  for (let k = 0; k < 4; k++) body.push(x.get(5), ...vOff(k), x.i32add, x.v128load(), x.set(v(k)));
  body.push(x.get(v(0)), x.set(m));
  for (let k = 1; k < 4; k++) body.push(x.get(v(k)), x.get(m), x.get(v(k)), x.get(m), x.f32x4gt, x.bitselect, x.set(m));
  body.push(x.get(v(0)), x.get(m), x.f32x4eq, x.tee(e(0)), x.set(taken));
  for (let k = 1; k < 4; k++) {
    body.push(x.get(v(k)), x.get(m), x.f32x4eq, x.get(taken), x.v128andnot, x.tee(e(k)), x.get(taken), x.v128or, x.set(taken));
  }
  for (let k = 0; k < 4; k++) {
    body.push(x.get(7), ...vOff(k), x.i32add, x.get(g), x.get(j), x.i32add, x.v128load(), x.get(e(k)), x.v128and, x.v128store());
  }
  const code: Code = [
    x.get(3), x.i32c(4), x.i32shl, x.set(end), x.get(6), x.set(g), x.i32c(0), x.set(r),
    x.block, x.loop,
    x.get(0), x.get(r), x.i32c(2), x.i32shl, x.i32add, x.i32load(), x.set(off), x.i32c(0), x.set(ox),
    x.block, x.loop,
    ...loop16(j, end, body),
    x.get(off), x.get(end), x.i32c(1), x.i32shl, x.i32add, x.set(off),
    x.get(g), x.get(end), x.i32add, x.set(g),
    x.get(ox), x.i32c(1), x.i32add, x.tee(ox), x.get(2), x.i32ltu, x.brIf(0), x.end, x.end,
    x.get(r), x.i32c(1), x.i32add, x.tee(r), x.get(1), x.i32ltu, x.brIf(0), x.end, x.end,
  ];
  return { name: 'maxPoolGrad2', params: new Array(8).fill(I32), locals: [[6, I32], [10, V128]], code };
}

/** Module bytes: imports env.mem (shared with max 65536 pages when `shared`), exports the functions. */
export function trainModuleBytes(shared: boolean): Uint8Array {
  const fns = [...elementwise(), ...columnKernels(), ...winograd(), maxPoolGrad()];
  const types = fns.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0x00]);
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...str('env'), ...str('mem'), 0x02, ...limits]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map((f) => funcBody(f.locals, flat(f.code))))),
  ];
  return new Uint8Array(bytes);
}

export interface TrainKernels {
  larqSign(x: number, y: number, n4: number): void;
  sign(x: number, y: number, n4: number): void;
  steGrad(dy: number, x: number, dx: number, n4: number, clip: number): void;
  bop(w: number, m: number, g: number, wn: number, mn: number, n4: number, c1: number, c2: number, tau: number): void;
  colSum(x: number, rows: number, c4: number, acc: number): void;
  colSqDev(x: number, rows: number, c4: number, mu: number, acc: number): void;
  bnApply(x: number, y: number, rows: number, c4: number, mu: number, s: number, beta: number): void;
  bnGradSums(dy: number, x: number, rows: number, c4: number, mu: number, a1: number, a2: number): void;
  bnGradApply(dy: number, x: number, dx: number, rows: number, c4: number, mu: number, k0: number, k1: number, k2: number): void;
  winoIn(tab: number, T: number, c4: number, obase: number): void;
  winoOut(mbase: number, T: number, c4: number, dtab: number): void;
  maxPoolGrad2(tab: number, rows: number, wo: number, c4: number, rowBytes: number, x: number, dy: number, dx: number): void;
}

const cache = new WeakMap<object, TrainKernels | null>();

/**
 * Instantiate the kernels on `memory` (tfjs-backend-wasm's WebAssembly.Memory), or null where this runtime has no
 * WebAssembly SIMD. Cached per memory.
 */
export function trainKernelsFor(memory: WasmMemory): TrainKernels | null {
  if (cache.has(memory)) return cache.get(memory)!;
  let k: TrainKernels | null = null;
  try {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const bytes = trainModuleBytes(shared);
    if (WA && WA.validate(bytes)) {
      const inst = new WA.Instance(new WA.Module(bytes), { env: { mem: memory } });
      k = inst.exports as unknown as TrainKernels;
    }
  } catch {
    k = null;
  }
  cache.set(memory, k);
  return k;
}
