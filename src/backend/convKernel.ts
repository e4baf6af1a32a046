/**
 * Which kernel runs a forward convolution (tf.conv2d, so every QuantConv2D and the first real layer) in training:
 * the one place that decides it, `convKernelOrder`, and the one line that says it, `describeConvKernels`.
 *
 * The decision has a static part, fixed when the backend starts (the `ConvPolicy`), and a per-call part (the
 * call's dtype, layout, dilation, channels and output pixels):
 *
 *   backend tensorflow or cpu   tfjs' own Conv2D (nothing of this folder is registered there)
 *   wasm + oneDNN               the native kernels (native.ts), registered when the addon is built and BNN_NATIVE is
 *                               not 0: for float32 NHWC undilated calls, first the ±1 kernel of the policy (oneDNN int8
 *                               by default, or XNOR-popcount), then oneDNN float; anything else, the wasm order below
 *   wasm                        XNOR-popcount (binaryConv.ts) for float32 NHWC undilated calls with ≥ 8 input
 *                               channels and ≥ `minPixels` output pixels N·outH·outW (default 512: each call packs the
 *                               whole kernel, which pays off only over enough pixels), then XNNPACK's float conv
 *
 * A ±1 kernel (oneDNN int8, XNOR-popcount) scans x and the filter while it packs them and declines at the first
 * value that is not exactly ±1 (the first layer's real input; Bop's kernels before their first step), so the next
 * kernel of the order runs. Every kernel of an order gives the same values on ±1 inputs (integers below 2^24).
 *
 * registerWasmTrainingKernels (wasmKernels.ts) and registerNativeKernels / setNativeKernels (native.ts) set the
 * policy; describeBackend (index.ts) prints `describeConvKernels()` in its `path=` part, which a run logs once.
 */
import * as tf from '@tensorflow/tfjs';
import { binaryConv2d } from './binaryConv';
import type { BinConvGeom } from './binaryConv';
import { convGeometry, pair } from './convGrads';
import { heapF32 } from './heap';
import type { HeapBackend } from './heap';

type Info = tf.TensorInfo;

/** A forward convolution kernel. */
export type ConvKernel = 'onednn-int8' | 'onednn-float' | 'xnor' | 'xnnpack';

/** The static part of the choice (set when the kernels are registered). */
export interface ConvPolicy {
  /** The native kernels' choice for ±1 inputs with ±1 filters when they are registered and on, else null. */
  native: 'int8' | 'float' | 'xnor' | null;
  /** The wasm Conv2D takes ±1 × ±1 convolutions by XNOR-popcount (registerWasmTrainingKernels' `binaryConv`). */
  xnor: boolean;
  /** Smallest number of output pixels N·outH·outW for XNOR-popcount. */
  minPixels: number;
}

/** The per-call part of the choice. */
export interface ConvCall {
  /** x and the filter are float32, NHWC, rank 4, not dilated, and the output is not empty. */
  plain: boolean;
  /** Input channels. */
  inC: number;
  /** Output pixels N·outH·outW. */
  pixels: number;
}

const NAMES: Record<ConvKernel, string> = {
  'onednn-int8': 'oneDNN int8',
  'onednn-float': 'oneDNN float',
  xnor: 'XNOR-popcount',
  xnnpack: 'XNNPACK float',
};

let policy: ConvPolicy = { native: null, xnor: true, minPixels: 512 };

/** Updates the policy (registration calls this); returns the policy now in force. */
export function setConvPolicy(p: Partial<ConvPolicy>): ConvPolicy {
  policy = { ...policy, ...p };
  return { ...policy };
}

/** The policy now in force on the wasm backend. */
export function convPolicy(): ConvPolicy {
  return { ...policy };
}

/**
 * The kernels a forward Conv2D on the wasm backend tries, in order: the first that accepts the call computes it
 * (the ±1 kernels decline values that are not ±1; the last one always accepts). See the module comment.
 */
