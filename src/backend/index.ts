/**
 * Backend selection for training/inference with TensorFlow.js in Node.
 *
 *   const info = await initBackend();          // tensorflow (tfjs-node-gpu > tfjs-node) > wasm > cpu
 *   console.log(describeBackend());            // backend=wasm (tfjs-backend-wasm 4.22.0, SIMD, 2 threads)
 *
 * Environment:
 *   BNN_BACKEND=tensorflow|wasm|cpu  force one backend; if it cannot be loaded, initBackend throws (no fallback).
 *   BNN_THREADS=<n>                  wasm thread count (1 = single-threaded SIMD build; default: all logical cores,
 *                                    using the threaded SIMD build, see nodeWasmThreads.ts). For tensorflow it sets
 *                                    TF_NUM_INTRAOP_THREADS if that is not set.
 * On wasm the training kernels from wasmKernels.ts are registered (Conv2DBackpropFilter, fast Conv2DBackpropInput
 * (Winograd for 3×3), XNOR-popcount Conv2D for ±1 × ±1 (binaryConv.ts), fused SIMD quantizer / batch norm / Bop /
 * Adam / MaxPoolGrad and an exact Sign (fused.ts), BatchMatMul transpose shim, cpu delegates for the rest).
 * Over those, when the native addon is built (scripts/setup.sh), oneDNN convolutions, their gradients and GEMMs
 * run in place on the wasm heap (native.ts): path 'wasm+onednn'; BNN_NATIVE=0 forces path 'wasm'. BackendInfo
 * (`path`, `native`) and describeBackend() say which path is used, why native was skipped, and which kernel runs
 * each convolution (decided by convKernel.ts' `convKernelOrder`).
 *
 * Process exit: the wasm pool workers are unref()'d, so a script ends when its work ends (no process.exit needed).
 * `shutdownBackend()` additionally terminates them (e.g. before a test file finishes, to be safe).
 */
import * as tf from '@tensorflow/tfjs';
import { initWasmThreaded, unrefWasmWorkers } from './nodeWasmThreads';
import { registerWasmTrainingKernels, WasmKernelOptions } from './wasmKernels';
import { registerNativeKernels, NativeKernelOptions, NativeStatus } from './native';
import { describeKernelPath } from './convKernel';
import { envBackend, envThreads } from '../util/env';
// the real module object, so that os.cpus() is the one nodeWasmThreads patches
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a namespace import would be a frozen copy
const os: typeof import('os') = require('os');

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  /** tfjs backend name: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  /** version of the package that provides it. */
  version: string;
  /** threads the backend computes with. */
  threads: number;
  /** npm package providing it. */
  package: string;
  /** wasm only: SIMD build in use. */
  simd?: boolean;
  /** auto-selection only: why preferred backends were skipped. */
  skipped?: string[];
  /** wasm only: 'wasm+onednn' (native oneDNN kernels, native.ts) or 'wasm'. */
  path?: NativeStatus['path'];
  /** wasm only: the native library in use, or why the native path was skipped. */
  native?: string;
}

export interface InitBackendOptions {
  /** Force a backend (overrides BNN_BACKEND). Unavailable => throws. */
  backend?: BackendName;
  /** Threads (overrides BNN_THREADS). wasm: 1 = single-threaded build; >1 = threaded SIMD build. */
  threads?: number;
  /** wasm kernel options (for benchmarks/tests; defaults are the fast, tested kernels). */
  kernels?: WasmKernelOptions;
  /** Native kernel options (wasm; for benchmarks). BNN_NATIVE=0 disables them. */
  native?: NativeKernelOptions;
}

let current: BackendInfo | null = null;
let wasmInfo: BackendInfo | null = null;
let tfNodeInfo: BackendInfo | null = null;

function pkgVersion(pkg: string): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional package's version, if installed
    return require(`${pkg}/package.json`).version as string;
  } catch {
    return 'unknown';
  }
}

/** Parse BNN_BACKEND (undefined when unset/empty); throws on an unknown value. */
export function backendFromEnv(env: NodeJS.ProcessEnv = process.env): BackendName | undefined {
  const v = envBackend(env)?.toLowerCase();
  if (!v) return undefined;
  if (v === 'node' || v === 'tfjs-node' || v === 'tensorflow') return 'tensorflow';
  if (v === 'wasm' || v === 'cpu') return v;
  throw new Error(`BNN_BACKEND='${envBackend(env)}' is not one of tensorflow|wasm|cpu (unset it to auto-select).`);
}

