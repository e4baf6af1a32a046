/**
 * Training kernels for tfjs' wasm backend (tfjs 4.22), registered by `registerWasmTrainingKernels()`.
 *
 * - Conv2DBackpropFilter (absent on wasm) and Conv2DBackpropInput (wasm's is a scalar loop, not XNNPACK): as
 *   forward convolutions and GEMMs run by XNNPACK, dx of 3×3 stride-1 convs by Winograd F(2×2,3×3) (convGrads.ts).
 * - MaxPoolGrad: wasm's (tfjs 4.22) sends the gradient to the wrong cell (or drops it) when every value of a
 *   window is negative; replaced by the first maximum in row-major order, as the cpu backend (maxPoolGrad.ts).
 * - BatchMatMul with transposeA/transposeB (slow path on wasm): transpose explicitly, then the plain kernel.
 * - Conv2D: XNOR-popcount for ±1 inputs with ±1 filters, else XNNPACK's float conv, as convKernel.ts decides.
 * - Fused kernels (fusedKernels.ts, winograd.ts) for the quantizer, batch norm, optimizers, Sign (wasm's is wrong
 *   below 1.19e-7) and dW's pad+transpose, registered by fusedRegistry.ts.
 * - Every kernel that the cpu backend has and wasm lacks is delegated to the cpu backend (cpuFallbacks.ts).
 *
 * Reference semantics: tfjs-backend-cpu's kernels (same math, loop form). The native oneDNN kernels (native.ts)
 * are registered over these when the addon is built.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dFilterGradIm2col, conv2dFilterGradSwapped, conv2dInputGradAsConv, pair } from './convGrads';
import { convCallOf, convKernelOrder, convPolicy, setConvPolicy, xnorConv } from './convKernel';
import { registerCpuFallbacks } from './cpuFallbacks';
import { setFusedKernels } from './fusedRegistry';
import type { HeapBackend } from './heap';
import { registeredWasmKernels, replaceKernel, withWrapped } from './kernelUtil';
import type { Backend } from './kernelUtil';
import { maxPoolGradAsOps, maxPoolGradHeap } from './maxPoolGrad';

export {
  conv2dFilterGradIm2col,
  conv2dFilterGradSwapped,
  conv2dInputGradAsConv,
  convGeometry,
  rotate180SwapIO,
} from './convGrads';
export type { ConvGeom, ConvPad } from './convGrads';
export { maxPoolGradAsOps, maxPoolGradHeap } from './maxPoolGrad';
export { registerCpuFallbacks } from './cpuFallbacks';
export { registeredWasmKernels } from './kernelUtil';
export { heapF32 } from './heap';
export type { HeapBackend } from './heap';

type Info = tf.TensorInfo;
type ConvAttrs = {
  strides: number | number[];
  pad: unknown;
  dataFormat?: string;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/** What registerWasmTrainingKernels registers (every default is the fast, tested kernel). */
export interface WasmKernelOptions {
  /** Use the swapped-conv dW (default true); false uses im2col everywhere (slower; for comparison). */
  fastFilterGrad?: boolean;
  /** Replace wasm's Conv2DBackpropInput by the conv form (default true). */
  fastInputGrad?: boolean;
  /** Replace wasm's MaxPoolGrad, wrong for all-negative windows in tfjs 4.22 (default true; false = for tests). */
  maxPoolGrad?: boolean;
  /** Shim BatchMatMul with transposes (default true). */
  matMulShim?: boolean;
  /** Conv2D of ±1 inputs with ±1 kernels by XNOR-popcount (binaryConv.ts; default true, wasm only; convKernel.ts). */
  binaryConv?: boolean;
  /**
   * Smallest number of output pixels (N·outH·outW) for which a conv takes the XNOR path (default 512). Each call
   * packs the whole kernel, a cost ∝ kernel size that only pays off over enough pixels: at batch 1, BinaryNet's
   * 8×8 layers were slower packed (float model 84 vs 45 ms per image with every layer packed; 35 ms with 512).
   */
  binaryConvMinPixels?: number;
  /** Delegate kernels that only cpu has to the cpu backend (default true). */
  cpuFallbacks?: boolean;
  /** Fused JS kernels on the wasm heap (fusedKernels.ts: exact Sign, quantizer, batch norm, Bop, Adam; default true). */
  fused?: boolean;
  /** Fused kernels use the WebAssembly SIMD module on tfjs' own memory (kernels/train.ts; default true). */
  fusedSimd?: boolean;
  /** dx of 3×3 convs by Winograd F(2×2,3×3) (default true; needs `fused`). */
  winogradInputGrad?: boolean;
}