export function convKernelOrder(p: ConvPolicy, c: ConvCall): ConvKernel[] {
  const xnorFits = c.plain && c.inC >= 8 && c.pixels >= p.minPixels;
  const wasm: ConvKernel[] = p.xnor && xnorFits ? ['xnor', 'xnnpack'] : ['xnnpack'];
  if (!p.native || !c.plain) return wasm;
  const first: ConvKernel[] = p.native === 'int8' ? ['onednn-int8'] : p.native === 'xnor' && xnorFits ? ['xnor'] : [];
  return [...new Set<ConvKernel>([...first, 'onednn-float', ...wasm])];
}

/** One line for logs: e.g. "Conv2D: ±1 × ±1 by oneDNN int8, else oneDNN float". */
export function describeConvKernels(p: ConvPolicy = policy): string {
  const order = convKernelOrder(p, { plain: true, inC: 8, pixels: Number.MAX_SAFE_INTEGER });
  const [first, second] = order;
  const float = first === 'onednn-int8' || first === 'xnor' ? second : first;
  const pm1 =
    first === 'onednn-int8' ? NAMES[first] : first === 'xnor' ? `${NAMES.xnor} (≥ ${p.minPixels} output pixels)` : null;
  return pm1 ? `Conv2D: ±1 × ±1 by ${pm1}, else ${NAMES[float]}` : `Conv2D: ${NAMES[float]}`;
}

/** The geometry and choice inputs of a Conv2D kernel call (null geometry: not a plain NHWC undilated conv). */
export function convCallOf(args: Parameters<tf.KernelFunc>[0]): { call: ConvCall; g: BinConvGeom | null } {
  const { x, filter } = args.inputs as { x: Info; filter: Info };
  const a = args.attrs as unknown as {
    strides: number | number[];
    pad: unknown;
    dataFormat?: string;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    dilations?: number | number[];
  };
  const dil = pair(a.dilations);
  const none = { call: { plain: false, inC: 0, pixels: 0 }, g: null };
  if (
    x.dtype !== 'float32' ||
    filter.dtype !== 'float32' ||
    (a.dataFormat && a.dataFormat !== 'NHWC') ||
    dil[0] !== 1 ||
    dil[1] !== 1 ||
    x.shape.length !== 4 ||
    filter.shape.length !== 4 ||
    filter.shape[2] !== x.shape[3]
  )
    return none;
  const gm = convGeometry(x.shape, filter.shape, a.strides, a.pad, a.dimRoundingMode);
  const [N, H, W, Ci] = x.shape;
  if (gm.outH <= 0 || gm.outW <= 0 || N * H * W * Ci === 0 || filter.shape.some((d) => d === 0)) return none;
  const g: BinConvGeom = {
    N,
    H,
    W,
    Ci,
    kh: filter.shape[0],
    kw: filter.shape[1],
    Co: filter.shape[3],
    sh: gm.strides[0],
    sw: gm.strides[1],
    padTop: gm.padInfo.top,
    padLeft: gm.padInfo.left,
    outH: gm.outH,
    outW: gm.outW,
  };
  return { call: { plain: true, inC: Ci, pixels: N * gm.outH * gm.outW }, g };
}

/**
 * The XNOR-popcount kernel on the wasm heap: y = conv2d(x, filter) into a new tensor, or null (nothing allocated
 * that is not freed) when a value of x or the filter is not exactly ±1.
 */
export function xnorConv(
  b: HeapBackend & { disposeData(dataId: object): boolean },
  x: Info,
  filter: Info,
  g: BinConvGeom,
): Info | null {
  let out: Info | null = null;
  const ok = binaryConv2d(heapF32(b, x), heapF32(b, filter), g, () => {
    out = b.makeOutput([g.N, g.outH, g.outW, g.Co], 'float32');
    return heapF32(b, out);
  });
  if (ok) return out;
  if (out) b.disposeData((out as Info).dataId);
  return null;
}

/**
 * The `path=` part of describeBackend's line, which a run logs once: the wasm path ('wasm+onednn' or 'wasm'), the
 * native library in use or why it is not, and the convolution kernels that path runs, e.g.
 * "path=wasm (native kernels disabled (BNN_NATIVE=0); Conv2D: ±1 × ±1 by XNOR-popcount (≥ 512 output pixels), else XNNPACK float)".
 */
export function describeKernelPath(path: string, native: string | undefined): string {
  return `path=${path} (${native ? `${native}; ` : ''}${describeConvKernels()})`;
}
