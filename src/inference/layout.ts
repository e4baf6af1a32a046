/**
 * Memory layout of the fused engine (engine.ts): where every stage's input image, weights, tables and scratch live
 * in the one linear memory of a model, and which generated function (codegen.ts) runs each stage.
 *
 *   - No im2col. Each layer's input lives in linear memory as a *padded* image: bits [Hp][Wp][ceil(inC/32) words]
 *     (binary stages; unused high bits 0 in both input and kernel, so they XOR to 0) or float32 [Hp][Wp][inC] (the
 *     real first layer). The padding border holds 0-bits (= −1 for binary inputs, corrected exactly by the
 *     post-op's A table) or 0.0 (real input, exact as is). A patch is then `kh` contiguous segments of kw·cw words,
 *     one per kernel row, `Wp·cw` words apart, so the GEMM reads the image in place: the address of each output
 *     pixel's patch comes from a table.
 *   - Each stage's post-op writes its bits straight into every consumer's padded image (graphs: at the channel
 *     offset of a concatenation, and at 4 positions for a 2× upsampling), through a table of destinations per
 *     output pixel. Channels beyond outC get T = 2^30 (never set). The last stage writes its integer y to a final
 *     buffer; JS applies the float32 BN.
 *
 * threads.ts' StageLayout describes each stage's tables; the padding correction, the kernel tap popcounts and the
 * real layer's ±1 weights come from src/xnor.
 */
import { paddingTable, tapPopcounts, unpackKernel, words } from '../xnor';
import type { PackedSpec, PackedStage, PoolSpec } from './spec';
import { assembleFns, Fn, genBgemm, genBgemmMix, genPost, genSgemm } from './codegen';
import type { GemmGeom, GemmMode, GemmTune } from './codegen';
import type { EnginePlan, FusedBuild, StageLayout } from './threads';

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;
/** The threshold of channels beyond outC: never reached, so their bits stay 0. */
const T_NEVER = 1 << 30;

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
          resolve(c, chanOff, (qy, qx) =>
            map(qy, qx).flatMap(([y, x]) => {
              const out: [number, number][] = [];
              for (let dy = 0; dy < fy; dy++) for (let dx = 0; dx < fx; dx++) out.push([y * fy + dy, x * fx + dx]);
              return out;
            }),
          );
        } else if (cn.op === 'concat') {
          const k = cn.inputs.indexOf(n);
          if (cn.inputs.indexOf(n, k + 1) >= 0) throw new Error(`${cn.name}: the same input twice`);
          let off = 0;
          for (const j of cn.inputs.slice(0, k)) {
            if (nodes[j].c % 16 !== 0)
              throw new Error(`${cn.name}: an input of ${nodes[j].c} channels (not a multiple of 16) before others`);
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
/** Bump allocator over the model's memory: 64-byte aligned blocks from byte 64; `put` also records their contents. */
class Arena {
  top = 64;
  readonly init: [number, Uint8Array][] = [];
  alloc(bytes: number): number {
    const off = this.top;
    this.top += roundUp(Math.max(bytes, 16), 64);
    return off;
  }
  put(a: Int32Array | Float32Array | Uint32Array): number {
    const off = this.alloc(a.byteLength);
    this.init.push([off, new Uint8Array(a.buffer, a.byteOffset, a.byteLength)]);
    return off;
  }
}

/** A stage's padded input image [Hp][Wp][pixB bytes] at byte `off`. */
interface PaddedImage {
  Hp: number;
  Wp: number;
  pixB: number;
  off: number;
}

function paddedImage(s: PackedStage, mem: Arena): PaddedImage {
  const Hp = Math.max(s.inH + s.padTop, (s.convH - 1) * s.strideH + s.kh);
  const Wp = Math.max(s.inW + s.padLeft, (s.convW - 1) * s.strideW + s.kw);
  const pixB = s.input === 'real' ? s.inC * 4 : words(s.inC) * 4;
  return { Hp, Wp, pixB, off: mem.alloc(Hp * Wp * pixB) };
}

/**
 * A stage's GEMM: blocking P pixels × R kernel rows (`tune` or the defaults of `mode`), the table of each conv
 * pixel's patch address (padded to npixP entries), the scratch output [npixP][noutp] and the weights in patch
 * order (binary: rows of uint32 words; real: the ±1 kernel as float32 [kh·kw·inC][noutp]).
 */
function layoutGemm(
  s: PackedStage,
  im: PaddedImage,
  mem: Arena,
  mode: GemmMode,
  tune: GemmTune,
): GemmGeom & { npix: number; npixP: number } {
  const npix = s.convH * s.convW;
  const narrow = npix === 1 || mode === 'mix';
  const P = s.input === 'real' ? (tune.PR ?? 1) : (tune.P ?? (narrow ? 1 : 2));
  const R = s.input === 'real' ? 16 : (tune.R ?? (narrow ? 8 : 4));
  if (s.input === 'binary' && (16 % R !== 0 || (mode !== 'i64' && R % 4 !== 0)))
    throw new Error(`buildFused: R = ${R} must divide 16 (and be a multiple of 4 for SIMD)`);
  const npixP = roundUp(npix, P);
  const noutp = roundUp(s.outC, 16);
  const kk = s.kh * s.kw;
  const tabA = new Int32Array(npixP);
  for (let p = 0; p < npixP; p++) {
    const pp = p < npix ? p : 0;
    const oy = Math.floor(pp / s.convW),
      ox = pp % s.convW;
    tabA[p] = im.off + (oy * s.strideH * im.Wp + ox * s.strideW) * im.pixB;
  }
  const tab = mem.put(tabA);
  const outOff = mem.alloc(npixP * noutp * 4);
  const segStride = im.Wp * im.pixB;
  if (s.input === 'real') {
    const wf = unpackKernel(s.weights, { kh: s.kh, kw: s.kw, cin: s.inC, cout: s.outC }, noutp);
    return {
      npix,
      npixP,
      tab,
      segs: s.kh,
      segStride,
      segBytes: s.kw * im.pixB,
      wOff: mem.put(wf),
      KB: noutp * 4,
      noutp,
      outOff,
      P,
      R,
    };
  }
  let segs = s.kh,
    segBytes = s.kw * im.pixB;
  if (segStride === segBytes) ((segBytes *= segs), (segs = 1));
  const cw = words(s.inC);
  const cwp = im.pixB / 4;
  const KW = kk * cwp;
  const wb = new Uint32Array(noutp * KW);
  for (let o = 0; o < s.outC; o++)
    for (let pos = 0; pos < kk; pos++)
      for (let j = 0; j < cw; j++) wb[o * KW + pos * cwp + j] = s.weights[(o * kk + pos) * cw + j];
  return { npix, npixP, tab, segs, segStride, segBytes, wOff: mem.put(wb), KB: KW * 4, noutp, outOff, P, R };
}

/**
 * A stage's routing tables: the pool window's conv-pixel offsets, each output pixel's pool source (srcA) and its K
 * destinations (dstA: byte addresses in the consumers' padded images, or in the final buffer, allocated here).
 */
function layoutRoutes(s: PackedStage, rt: Route, S: PackedStage[], img: PaddedImage[], noutp: number, mem: Arena) {
  const pool = rt.pool;
  const window: number[] = [];
  if (pool)
    for (let dy = 0; dy < pool.size[0]; dy++) for (let dx = 0; dx < pool.size[1]; dx++) window.push(dy * s.convW + dx);
  else window.push(0);
  const nq = rt.outH * rt.outW;
  const srcA = new Int32Array(nq);
  const last = rt.dests.some((d) => d.stage < 0);
  const K = rt.dests.reduce((n, d) => n + d.map(0, 0).length, 0);
  const dstA = new Int32Array(nq * K);
  const finalOff = last ? mem.alloc(nq * noutp * 4) : 0;
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
            if (y >= n.inH || x >= n.inW)
              throw new Error(`buildFused: stage ${s.name} writes outside stage ${n.name}'s input`);
            dstA[qi * K + k++] = ni.off + ((y + n.padTop) * ni.Wp + x + n.padLeft) * ni.pixB + d.chanOff / 8;
          }
        }
    }
  return { window, nq, srcA, dstA, K, last, finalOff };
}

