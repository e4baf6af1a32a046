/**
 * The reference interpreter of a PackedSpec (spec.ts): each binary stage is im2col of bits + the generic
 * XNOR-popcount GEMM of src/xnor (wasm SIMD / i64 or JS) + the exact padding correction, the real first layer a
 * float32 GEMM over float patches, then max-pools, thresholds or the final BN in plain JS typed arrays.
 * Single-threaded. The fused engine (engine.ts) must agree with it bit for bit (tests).
 *
 * The real first layer is the only one computed in floating point; its sums may round differently from
 * tfjs' (different summation order), which can flip a bit whose pre-activation lies within ~1e-6 of its
 * threshold — the only source of difference from the float model.
 */
import { im2colBits, paddingTable, tapPopcounts, unpackKernel, words, xnorOutputs } from '../xnor';
import type { BinaryKernel, PaddingTable } from '../xnor';
import { finalOutputs, pooledSize } from './spec';
import type { PackedSpec, PackedStage, PoolSpec } from './spec';

const round4 = (n: number) => Math.ceil(n / 4) * 4;

interface StageRuntime {
  s: PackedStage;
  /** patch row words (binary stages, a multiple of 4) */
  kp: number;
  /** outC rounded up to 4 (binary) or 16 (real) */
  noutp: number;
  wOff: number;
  /** binary stage: the padding correction (src/xnor/conv.ts) */
  pad: PaddingTable | null;
  /** conv output pre-activations [convH·convW][outC] */
  pre: Float32Array;
  /** pooled buffers */
  pooled: Float32Array[];
  /** packed output bits [outH·outW][words(outC)] (threshold stages) */
  bits: Uint32Array | null;
  /** threshold stages: sgn = neg ? −1 : 1 and st = sgn·t per channel */
  sgn: Float32Array | null;
  st: Float32Array | null;
}

/** Runs a PackedSpec's stages on one GEMM kernel (its memory holds every stage's weights and one scratch area). */
export class ReferenceRunner {
  private readonly rt: StageRuntime[];
  private readonly patchOff: number;
  private readonly outOff: number;

  constructor(
    readonly spec: PackedSpec,
    readonly kernel: BinaryKernel,
  ) {
    const K = kernel;
    let maxPatch = 0;
    let maxOut = 0;
    this.rt = spec.stages.map((s): StageRuntime => {
      const shape = { kh: s.kh, kw: s.kw, cin: s.inC, cout: s.outC };
      const kk = s.kh * s.kw;
      const cw = words(s.inC);
      const npix = s.convH * s.convW;
      let kp = 0;
      let noutp: number;
      let wOff: number;
      let pad: PaddingTable | null = null;
      if (s.input === 'binary') {
        // rows of kp words (a multiple of 4: the wasm kernels read 16 bytes at a time), noutp rows
        kp = round4(kk * cw);
        noutp = round4(s.outC);
        wOff = K.alloc(noutp * kp * 4);
        const m = new Uint32Array(K.buffer(), wOff, noutp * kp);
        for (let o = 0; o < s.outC; o++) m.set(s.weights.subarray(o * kk * cw, (o + 1) * kk * cw), o * kp);
        pad = paddingTable(s, tapPopcounts(s.weights, shape), s.outC);
        // + 1 spare row: the wasm kernels work on pixel pairs
        maxPatch = Math.max(maxPatch, (npix + 1) * kp * 4);
        maxOut = Math.max(maxOut, (npix + 1) * noutp * 4);
      } else {
        // ±1 floats, [kh·kw·inC][noutp] (noutp a multiple of 16 for the f32x4 GEMM)
        noutp = Math.ceil(s.outC / 16) * 16;
        const kq = kk * s.inC;
        wOff = K.alloc(kq * noutp * 4);
        new Float32Array(K.buffer(), wOff, kq * noutp).set(unpackKernel(s.weights, shape, noutp));
        maxPatch = Math.max(maxPatch, npix * kq * 4);
        maxOut = Math.max(maxOut, npix * noutp * 4);
      }
      const post = s.post;
      const pooled: Float32Array[] = [];
      let h = s.convH;
      let w = s.convW;
      for (const p of s.pools) {
        h = pooledSize(h, p.size[0], p.stride[0]);
        w = pooledSize(w, p.size[1], p.stride[1]);
        pooled.push(new Float32Array(h * w * s.outC));
      }
      return {
        s,
        kp,
        noutp,
        wOff,
        pad,
        pre: new Float32Array(npix * s.outC),
        pooled,
        bits: post.kind === 'threshold' ? new Uint32Array(s.outH * s.outW * words(s.outC)) : null,
        sgn: post.kind === 'threshold' ? Float32Array.from(post.neg, (n) => (n ? -1 : 1)) : null,
        st: post.kind === 'threshold' ? Float32Array.from(post.t, (t, i) => (post.neg[i] ? -t : t)) : null,
      };
    });
    this.patchOff = K.alloc(Math.max(16, maxPatch));
    this.outOff = K.alloc(Math.max(16, maxOut));
  }