/** Parse BNN_THREADS (undefined when unset/empty); throws unless a positive integer. */
export function threadsFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return envThreads(env);
}

/** Default wasm thread count: the logical cores (measured faster on 2 cores, see bench/README.md), at most 8. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(8, os.cpus().length));
}

async function initTensorflow(threads: number | undefined): Promise<BackendInfo> {
  if (tfNodeInfo) {
    if (!(await tf.setBackend('tensorflow'))) throw new Error('tf.setBackend("tensorflow") failed');
    return tfNodeInfo;
  }
  if (threads != null && process.env.TF_NUM_INTRAOP_THREADS == null)
    process.env.TF_NUM_INTRAOP_THREADS = String(threads);
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional native backends, tried in turn
      require(pkg);
    } catch (e) {
      errors.push(`${pkg}: ${String((e as Error).message).split('\n')[0]}`);
      continue;
    }
    if (tf.findBackend('tensorflow') == null && !tf.engine().registryFactory['tensorflow']) {
      errors.push(`${pkg}: loaded but registered no 'tensorflow' backend (two copies of @tensorflow/tfjs-core?)`);
      continue;
    }
    if (!(await tf.setBackend('tensorflow'))) {
      errors.push(`${pkg}: tf.setBackend('tensorflow') failed`);
      continue;
    }
    await tf.ready();
    tfNodeInfo = {
      name: 'tensorflow',
      package: pkg,
      version: pkgVersion(pkg),
      threads: threads ?? Number(process.env.TF_NUM_INTRAOP_THREADS || os.cpus().length),
    };
    return tfNodeInfo;
  }
  throw new Error(
    `TensorFlow backend unavailable: ${errors.join('; ')}. ` +
      'Install it with `npm install @tensorflow/tfjs-node` (or -gpu), or choose BNN_BACKEND=wasm|cpu.',
  );
}

/** Register the native kernels over the wasm ones and record the path in wasmInfo. */
function withNative(info: BackendInfo, native: NativeKernelOptions | undefined): BackendInfo {
  const st = registerNativeKernels(info.threads, native);
  wasmInfo = { ...info, path: st.path, native: st.path === 'wasm+onednn' ? st.detail : st.skipped };
  return wasmInfo;
}

async function initWasm(
  threads: number | undefined,
  kernels: WasmKernelOptions | undefined,
  native?: NativeKernelOptions,
): Promise<BackendInfo> {
  const want = threads ?? defaultThreads();
  if (wasmInfo) {
    if (threads != null && threads !== wasmInfo.threads) {
      throw new Error(
        `wasm backend already started with ${wasmInfo.threads} thread(s) in this process; ` +
          `it cannot switch to ${threads}. Restart the process (or kernel) with BNN_THREADS=${threads}.`,
      );
    }
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
    if (kernels) registerWasmTrainingKernels(kernels);
    return withNative(wasmInfo, native);
  }
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when the wasm backend is chosen
    wasm = require('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    throw new Error(
      `wasm backend unavailable: cannot load @tensorflow/tfjs-backend-wasm (${(e as Error).message}). ` +
        'Run `npm install`, or choose BNN_BACKEND=cpu.',
    );
  }
  const already = tf.engine().registry['wasm'] != null; // someone already started wasm (then threads are fixed)
  let n: number;
  if (!already && want > 1) {
    n = await initWasmThreaded(want);
  } else {
    if (!already) {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      wasm.setThreadsCount(1);
    }
    if (!(await tf.setBackend('wasm')))
      throw new Error('wasm backend failed to initialize (tf.setBackend("wasm") returned false)');
    await tf.ready();
    n = wasm.getThreadsCount();
    unrefWasmWorkers();
  }
  registerWasmTrainingKernels(kernels ?? {});
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  return withNative(
    {
      name: 'wasm',
      package: '@tensorflow/tfjs-backend-wasm',
      version: wasm.version_wasm ?? pkgVersion('@tensorflow/tfjs-backend-wasm'),
      threads: n,
      simd,
    },
    native,
  );
}