/**
 * A stage's post-op constants: for a binary stage the padding correction (A[pattern][o] = nValid·inC +
 * 2·Σ_{padded taps} popcount(w_tap), src/xnor/conv.ts) and its per-pixel row table; for a threshold stage sgn and T
 * (binary: integer y ≥ ceil(t), or −y ≥ ceil(−t) for a negative scale; real: float32 sgn·y ≥ sgn·t). −1: none.
 */
function layoutPostConstants(
  s: PackedStage,
  noutp: number,
  mem: Arena,
): { patTab: number; sgnOff: number; tOff: number } {
  let patTab = 0;
  if (s.input === 'binary') {
    const pad = paddingTable(
      s,
      tapPopcounts(s.weights, { kh: s.kh, kw: s.kw, cin: s.inC, cout: s.outC }),
      s.outC,
      noutp,
    );
    const aOff = mem.put(pad.A);
    patTab = mem.put(Int32Array.from(pad.pattern, (id) => aOff + id * noutp * 4));
  }
  const post = s.post;
  if (post.kind !== 'threshold') return { patTab, sgnOff: -1, tOff: -1 };
  if (s.input === 'real') {
    const sg = new Float32Array(noutp).fill(1),
      st = new Float32Array(noutp).fill(Infinity);
    for (let o = 0; o < s.outC; o++) ((sg[o] = post.neg[o] ? -1 : 1), (st[o] = post.neg[o] ? -post.t[o] : post.t[o]));
    return { patTab, sgnOff: mem.put(sg), tOff: mem.put(st) };
  }
  const sg = new Int32Array(noutp).fill(1),
    T = new Int32Array(noutp).fill(T_NEVER);
  const clamp = (v: number) => Math.max(-T_NEVER, Math.min(T_NEVER, v));
  for (let o = 0; o < s.outC; o++) {
    sg[o] = post.neg[o] ? -1 : 1;
    T[o] = clamp(post.neg[o] ? Math.ceil(-post.t[o]) : Math.ceil(post.t[o]));
  }
  return { patTab, sgnOff: mem.put(sg), tOff: mem.put(T) };
}