  /**
   * Stage `i` (conv + pools + post) on a real image [inH·inW·inC] or bits [inH·inW][words(inC)]: returns its bits
   * (threshold stages; a view, valid until the stage runs again) or its real outputs [outH·outW·outC] (a new array).
   * `timings`, when given, accumulates milliseconds per phase under `<stage name> conv|pool|post`.
   */
  runStage(
    i: number,
    input: Float32Array | Uint32Array,
    timings: Record<string, number> | null = null,
  ): Uint32Array | Float32Array {
    const r = this.rt[i];
    const s = r.s;
    let t0 = timings ? performance.now() : 0;
    const lap = (key: string) => {
      if (!timings) return;
      const t = performance.now();
      timings[`${s.name} ${key}`] = (timings[`${s.name} ${key}`] ?? 0) + t - t0;
      t0 = t;
    };
    if (s.input === 'real') this.realConv(r, input as Float32Array);
    else this.binaryConv(r, input as Uint32Array);
    lap('conv');
    let y = r.pre;
    let h = s.convH;
    let w = s.convW;
    s.pools.forEach((p, k) => {
      maxPool(y, h, w, s.outC, p, r.pooled[k]);
      h = pooledSize(h, p.size[0], p.stride[0]);
      w = pooledSize(w, p.size[1], p.stride[1]);
      y = r.pooled[k];
    });
    lap('pool');
    const post = s.post;
    let out: Uint32Array | Float32Array;
    if (post.kind === 'threshold') {
      threshold(y, h * w, s.outC, r.sgn!, r.st!, r.bits!);
      out = r.bits!;
    } else out = finalOutputs(post, y, s.outC);
    lap('post');
    return out;
  }

  /** A sequential spec on one image: every stage in turn; the last stage's real outputs. */
  forward(image: Float32Array, timings: Record<string, number> | null = null): Float32Array {
    let x: Float32Array | Uint32Array = image;
    for (let i = 0; i < this.rt.length; i++) x = this.runStage(i, x, timings);
    return x as Float32Array;
  }

