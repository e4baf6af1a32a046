/**
 * Native CPU kernels for training on the wasm backend: oneDNN convolutions and GEMMs (native/bnn_native.cc, a
 * Node-API addon) registered as overrides of tfjs-wasm's kernels. They read and write the tensors IN PLACE on
 * tfjs-wasm's heap (the WebAssembly.Memory; shared when wasm runs threaded): the addon gets the heap as a
 * Uint8Array and byte offsets, activations stay NHWC, filters HWIO, matrices row-major; no copies, no JS transposes.
 *
 *   Conv2D                 real-valued inputs (the first layer) by oneDNN in float; ±1 inputs with ±1
 *                          filters as an exact int8 convolution (VNNI where the CPU has it), see
 *                          NativeKernelOptions.binaryConv; the order of kernels is convKernel.ts'
 *   Conv2DBackpropFilter   oneDNN backward-weights
 *   Conv2DBackpropInput    oneDNN backward-data (also the forward of conv2dTranspose)
 *   BatchMatMul            dnnl_sgemm, or oneDNN matmul for big transposed products (dense layers, their grads)
 *   MaxPool                oneDNN max pooling (the gradient stays the fused wasm kernel: first maximum wins)
 *
 * Anything the addon does not take (NCHW, dilation, non-float32, batch broadcasting of partial dims, a geometry
 * oneDNN rejects) runs the wasm kernel that was registered before (wasmKernels.ts), so results never depend on
 * whether the addon is present. oneDNN's thread count follows the wasm thread count (BNN_THREADS).
 *
 * The addon is built by scripts/setup.sh (`npm run build:native`, needs a C++ compiler and oneDNN's headers, e.g.
 * Debian's libdnnl-dev). BNN_NATIVE=0 forces the pure-wasm path. `nativeStatus()` says which path is in use and,
 * when native is off, why (disabled, not built, no compiler, no library, load error).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { convGeometry, pair } from './convGrads';
import { convCallOf, convKernelOrder, convPolicy, setConvPolicy, xnorConv } from './convKernel';
import type { HeapBackend } from './heap';
import { envNativeOff } from '../util/env';

type Info = tf.TensorInfo;
type KernelArgs = Parameters<tf.KernelFunc>[0];
type NativeBackend = HeapBackend & { disposeData(dataId: object): boolean };

interface Addon {
  conv(kind: number, heap: Uint8Array, a: number, b: number, c: number, dims: Int32Array): boolean;
  matmul(heap: Uint8Array, a: number, b: number, c: number, dims: Int32Array): boolean;
  maxpool(heap: Uint8Array, x: number, y: number, dims: Int32Array): boolean;
  setThreads(n: number): void;
  info(): { version: string; runtime: string };
  implementations(): string[];
}

/** Which compute path training uses on the wasm backend. */
export interface NativeStatus {
  /** 'wasm+onednn' when the native kernels are registered, else 'wasm'. */
  path: 'wasm+onednn' | 'wasm';
  /** Native path: e.g. "oneDNN 2.6.3 (OpenMP), 2 threads". */
  detail?: string;
  /** Pure-wasm path: why the native kernels are not used. */
  skipped?: string;
}

export interface NativeKernelOptions {
  /**
   * Conv2D of ±1 inputs with ±1 filters: 'int8' (oneDNN int8 convolution: the ±1 values converted to int8,
   * int32 sums, float output; checks every value is ±1, else the float convolution), 'float' (oneDNN float
   * convolution), or 'xnor' (XNOR-popcount of binaryConv.ts, single-threaded wasm SIMD). All three give the
   * exact integers. Default 'int8' (measured fastest, bench/README.md).
   */
  binaryConv?: 'int8' | 'float' | 'xnor';
}

/** Repository root (src/backend/ -> ../..). */
const ROOT = path.resolve(__dirname, '..', '..');
/** Where `npm run build:native` puts the addon. */
const ADDON_PATH = path.join(ROOT, 'native', 'build', 'Release', 'bnn_native.node');

let addon: Addon | null = null;
let loadError: string | null = null;

function onPath(cmds: string[]): boolean {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return cmds.some((c) => dirs.some((d) => fs.existsSync(path.join(d, c))));
}

