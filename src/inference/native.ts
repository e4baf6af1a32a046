/**
 * Native packed inference (the oneDNN Node-API addon, native/packed.cc and native/float_net.cc):
 *
 *   NativeEngine      the packed model on native XNOR-popcount kernels. It runs the memory layout of the fused wasm
 *                     engine (layout.ts' buildFused without code generation: padded bit images, patch tables, padding
 *                     correction rows, integer thresholds, routes) with C++ kernels for AVX-512 VPOPCNTDQ, AVX2
 *                     (nibble-lookup popcount) or scalar popcnt, picked at run time from CPUID (the widest the CPU
 *                     has; `isa` or BNN_PACKED_ISA=avx2|scalar forces a narrower one). Pooling works on the output
 *                     bits (OR, then XOR of the negative-scale channels: native/packed.cc). 1 or more threads: one
 *                     image splits every stage's tiles; a batch gives whole images to each thread. Returns the same
 *                     integers as the fused engine and the reference interpreter (tests).
 *   FloatOneDnn       the same network with float32 weights (±1.0f) through oneDNN in float32 (convolutions, inner
 *                     products, max-pools; BN + sign as the folded thresholds): the float baseline of the benchmark.
 *   popcountPeak      the machine's XNOR-popcount throughput (binary multiply-accumulates per second) from a
 *                     register-only loop of xor + popcount + add, the ceiling for any engine on that instruction set.
 *
 * Availability: the addon must be built with these entry points (scripts/setup.sh; `npm run build:native`) and not
 * disabled by BNN_NATIVE=0; `nativeInference()` says whether it is and, if not, why. Without it PackedModel runs the
 * fused wasm engine (engine.ts), the portable fallback.
 */
import * as fs from 'fs';
import * as os from 'os';
import { loadNativeAddon, nativeAddonError, nativeDisabledByEnv } from '../backend/native';
import { words } from '../xnor';
import { buildFused, fusedSupports } from './engine';
import type { FusedBuild } from './threads';
import { finalOutputs } from './spec';
import type { PackedSpec } from './spec';
import { envNativeOff, envPackedIsa } from '../util/env';

/** Instruction sets of the native engine, widest first. */
export const NATIVE_ISAS = ['avx512', 'avx2', 'scalar'] as const;
export type NativeIsa = (typeof NATIVE_ISAS)[number];

type Handle = object;
interface InferenceAddon {
  packedCpu(): { isas: NativeIsa[]; features: string[]; brand: string };
  packedCreate(
    memory: Uint8Array,
    stages: Int32Array,
    windows: Int32Array,
    io: Int32Array,
    isa: NativeIsa,
    threads: number,
  ): Handle;
  packedRun(h: Handle, images: Float32Array, n: number, out: Int32Array): void;
  packedFree(h: Handle): void;
  popcountPeak(isa: NativeIsa, threads: number, chunk: number, seconds: number): { macs: number; seconds: number };
  floatNetCreate(
    stages: Int32Array,
    weights: Float32Array[],
    sgn: Float32Array[],
    st: Float32Array[],
    threads: number,
  ): Handle;
  floatNetRun(h: Handle, images: Float32Array, n: number, out: Float32Array): void;
  floatNetInfo(h: Handle): string[];
  floatNetFree(h: Handle): void;
}

/** Whether native packed inference runs here: the addon, the CPU's instruction sets and features, or why not. */
export interface NativeInference {
  available: boolean;
  /** Why not (BNN_NATIVE=0, addon not built, built before the packed engine existed, load error). */
  reason?: string;
  /** Usable instruction sets, widest first. */
  isas: NativeIsa[];
  /** CPU features the engine looks at (popcnt, avx2, avx512f, avx512bw, avx512vl, avx512vpopcntdq, ...): from CPUID, or without the addon from the OS where it says (Linux). */
  features: string[];
  /** CPU model: the CPUID brand string, else the OS's name for it. */
  cpu: string;
}

function addon(): { a: InferenceAddon | null; reason?: string } {
  if (nativeDisabledByEnv()) return { a: null, reason: `native code disabled (BNN_NATIVE=${envNativeOff()})` };
  const a = loadNativeAddon() as unknown as InferenceAddon | null;
  if (!a) return { a: null, reason: nativeAddonError() ?? 'native addon unavailable' };
  if (typeof a.packedCreate !== 'function' || typeof a.floatNetCreate !== 'function')
    return {
      a: null,
      reason:
        'the native addon was built without the packed inference engine: rebuild it (`npm run build:native` or scripts/setup.sh)',
    };
  return { a };
}

