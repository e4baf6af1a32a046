/**
 * Every kernel that the cpu backend has and wasm lacks (e.g. DepthwiseConv2dNativeBackpropFilter,
 * UnsortedSegmentSum) is delegated to the cpu backend's kernel by copying data (correct, not fast).
 */
import * as tf from '@tensorflow/tfjs';
import { markRegistered, registeredWasmKernels } from './kernelUtil';

type Info = tf.TensorInfo;

/** Kernels that must never be delegated (complex/string dtypes, or implemented above). */
const NO_FALLBACK = new Set([
  'Complex',
  'Real',
  'Imag',
  'ComplexAbs',
  'FFT',
  'IFFT',
  'StaticRegexReplace',
  'Draw',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'BatchMatMul',
  'MaxPoolGrad',
]);

/**
 * Register on `backendName` a kernel that runs `cpuKernel` on the cpu backend: inputs are copied to cpu, outputs
 * copied back. Correct wherever the cpu kernel is, not fast.
 */
function registerCpuDelegate(cpuKernel: tf.KernelConfig, backendName: string): void {
  if (tf.getKernel(cpuKernel.kernelName, backendName)) tf.unregisterKernel(cpuKernel.kernelName, backendName);
  tf.registerKernel({
    kernelName: cpuKernel.kernelName,
    backendName,
    kernelFunc: ({ inputs, attrs, backend: b }) => {
      const backend = b as tf.KernelBackend;
      const cpu = tf.engine().findBackend('cpu');
      if (cpu == null) throw new Error(`cpu delegate for ${cpuKernel.kernelName}: the cpu backend is not available`);
      const cpuInputs: Record<string, Info> = {};
      const made: Info[] = [];
      for (const [name, info] of Object.entries(inputs)) {
        if (info == null) continue;
        const values = backend.readSync(info.dataId) as tf.backend_util.BackendValues;
        const ci = { dataId: cpu.write(values, info.shape, info.dtype), shape: info.shape, dtype: info.dtype };
        cpuInputs[name] = ci;
        made.push(ci);
      }
      try {
        const out = cpuKernel.kernelFunc({ inputs: cpuInputs, attrs, backend: cpu });
        const outs = Array.isArray(out) ? out : [out];
        const res = outs.map((o) => {
          const vals = cpu.readSync(o.dataId) as tf.backend_util.BackendValues;
          cpu.disposeData(o.dataId);
          return { dataId: backend.write(vals, o.shape, o.dtype), shape: o.shape, dtype: o.dtype };
        });
        return Array.isArray(out) ? res : res[0];
      } finally {
        made.forEach((i) => cpu.disposeData(i.dataId));
      }
    },
  });
  markRegistered(cpuKernel.kernelName);
}

/** Kernels whose wasm implementation is wrong in tfjs 4.22 and that we delegate to cpu (none known now). */
const BUGGY_ON_WASM: string[] = [];

/**
 * For each kernel registered for 'cpu' but not for `backendName`, register a delegate that copies the inputs to the
 * cpu backend, runs the cpu kernel, and copies the outputs back. Returns the names registered.
 */
export function registerCpuFallbacks(backendName = 'wasm'): string[] {
  const have = new Set(tf.getKernelsForBackend(backendName).map((k) => k.kernelName));
  const names: string[] = [];
  for (const k of tf.getKernelsForBackend('cpu')) {
    const buggy = BUGGY_ON_WASM.includes(k.kernelName);
    if (
      (have.has(k.kernelName) && !(buggy && !registeredWasmKernels().includes(k.kernelName))) ||
      NO_FALLBACK.has(k.kernelName)
    )
      continue;
    registerCpuDelegate(k, backendName);
    names.push(k.kernelName);
  }
  return names;
}