function haveDnnlHeaders(): boolean {
  const dirs = [
    '/usr/include',
    '/usr/local/include',
    '/opt/homebrew/include',
    ...(process.env.CPATH ?? '').split(path.delimiter),
    ...(process.env.CPLUS_INCLUDE_PATH ?? '').split(path.delimiter),
  ];
  return dirs
    .filter(Boolean)
    .some((d) => fs.existsSync(path.join(d, 'dnnl.hpp')) || fs.existsSync(path.join(d, 'oneapi', 'dnnl', 'dnnl.hpp')));
}

/** Why the addon is not there: the first missing prerequisite. */
function whyNotBuilt(): string {
  if (!onPath(['g++', 'c++', 'clang++']))
    return 'native addon not built: no C++ compiler (install g++ and libdnnl-dev, then run scripts/setup.sh)';
  if (!haveDnnlHeaders())
    return 'native addon not built: oneDNN library not found (install libdnnl-dev, then run scripts/setup.sh)';
  return 'native addon not built (run scripts/setup.sh or `npm run build:native`)';
}

/** Load the addon once (null when BNN_NATIVE=0, absent or failing to load; see nativeSkipReason). */
export function loadNativeAddon(): Addon | null {
  if (addon || loadError) return addon;
  if (!fs.existsSync(ADDON_PATH)) {
    loadError = whyNotBuilt();
    return null;
  }
  // OpenMP reads its settings when the library loads: let idle oneDNN threads sleep soon instead of spinning on
  // cores that wasm's own threads need next (the user's settings win)
  if (process.env.OMP_WAIT_POLICY == null && process.env.GOMP_SPINCOUNT == null) process.env.GOMP_SPINCOUNT = '10000';
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the built addon, which may be missing
    addon = require(ADDON_PATH) as Addon;
    addon.info();
  } catch (e) {
    addon = null;
    loadError = `native addon failed to load: ${String((e as Error).message).split('\n')[0]}`;
  }
  return addon;
}

/** Why `loadNativeAddon()` returned null (not built, failed to load), or null when it loaded or was not tried. */
export function nativeAddonError(): string | null {
  return loadError;
}

/** BNN_NATIVE=0 (or false/off/no) disables the native kernels. */
export function nativeDisabledByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return envNativeOff(env) !== null;
}

let status: NativeStatus = { path: 'wasm', skipped: 'native kernels not registered' };
let enabled = false;
let binaryChoice: NonNullable<NativeKernelOptions['binaryConv']> = 'int8';

/** Switches the registered kernels on or off, and tells convKernel.ts' policy. */
function setEnabled(on: boolean): boolean {
  enabled = on;
  setConvPolicy({ native: on ? binaryChoice : null });
  return on;
}

/** The path in use on the wasm backend (after registerNativeKernels). */
export function nativeStatus(): NativeStatus {
  return { ...status };
}

/** oneDNN's implementation for every primitive created so far (e.g. "conv-forward 50,32,32,...: brgconv:avx512_core"). */
export function nativeImplementations(): string[] {
  return addon ? addon.implementations() : [];
}

// ---------------------------------------------------------------------------------------------------------------
// kernels

const heapOf = (b: NativeBackend): Uint8Array => b.wasm.HEAPU8;
const off = (b: NativeBackend, i: Info): number => b.dataIdMap.get(i.dataId).memoryOffset;
const size = (s: number[]) => s.reduce((a, v) => a * v, 1);