/** The CPU features the native engine looks at, from the OS (Linux' /proc/cpuinfo) when the addon is not there to ask. */
function osFeatures(): string[] {
  try {
    const flags = new Set(
      (/^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').trim().split(/\s+/),
    );
    const names: [string, string][] = [
      ['popcnt', 'popcnt'],
      ['avx2', 'avx2'],
      ['fma', 'fma'],
      ['avx512f', 'avx512f'],
      ['avx512bw', 'avx512bw'],
      ['avx512vl', 'avx512vl'],
      ['avx512_vpopcntdq', 'avx512vpopcntdq'],
      ['avx512_vnni', 'avx512vnni'],
    ];
    return names.filter(([f]) => flags.has(f)).map(([, n]) => n);
  } catch {
    return [];
  }
}

/** See NativeInference. */
export function nativeInference(): NativeInference {
  const { a, reason } = addon();
  const osCpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  if (!a) return { available: false, reason, isas: [], features: osFeatures(), cpu: osCpu };
  const c = a.packedCpu();
  return { available: true, isas: c.isas, features: c.features, cpu: c.brand || osCpu };
}

/**
 * The instruction set BNN_PACKED_ISA asks for (avx512 | avx2 | scalar), or undefined when unset. A value that is not
 * one of them throws, naming it.
 */
export function isaFromEnv(env: NodeJS.ProcessEnv = process.env): NativeIsa | undefined {
  const v = envPackedIsa(env)?.toLowerCase();
  if (!v) return undefined;
  if (!(NATIVE_ISAS as readonly string[]).includes(v))
    throw new Error(
      `BNN_PACKED_ISA=${envPackedIsa(env)}: expected one of ${NATIVE_ISAS.join(', ')} (or unset for the widest this CPU has)`,
    );
  return v as NativeIsa;
}

/** Why the native engine cannot run `spec` (the layouts it takes are the fused engine's), or null. */
export function nativeSupports(spec: PackedSpec): string | null {
  const { a, reason } = addon();
  if (!a) return reason!;
  return fusedSupports(spec);
}

/** Options of the native engine. */
export interface NativeOptions {
  /** Instruction set (default: BNN_PACKED_ISA, else the widest the CPU has); one the CPU lacks throws. */
  isa?: NativeIsa;
  /** Threads (default 1). */
  threads?: number;
}

const S_FIELDS = 23;

/** The `stages`, `windows` and `io` arrays native/packed.cc reads (its `Field` order) from a layout-only build. */
function layoutArrays(b: FusedBuild): { stages: Int32Array; windows: Int32Array; io: Int32Array } {
  const stages = new Int32Array(b.layout.length * S_FIELDS);
  const win: number[] = [];
  b.layout.forEach((l, i) => {
    const f = [
      +l.real,
      +l.final,
      +l.afterSign,
      l.npix,
      l.npixP,
      l.noutp,
      l.outC,
      l.tab,
      l.segs,
      l.segStride,
      l.segBytes,
      l.wOff,
      l.KB,
      l.outOff,
      l.nq,
      l.srcTab,
      l.dstTab,
      l.K,
      l.patTab,
      l.sgnOff,
      l.tOff,
      win.length,
      l.window.length,
    ];
    stages.set(f, i * S_FIELDS);
    win.push(...l.window);
  });
  const { input: n, final: fin } = b;
  const io = Int32Array.from([n.off, n.H, n.W, n.C, n.Wp, n.padTop, n.padLeft, fin.off, fin.npix, fin.noutp, fin.outC]);
  return { stages, windows: Int32Array.from(win), io };
}

/**
 * A packed model on the native engine (see the module comment). `forward` returns the last stage's integer outputs
 * (before the float BN) for n images; PackedModel / PackedGraphModel wrap it.
 */
export class NativeEngine {
  readonly isa: NativeIsa;
  readonly threads: number;
  /** [npix, outC] of the last stage's integer outputs per image. */
  readonly outShape: [number, number];
  private handle: Handle | null;
  private readonly a: InferenceAddon;
  private readonly per: number;

  constructor(
    readonly spec: PackedSpec,
    opts: NativeOptions = {},
  ) {
    const { a, reason } = addon();
    if (!a) throw new Error(`NativeEngine: ${reason}`);
    const why = fusedSupports(spec);
    if (why)
      throw new Error(`NativeEngine: unsupported model (${why}); run it with PackedModel's wasm or reference path`);
    const isas = a.packedCpu().isas;
    const isa = opts.isa ?? isaFromEnv() ?? isas[0];
    if (!isas.includes(isa))
      throw new Error(
        `NativeEngine: this CPU cannot run the ${isa} path (it has ${isas.join(', ')}); choose one of those`,
      );
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1)
      throw new Error(`NativeEngine: threads must be a positive integer, got ${threads}`);
    const b = buildFused(spec, 'i64', false, {}, false);
    const mem = new Uint8Array(b.pages * 65536);
    for (const [off, data] of b.init) mem.set(data, off);
    const { stages, windows, io } = layoutArrays(b);
    this.handle = a.packedCreate(mem, stages, windows, io, isa, threads);
    this.a = a;
    this.isa = isa;
    this.threads = threads;
    this.outShape = [b.final.npix, b.final.outC];
    this.per = b.input.H * b.input.W * b.input.C;
  }

  /** n images (NHWC float32, n·H·W·C values) → the last stage's integers [n][npix·outC]. */
  forward(images: Float32Array, n = images.length / this.per): Int32Array {
    if (!this.handle) throw new Error('NativeEngine: disposed');
    if (!Number.isInteger(n) || images.length < n * this.per)
      throw new Error(`NativeEngine.forward: ${images.length} values is not ${n} images of ${this.per}`);
    const out = new Int32Array(n * this.outShape[0] * this.outShape[1]);
    this.a.packedRun(this.handle, images, n, out);
    return out;
  }

  /** Frees the native memory now (otherwise the garbage collector does). */
  dispose(): void {
    if (this.handle) this.a.packedFree(this.handle);
    this.handle = null;
  }
}