async function initCpu(): Promise<BackendInfo> {
  if (!(await tf.setBackend('cpu')))
    throw new Error('cpu backend failed to initialize (tf.setBackend("cpu") returned false)');
  await tf.ready();
  return {
    name: 'cpu',
    package: '@tensorflow/tfjs-backend-cpu',
    version: pkgVersion('@tensorflow/tfjs-backend-cpu'),
    threads: 1,
  };
}

async function initOne(
  name: BackendName,
  threads: number | undefined,
  kernels?: WasmKernelOptions,
  native?: NativeKernelOptions,
): Promise<BackendInfo> {
  if (name === 'tensorflow') return initTensorflow(threads);
  if (name === 'wasm') return initWasm(threads, kernels, native);
  return initCpu();
}

/**
 * Select and start the tfjs backend: forced by opts.backend or BNN_BACKEND (throws if unavailable), otherwise
 * the first that loads of tfjs-node-gpu, tfjs-node, wasm, cpu. Idempotent: a second call returns the same info
 * (re-selecting the backend if something switched it). Returns {name, version, threads, package}.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  if (opts.backend != null && !BACKEND_NAMES.includes(opts.backend)) {
    throw new Error(`initBackend: backend '${opts.backend}' is not one of ${BACKEND_NAMES.join('|')}.`);
  }
  if (opts.threads != null && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
    throw new Error(`initBackend: threads=${opts.threads} must be a positive integer.`);
  }
  const forced = opts.backend ?? backendFromEnv();
  const threads = opts.threads ?? threadsFromEnv();
  if (forced) {
    try {
      current = await initOne(forced, threads, opts.kernels, opts.native);
    } catch (e) {
      const src = opts.backend ? `initBackend({backend: '${forced}'})` : `BNN_BACKEND=${envBackend()}`;
      throw new Error(`${src} requested, but it is unavailable: ${(e as Error).message}`);
    }
    return current;
  }
  if (current && tf.getBackend() === current.name && (threads == null || threads === current.threads)) return current;
  const skipped: string[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      const info = await initOne(name, threads, opts.kernels, opts.native);
      current = skipped.length ? { ...info, skipped } : info;
      return current;
    } catch (e) {
      skipped.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`No tfjs backend could be started:\n  ${skipped.join('\n  ')}`);
}

/** The BackendInfo of the last successful initBackend, or null. */
export function backendInfo(): BackendInfo | null {
  return current;
}

/**
 * One line, e.g. "backend=wasm (tfjs-backend-wasm 4.22.0, SIMD, 2 threads) path=wasm+onednn (oneDNN 2.6.3 (OpenMP),
 * 2 threads; Conv2D: ±1 × ±1 by oneDNN int8, else oneDNN float)" or "… path=wasm (native kernels disabled
 * (BNN_NATIVE=0); Conv2D: …)": the path part, which kernel runs each convolution, is convKernel.ts'.
 */
export function describeBackend(): string {
  if (!current) {
    let b = 'none';
    try {
      b = tf.getBackend() ?? 'none';
    } catch {
      /* not started */
    }
    return `backend=${b} (not selected by initBackend)`;
  }
  const pkg = current.package.replace('@tensorflow/', '');
  const parts = [`${pkg} ${current.version}`];
  if (current.simd != null) parts.push(current.simd ? 'SIMD' : 'no SIMD');
  parts.push(`${current.threads} thread${current.threads === 1 ? '' : 's'}`);
  const path = current.path ? ` ${describeKernelPath(current.path, current.native)}` : '';
  return `backend=${current.name} (${parts.join(', ')})${path}`;
}

/**
 * Release backend threads: terminates the wasm pool workers and removes the wasm backend (its tensors become
 * invalid). Not needed for a script to exit (workers are unref'd); useful in long-lived hosts and tests.
 */
export function shutdownBackend(): void {
  if (wasmInfo) {
    // removeBackend -> BackendWasm.dispose(): frees the module, then PThread.terminateAllThreads()
    try {
      tf.removeBackend('wasm');
    } catch {
      /* already gone */
    }
    wasmInfo = null;
  }
  current = null;
}