interface ConvAttrs {
  strides: number | number[];
  pad: unknown;
  dataFormat?: string;
  dilations?: number | number[];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The 15 ints the addon takes, or null if this convolution is not one for it. */
function convDims(xShape: number[], fShape: number[], a: ConvAttrs): Int32Array | null {
  if ((a.dataFormat && a.dataFormat !== 'NHWC') || xShape.length !== 4 || fShape.length !== 4) return null;
  const dil = pair(a.dilations);
  if (dil[0] !== 1 || dil[1] !== 1) return null;
  const [N, H, W, Ci] = xShape;
  const [kh, kw, fci, Co] = fShape;
  if (fci !== Ci) return null;
  const g = convGeometry(xShape, fShape, a.strides, a.pad, a.dimRoundingMode);
  const [sh, sw] = g.strides;
  const pt = g.padInfo.top,
    pl = g.padInfo.left;
  // oneDNN's right/bottom padding makes its output size equal tfjs' (negative: rows the conv never reads)
  const pb = (g.outH - 1) * sh + kh - H - pt,
    pr = (g.outW - 1) * sw + kw - W - pl;
  if (g.outH <= 0 || g.outW <= 0 || size(xShape) === 0 || size(fShape) === 0) return null;
  return Int32Array.from([N, H, W, Ci, g.outH, g.outW, Co, kh, kw, sh, sw, pt, pl, pb, pr]);
}

/**
 * Run a conv on the addon into a new output, trying `kinds` in turn (e.g. int8, then float); null (output freed)
 * if the addon declines them all.
 */
function runConv(
  b: NativeBackend,
  kinds: number[],
  a: Info,
  w: Info,
  outShape: number[],
  dims: Int32Array,
): Info | null {
  const out = b.makeOutput(outShape, 'float32');
  // the heap may have grown while allocating: take HEAPU8 after makeOutput
  for (const kind of kinds) if (addon!.conv(kind, heapOf(b), off(b, a), off(b, w), off(b, out), dims)) return out;
  b.disposeData(out.dataId);
  return null;
}

/** Conv2D by the native kernels of convKernel.ts' order for this call; null: the wasm kernel underneath goes on. */
function conv2dNative(args: KernelArgs): Info | null {
  const { x, filter } = args.inputs as { x: Info; filter: Info };
  const { call, g } = convCallOf(args);
  if (!g) return null;
  const order = convKernelOrder(convPolicy(), call);
  const b = args.backend as unknown as NativeBackend;
  if (order[0] === 'xnor') {
    const r = xnorConv(b, x, filter, g);
    if (r) return r;
  }
  const kinds = order
    .filter((k) => k === 'onednn-int8' || k === 'onednn-float')
    .map((k) => (k === 'onednn-int8' ? 3 : 0));
  const dims = convDims(x.shape, filter.shape, args.attrs as unknown as ConvAttrs);
  return kinds.length && dims ? runConv(b, kinds, x, filter, [dims[0], dims[4], dims[5], dims[6]], dims) : null;
}

/** Whether `dy` has the convolution's output shape [N, outH, outW, outC] (dims[4..6] of convDims). */
function matchesOutput(dy: Info, dims: ArrayLike<number>): boolean {
  return dy.shape.length === 4 && dy.shape[1] === dims[4] && dy.shape[2] === dims[5] && dy.shape[3] === dims[6];
}

/**
 * A convolution gradient by oneDNN (`kind` 1: backward-weights, dW [kh,kw,Ci,Co] from x and dy; 2: backward-data,
 * dx from dy and the filter): `a` and `b` are the addon's operands, `xShape` and `fShape` the forward conv's shapes.
 */
function convGradNative(
  args: KernelArgs,
  kind: 1 | 2,
  a: Info,
  b: Info,
  dy: Info,
  xShape: number[],
  fShape: number[],
): Info | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const dims = convDims(xShape, fShape, args.attrs as unknown as ConvAttrs);
  if (!dims || !matchesOutput(dy, dims)) return null;
  return runConv(args.backend as unknown as NativeBackend, [kind], a, b, (kind === 1 ? fShape : xShape).slice(), dims);
}

function filterGradNative(args: KernelArgs): Info | null {
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  return convGradNative(args, 1, x, dy, dy, x.shape, (args.attrs as unknown as { filterShape: number[] }).filterShape);
}

function inputGradNative(args: KernelArgs): Info | null {
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  return convGradNative(
    args,
    2,
    dy,
    filter,
    dy,
    (args.attrs as unknown as { inputShape: number[] }).inputShape,
    filter.shape,
  );
}

function matMulNative(args: KernelArgs): Info | null {
  const { a, b } = args.inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length,
    rb = b.shape.length;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const K2 = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== K2 || M * N * K === 0) return null;
  const batchA = size(a.shape.slice(0, -2)),
    batchB = size(b.shape.slice(0, -2));
  let outBatch: number[];
  try {
    outBatch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return null;
  }
  const batch = Math.max(batchA, batchB);
  if (size(outBatch) !== batch || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return null;
  const be = args.backend as unknown as NativeBackend;
  const out = be.makeOutput([...outBatch, M, N], 'float32');
  const dims = Int32Array.from([
    batch,
    batchA === 1 ? 0 : M * K,
    batchB === 1 ? 0 : K * N,
    M,
    N,
    K,
    transposeA ? 1 : 0,
    transposeB ? 1 : 0,
  ]);
  if (addon!.matmul(heapOf(be), off(be, a), off(be, b), off(be, out), dims)) return out;
  be.disposeData(out.dataId);
  return null;
}