/**
 * The float baseline (see the module comment) of a sequential spec: `predict` returns the final BN's float32 outputs
 * [n][numClasses], which equal the packed model's whenever the first layer's float sums round alike (always for
 * dyadic inputs: tests).
 */
export class FloatOneDnn {
  readonly threads: number;
  private handle: Handle | null;
  private readonly a: InferenceAddon;
  private readonly per: number;

  constructor(
    readonly spec: PackedSpec,
    threads = 1,
  ) {
    const { a, reason } = addon();
    if (!a) throw new Error(`FloatOneDnn: ${reason}`);
    if (spec.graph)
      throw new Error('FloatOneDnn: graph models (UNet) are not supported; it takes sequential specs (BinaryNet)');
    if (!Number.isInteger(threads) || threads < 1)
      throw new Error(`FloatOneDnn: threads must be a positive integer, got ${threads}`);
    const fields: number[] = [];
    const weights: Float32Array[] = [];
    const sgn: Float32Array[] = [];
    const st: Float32Array[] = [];
    spec.stages.forEach((s, i) => {
      if (s.pools.length > 1)
        throw new Error(`FloatOneDnn: stage ${s.name} has ${s.pools.length} pools; at most one is supported`);
      const final = i === spec.stages.length - 1;
      if (final !== (s.post.kind !== 'threshold'))
        throw new Error(`FloatOneDnn: stage ${s.name}: only the last stage may have float outputs`);
      const p = s.pools[0];
      const padB = (s.convH - 1) * s.strideH + s.kh - s.inH - s.padTop;
      const padR = (s.convW - 1) * s.strideW + s.kw - s.inW - s.padLeft;
      fields.push(
        s.inH,
        s.inW,
        s.inC,
        s.outC,
        s.kh,
        s.kw,
        s.strideH,
        s.strideW,
        s.padTop,
        s.padLeft,
        Math.max(0, padB),
        Math.max(0, padR),
        s.convH,
        s.convW,
        p ? 1 : 0,
        p?.size[0] ?? 1,
        p?.size[1] ?? 1,
        p?.stride[0] ?? 1,
        p?.stride[1] ?? 1,
        s.outH,
        s.outW,
        final ? 1 : 0,
      );
      // OHWI ±1 floats from the sign bits [o][tap][words(inC)]
      const kk = s.kh * s.kw;
      const cw = words(s.inC);
      const w = new Float32Array(s.outC * kk * s.inC);
      for (let o = 0; o < s.outC; o++)
        for (let t = 0; t < kk; t++)
          for (let c = 0; c < s.inC; c++)
            w[(o * kk + t) * s.inC + c] = (s.weights[(o * kk + t) * cw + (c >> 5)] >>> (c & 31)) & 1 ? 1 : -1;
      weights.push(w);
      const post = s.post;
      if (post.kind === 'threshold') {
        sgn.push(Float32Array.from(post.neg, (n) => (n ? -1 : 1)));
        st.push(Float32Array.from(post.t, (t, o) => (post.neg[o] ? -t : t)));
      } else (sgn.push(new Float32Array(0)), st.push(new Float32Array(0)));
    });
    this.handle = a.floatNetCreate(Int32Array.from(fields), weights, sgn, st, threads);
    this.a = a;
    this.threads = threads;
    const [H, W, C] = spec.inputShape;
    this.per = H * W * C;
  }