  /** First layer: real input × ±1 kernel, zero padding: im2col of floats + the kernel's float32 GEMM. */
  private realConv(r: StageRuntime, img: Float32Array): void {
    const s = r.s;
    const { inH, inW, inC, kh, kw, outC } = s;
    const kq = kh * kw * inC;
    const npix = s.convH * s.convW;
    const noutp = r.noutp;
    const patches = new Float32Array(this.kernel.buffer(), this.patchOff, npix * kq);
    let j = 0;
    for (let oy = 0; oy < s.convH; oy++)
      for (let ox = 0; ox < s.convW; ox++)
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * s.strideH + ky - s.padTop;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * s.strideW + kx - s.padLeft;
            if (iy >= 0 && iy < inH && ix >= 0 && ix < inW) {
              const base = (iy * inW + ix) * inC;
              for (let c = 0; c < inC; c++) patches[j++] = img[base + c];
            } else for (let c = 0; c < inC; c++) patches[j++] = 0;
          }
        }
    this.kernel.sgemm(this.patchOff, npix, kq, r.wOff, noutp, this.outOff);
    const y = new Float32Array(this.kernel.buffer(), this.outOff, npix * noutp);
    const pre = r.pre;
    if (noutp === outC) pre.set(y);
    else for (let p = 0; p < npix; p++) pre.set(y.subarray(p * noutp, p * noutp + outC), p * outC);
  }

  /** Binary layer: im2col of bits into the kernel's memory, XNOR-popcount GEMM, padding correction (src/xnor). */
  private binaryConv(r: StageRuntime, bits: Uint32Array): void {
    const s = r.s;
    const { kp, noutp } = r;
    const npix = s.convH * s.convW;
    const patches = new Uint32Array(this.kernel.buffer(), this.patchOff, (npix + 1) * kp);
    im2colBits(bits, s, 1, patches, 0, kp);
    patches.fill(0, npix * kp); // spare zero row for pixel pairs
    this.kernel.bgemm(this.patchOff, npix, kp, r.wOff, noutp, this.outOff);
    xnorOutputs(new Int32Array(this.kernel.buffer(), this.outOff, npix * noutp), noutp, r.pad!, 1, s.outC, r.pre);
  }
}

/** Max-pool ('valid') of [h][w][c] into dst (2×2/2 specialised: BinaryNet's only pool). */
function maxPool(src: Float32Array, h: number, w: number, c: number, p: PoolSpec, dst: Float32Array): void {
  const oh = pooledSize(h, p.size[0], p.stride[0]);
  const ow = pooledSize(w, p.size[1], p.stride[1]);
  if (p.size[0] === 2 && p.size[1] === 2 && p.stride[0] === 2 && p.stride[1] === 2) {
    const row = w * c;
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        const ob = (oy * ow + ox) * c;
        const a = (2 * oy * w + 2 * ox) * c;
        const b = a + c;
        const d = a + row;
        const e = d + c;
        for (let ch = 0; ch < c; ch++) {
          const m1 = Math.max(src[a + ch], src[b + ch]);
          const m2 = Math.max(src[d + ch], src[e + ch]);
          dst[ob + ch] = Math.max(m1, m2);
        }
      }
    return;
  }
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++) {
      const ob = (oy * ow + ox) * c;
      for (let ch = 0; ch < c; ch++) {
        let m = -Infinity;
        for (let dy = 0; dy < p.size[0]; dy++)
          for (let dx = 0; dx < p.size[1]; dx++) {
            const v = src[((oy * p.stride[0] + dy) * w + ox * p.stride[1] + dx) * c + ch];
            if (v > m) m = v;
          }
        dst[ob + ch] = m;
      }
    }
}

/**
 * bits[pix][c/32] bit c = (sgn[c]·y ≥ st[c]), where sgn = ±1 and st = sgn·t: the same as
 * neg ? y ≤ t : y ≥ t, without a branch per value.
 */
function threshold(
  y: Float32Array,
  npix: number,
  c: number,
  sgn: Float32Array,
  st: Float32Array,
  bits: Uint32Array,
): void {
  const cw = words(c);
  for (let p = 0; p < npix; p++) {
    const yb = p * c;
    const bb = p * cw;
    for (let wi = 0; wi < cw; wi++) {
      const c0 = wi * 32;
      const c1 = Math.min(c, c0 + 32);
      let word = 0;
      for (let ch = c0; ch < c1; ch++) word |= +(sgn[ch] * y[yb + ch] >= st[ch]) << (ch - c0); // branchless: 2.6× faster than an if
      bits[bb + wi] = word;
    }
  }
}