function maxPoolNative(args: KernelArgs): Info | null {
  const { x } = args.inputs as { x: Info };
  const a = args.attrs as unknown as {
    filterSize: number | number[];
    strides: number | number[];
    pad: unknown;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  if (x.dtype !== 'float32' || x.shape.length !== 4 || size(x.shape) === 0) return null;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    a.filterSize as [number, number],
    a.strides as [number, number],
    1,
    a.pad as 'valid',
    a.dimRoundingMode,
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || info.outHeight <= 0 || info.outWidth <= 0) return null;
  const [N, H, W, C] = x.shape;
  const kh = info.filterHeight,
    kw = info.filterWidth,
    sh = info.strideHeight,
    sw = info.strideWidth;
  const { top, left } = info.padInfo;
  const bottom = (info.outHeight - 1) * sh + kh - H - top,
    right = (info.outWidth - 1) * sw + kw - W - left;
  const dims = Int32Array.from([N, H, W, C, info.outHeight, info.outWidth, kh, kw, sh, sw, top, left, bottom, right]);
  const be = args.backend as unknown as NativeBackend;
  const out = be.makeOutput([N, info.outHeight, info.outWidth, C], 'float32');
  if (addon!.maxpool(heapOf(be), off(be, x), off(be, out), dims)) return out;
  be.disposeData(out.dataId);
  return null;
}

const KERNELS: Record<string, (args: KernelArgs) => Info | null> = {
  Conv2D: conv2dNative,
  Conv2DBackpropFilter: filterGradNative,
  Conv2DBackpropInput: inputGradNative,
  BatchMatMul: matMulNative,
  MaxPool: maxPoolNative,
};

/** Calls served natively, per kernel name (tests check that the native path really ran). */
const calls: Record<string, number> = {};
export function nativeCallCounts(): Record<string, number> {
  return { ...calls };
}

/** Kernel functions registered here (to recognise our own registration and keep the wasm kernel underneath). */
const ours = new WeakSet<tf.KernelFunc>();
/** The wasm kernels underneath ours, per backend and kernel name (fallbacks, and restored by disabling). */
const underneath = new Map<string, tf.KernelConfig>();

function install(backendName: string): void {
  for (const [name, fn] of Object.entries(KERNELS)) {
    const cur = tf.getKernel(name, backendName);
    const k = `${backendName}/${name}`;
    if (cur && !ours.has(cur.kernelFunc)) underneath.set(k, cur);
    const base = underneath.get(k);
    if (!base) continue;
    const kernelFunc: tf.KernelFunc = (args) => {
      const r = enabled ? fn(args) : null;
      if (r) {
        calls[name] = (calls[name] ?? 0) + 1;
        return r;
      }
      return base.kernelFunc(args);
    };
    ours.add(kernelFunc);
    tf.unregisterKernel(name, backendName);
    tf.registerKernel(
      base.setupFunc
        ? { kernelName: name, backendName, kernelFunc, setupFunc: base.setupFunc }
        : { kernelName: name, backendName, kernelFunc },
    );
  }
}

/**
 * Register the native kernels on `backendName` (default 'wasm') over the kernels registered there now (call it
 * after registerWasmTrainingKernels, again whenever those are re-registered). `threads` sets oneDNN's thread
 * count. Returns the path in use: 'wasm+onednn', or 'wasm' with the reason (BNN_NATIVE=0, not built, …).
 */
export function registerNativeKernels(
  threads: number,
  options: NativeKernelOptions = {},
  backendName = 'wasm',
): NativeStatus {
  binaryChoice = options.binaryConv ?? 'int8';
  if (nativeDisabledByEnv()) {
    setEnabled(false);
    status = { path: 'wasm', skipped: `native kernels disabled (BNN_NATIVE=${envNativeOff()})` };
    return nativeStatus();
  }
  const a = loadNativeAddon();
  if (!a) {
    setEnabled(false);
    status = { path: 'wasm', skipped: loadError ?? 'native addon unavailable' };
    return nativeStatus();
  }
  a.setThreads(threads);
  install(backendName);
  setEnabled(true);
  const i = a.info();
  status = {
    path: 'wasm+onednn',
    detail: `oneDNN ${i.version} (${i.runtime}), ${threads} thread${threads === 1 ? '' : 's'}`,
  };
  return nativeStatus();
}

/**
 * Switch the registered native kernels on or off in this process (tests and benchmarks compare both paths in
 * one process; off = every call goes to the wasm kernel underneath). Returns whether they are now on.
 */
export function setNativeKernels(on: boolean): boolean {
  return setEnabled(on && addon != null && underneath.size > 0 && !nativeDisabledByEnv());
}