  /** The final BN's outputs [n][numClasses] (float32) for n images (NHWC float32). */
  predict(images: Float32Array, n = images.length / this.per): Float32Array {
    const last = this.spec.stages[this.spec.stages.length - 1];
    return finalOutputs(last.post, this.forward(images, n), last.outC);
  }

  /** The last stage's float sums (before its BN) [n][outC]. */
  forward(images: Float32Array, n = images.length / this.per): Float32Array {
    if (!this.handle) throw new Error('FloatOneDnn: disposed');
    if (!Number.isInteger(n) || n < 1 || images.length < n * this.per)
      throw new Error(`FloatOneDnn.forward: ${images.length} values is not ${n} images of ${this.per}`);
    const last = this.spec.stages[this.spec.stages.length - 1];
    const out = new Float32Array(n * last.outH * last.outW * last.outC);
    this.a.floatNetRun(this.handle, images, n, out);
    return out;
  }

  /** oneDNN's implementation of each primitive made so far (e.g. "stage 1 convolution (batch 1): brg:avx512_core"). */
  implementations(): string[] {
    return this.handle ? this.a.floatNetInfo(this.handle) : [];
  }

  dispose(): void {
    if (this.handle) this.a.floatNetFree(this.handle);
    this.handle = null;
  }
}

/** Steps of the popcount loop per chunk (about 10 µs on each path; a window counts only whole chunks). */
const PEAK_CHUNK: Record<NativeIsa, number> = { avx512: 2000, avx2: 2000, scalar: 4000 };

/** Binary MACs of one step of the popcount loop on each path (native/packed.cc: 12 zmm, 4 ymm, 8 × 64-bit chains). */
const PEAK_STEP_MACS: Record<NativeIsa, number> = { avx512: 12 * 512, avx2: 4 * 256, scalar: 8 * 64 };

/**
 * The popcount loop of popcountPeak on `threads` threads, either for `seconds` (the MACs done in whole chunks within
 * the window, and the window's length) or, with `work`, a fixed amount of binary MACs that the threads claim in chunks
 * as the engine claims its tiles (the MACs and the wall-clock seconds: timed like an engine's call).
 */
export function popcountRun(
  isa: NativeIsa,
  threads: number,
  seconds: number,
  work?: number,
): { macs: number; seconds: number } {
  const { a, reason } = addon();
  if (!a) throw new Error(`popcountRun: ${reason}`);
  if (work !== undefined) return a.popcountPeak(isa, threads, Math.max(1, Math.round(work / PEAK_STEP_MACS[isa])), 0);
  return a.popcountPeak(isa, threads, PEAK_CHUNK[isa], seconds);
}

/**
 * The machine's XNOR-popcount throughput on `isa` with `threads` threads, in binary multiply-accumulates per second:
 * a register-only loop (xor, popcount, add on the widest registers of that path; native/packed.cc) on every thread,
 * in windows of `windowMs`, repeated for about `seconds`; the best window counts (on a shared machine: the least
 * disturbed).
 */
export function popcountPeak(isa: NativeIsa, threads = 1, seconds = 0.3, windowMs = 2): number {
  let best = 0;
  const t0 = performance.now();
  do {
    const r = popcountRun(isa, threads, windowMs / 1000);
    best = Math.max(best, r.macs / r.seconds);
  } while (performance.now() - t0 < seconds * 1000);
  return best;
}

/** Binary multiply-accumulates of one image: Σ over ±1-input stages of conv pixels × outC × kh·kw·inC. */
export function binaryMacs(spec: PackedSpec): number {
  return spec.stages.reduce(
    (s, st) => s + (st.input === 'binary' ? st.convH * st.convW * st.outC * st.kh * st.kw * st.inC : 0),
    0,
  );
}