function toNHWC(t: tf.Tensor, dataFormat: string | undefined): tf.Tensor4D {
  return (dataFormat === 'NCHW' ? tf.transpose(t, [0, 2, 3, 1]) : t) as tf.Tensor4D;
}
function shapeToNHWC(s: number[], dataFormat: string | undefined): number[] {
  return dataFormat === 'NCHW' ? [s[0], s[2], s[3], s[1]] : s;
}

/** Conv2DBackpropFilter: the swapped conv (or im2col, dilated or `fastFilterGrad: false`); NCHW through NHWC. */
function registerFilterGrad(backendName: string, fast: boolean): void {
  replaceKernel('Conv2DBackpropFilter', backendName, ({ inputs, attrs, backend }) => {
    const { x, dy } = inputs as { x: Info; dy: Info };
    const a = attrs as unknown as ConvAttrs & { filterShape: number[]; dilations?: number | number[] };
    const dil = pair(a.dilations);
    return withWrapped([x, dy], backend as Backend, (xt, dyt) => {
      const xs = toNHWC(xt, a.dataFormat),
        dys = toNHWC(dyt, a.dataFormat);
      if (fast && dil[0] === 1 && dil[1] === 1) {
        return conv2dFilterGradSwapped(xs, dys, a.filterShape, a.strides, a.pad, a.dimRoundingMode);
      }
      return conv2dFilterGradIm2col(xs, dys, a.filterShape, a.strides, a.pad, a.dimRoundingMode, a.dilations ?? 1);
    });
  });
}

/** Conv2DBackpropInput as one forward conv (Winograd for 3×3 stride 1 unless `winograd` is false). */
function registerInputGrad(backendName: string, winograd: boolean): void {
  replaceKernel('Conv2DBackpropInput', backendName, ({ inputs, attrs, backend }) => {
    const { dy, filter } = inputs as { dy: Info; filter: Info };
    const a = attrs as unknown as ConvAttrs & { inputShape: number[] };
    return withWrapped([dy, filter], backend as Backend, (dyt, ft) => {
      const r = conv2dInputGradAsConv(
        toNHWC(dyt, a.dataFormat),
        ft as tf.Tensor4D,
        shapeToNHWC(a.inputShape, a.dataFormat),
        a.strides,
        a.pad,
        a.dimRoundingMode,
        winograd,
      );
      return a.dataFormat === 'NCHW' ? tf.transpose(r, [0, 3, 1, 2]) : r;
    });
  });
}