/** The layout of stage i (every table allocated in `mem`) and its cost in bit multiply-accumulates. */
function layoutStage(
  spec: PackedSpec,
  i: number,
  rt: Route,
  img: PaddedImage[],
  mem: Arena,
  mode: GemmMode,
  tune: GemmTune,
) {
  const s = spec.stages[i];
  const g = layoutGemm(s, img[i], mem, mode, tune);
  const r = layoutRoutes(s, rt, spec.stages, img, g.noutp, mem);
  const c = layoutPostConstants(s, g.noutp, mem);
  const st: StageLayout = {
    real: s.input === 'real',
    npix: g.npix,
    npixP: g.npixP,
    noutp: g.noutp,
    outC: s.outC,
    tab: g.tab,
    segs: g.segs,
    segStride: g.segStride,
    segBytes: g.segBytes,
    wOff: g.wOff,
    KB: g.KB,
    outOff: g.outOff,
    nq: r.nq,
    srcTab: mem.put(r.srcA),
    dstTab: mem.put(r.dstA),
    K: r.K,
    window: r.window,
    afterSign: rt.afterSign,
    ...c,
    final: r.last,
  };
  // a float multiply-add costs about as much as 64 bit ones here (f32x4 vs xor+popcnt on 128 bits, measured order)
  const macs = g.npix * g.noutp * s.kh * s.kw * (s.input === 'real' ? s.inC * 64 : img[i].pixB * 8);
  return { g, st, macs, finalOff: r.finalOff };
}

/** The generated GEMM and post-op of stage i (codegen.ts). */
function stageFunctions(
  s: PackedStage,
  i: number,
  g: GemmGeom,
  st: StageLayout,
  mode: GemmMode,
  tune: GemmTune,
): [Fn, Fn] {
  const fnG = new Fn(`gemm${i}`, 4);
  if (s.input === 'real') genSgemm(fnG, g, s.kw * s.inC);
  else if (mode === 'mix') genBgemmMix(fnG, g, tune.RS ?? g.R / 2);
  else genBgemm(fnG, g, mode);
  const fnP = new Fn(`post${i}`, 4);
  genPost(fnP, st);
  return [fnG, fnP];
}

/**
 * Lays out memory for `spec` and generates its module. `mode` picks the binary GEMM; `shared` declares the
 * imported memory shared (for worker threads). With `codegen` false only the memory layout is made (`bytes` is
 * empty; `layout` describes every stage for an engine that runs the same memory with its own code: native.ts).
 */
export function buildFused(
  spec: PackedSpec,
  mode: GemmMode,
  shared = false,
  tune: GemmTune = {},
  codegen = true,
): FusedBuild {
  const why = fusedSupports(spec);
  if (why) throw new Error(`buildFused: unsupported model (${why})`);
  const mem = new Arena();
  const S = spec.stages;
  const RT = routes(spec);
  const img = S.map((s) => paddedImage(s, mem));
  const fns: Fn[] = [];
  const plans: EnginePlan[] = [];
  const layout: StageLayout[] = [];
  let final: FusedBuild['final'] | null = null;
  S.forEach((s, i) => {
    const { g, st, macs, finalOff } = layoutStage(spec, i, RT[i], img, mem, mode, tune);
    layout.push(st);
    if (s.post.kind !== 'threshold') final = { off: finalOff, npix: st.nq, noutp: st.noutp, outC: s.outC };
    if (codegen) fns.push(...stageFunctions(s, i, g, st, mode, tune));
    plans.push({
      stage: i,
      gemm: `gemm${i}`,
      post: `post${i}`,
      npixP: st.npixP,
      P: g.P,
      noutp: st.noutp,
      R: g.R,
      nq: st.nq,
      macs,
    });
  });
  const pages = Math.ceil(mem.top / 65536) + 1;
  const s0 = S[0];
  return {
    bytes: codegen ? assembleFns(fns, pages, shared) : new Uint8Array(0),
    pages,
    layout,
    init: mem.init,
    plans,
    input: { off: img[0].off, H: s0.inH, W: s0.inW, C: s0.inC, Wp: img[0].Wp, padTop: s0.padTop, padLeft: s0.padLeft },
    final: final!,
  };
}