/** MaxPoolGrad: first maximum wins; one pass on the heap where it applies (`heap`), else as tf ops. */
function registerMaxPoolGrad(backendName: string, heap: boolean): void {
  replaceKernel('MaxPoolGrad', backendName, ({ inputs, attrs, backend }) => {
    const { dy, input } = inputs as { dy: Info; input: Info };
    const a = attrs as unknown as {
      filterSize: number | number[];
      strides: number | number[];
      pad: unknown;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    if (heap && dy.dtype === 'float32' && input.dtype === 'float32') {
      const fast = maxPoolGradHeap(
        backend as unknown as HeapBackend,
        dy,
        input,
        a.filterSize,
        a.strides,
        a.pad,
        a.dimRoundingMode,
      );
      if (fast) return fast;
    }
    return withWrapped([dy, input], backend as Backend, (dyt, xt) =>
      maxPoolGradAsOps(dyt as tf.Tensor4D, xt as tf.Tensor4D, a.filterSize, a.strides, a.pad, a.dimRoundingMode),
    );
  });
}

const baseMatMul = new Map<string, tf.KernelConfig>();
const baseConv = new Map<string, tf.KernelConfig>();

/** BatchMatMul with a transposed operand: explicit transposes, then the backend's own kernel. */
function registerMatMulShim(backendName: string): void {
  // keep the backend's own kernel the first time; later calls (idempotent) reuse it, never wrap the shim
  const base = baseMatMul.get(backendName) ?? tf.getKernel('BatchMatMul', backendName);
  if (!base) return;
  baseMatMul.set(backendName, base);
  replaceKernel('BatchMatMul', backendName, (args) => {
    const { inputs, attrs, backend } = args;
    const at = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!at.transposeA && !at.transposeB) return base.kernelFunc(args);
    const { a, b } = inputs as { a: Info; b: Info };
    return withWrapped([a, b], backend as Backend, (ta, tb) => {
      const T = (t: tf.Tensor) => {
        const r = t.rank;
        const perm = [...Array(r).keys()];
        perm[r - 2] = r - 1;
        perm[r - 1] = r - 2;
        return tf.transpose(t, perm);
      };
      const r = ta.rank,
        M = ta.shape[at.transposeA ? r - 1 : r - 2],
        N = tb.shape[tb.rank - 2];
      if (!at.transposeA && at.transposeB && M * 4 <= N) {
        // A·Bᵀ with a small A (e.g. dx = dy·Wᵀ of a dense layer): (B·Aᵀ)ᵀ streams the big B once as the
        // GEMM input instead of transposing it and packing it as XNNPACK weights
        return T(tf.matMul(tb, T(ta)));
      }
      return tf.matMul(at.transposeA ? T(ta) : ta, at.transposeB ? T(tb) : tb);
    });
  });
}

/**
 * Conv2D on wasm: the kernels of convKernel.ts' order for the call (XNOR-popcount where it fits and the values are
 * ±1, else the backend's own XNNPACK conv); with `on` false, the backend's own kernel again.
 */
function registerConv(backendName: string, on: boolean): void {
  const base = baseConv.get(backendName) ?? tf.getKernel('Conv2D', backendName);
  if (!base) return;
  baseConv.set(backendName, base);
  if (!on) {
    replaceKernel('Conv2D', backendName, base.kernelFunc, base.setupFunc);
    return;
  }
  replaceKernel(
    'Conv2D',
    backendName,
    (args) => {
      const { call, g } = convCallOf(args);
      if (g && convKernelOrder({ ...convPolicy(), native: null }, call)[0] === 'xnor') {
        const { x, filter } = args.inputs as { x: Info; filter: Info };
        const out = xnorConv(args.backend as unknown as Parameters<typeof xnorConv>[0], x, filter, g);
        if (out) return out;
      }
      return base.kernelFunc(args);
    },
    base.setupFunc,
  );
}

/**
 * Register on `backendName` (default 'wasm') the kernels needed to train conv nets: see the module comment.
 * Idempotent. The kernels are registered globally, but they only run for tensors on that backend.
 */
export function registerWasmTrainingKernels(opts: WasmKernelOptions = {}, backendName = 'wasm'): string[] {
  registerFilterGrad(backendName, opts.fastFilterGrad !== false);
  if (opts.fastInputGrad !== false) registerInputGrad(backendName, opts.winogradInputGrad !== false);
  if (opts.maxPoolGrad !== false) registerMaxPoolGrad(backendName, backendName === 'wasm' && opts.fused !== false);
  if (opts.matMulShim !== false) registerMatMulShim(backendName);
  const xnor = opts.binaryConv !== false && backendName === 'wasm';
  setConvPolicy({ xnor, minPixels: opts.binaryConvMinPixels ?? 512 });
  if (xnor || baseConv.has(backendName)) registerConv(backendName, xnor);
  if (backendName === 'wasm') setFusedKernels(opts.fused !== false, opts.fusedSimd !== false);
  if (opts.cpuFallbacks !== false) registerCpuFallbacks(backendName);
  return registeredWasmKernels();
}
