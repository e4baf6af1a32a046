/**
 * Helpers for the kernels this folder registers over tfjs' own: replacing a registered kernel (and remembering
 * which ones were replaced), and running tf ops inside a kernel function on its inputs.
 *
 * Kernel functions may call tf ops; tfjs does not record ops nested inside a kernel on the gradient tape
 * (engine.isTapeOn() requires kernelDepth === 0), so gradients stay those of the outer op.
 */
import * as tf from '@tensorflow/tfjs';

type Info = tf.TensorInfo;
/** A backend whose tensors can be shared by reference counting (every tfjs backend). */
export type Backend = tf.KernelBackend & { incRef(dataId: object): void };

/** Wrap a kernel input as a tf.Tensor without stealing the caller's reference (incRef first; dispose after). */
function wrap(info: Info, backend: Backend): tf.Tensor {
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

/** Hand a tensor computed inside a kernel back to the engine as a bare TensorInfo (no leak, no double free). */
function unwrap(t: tf.Tensor, backend: Backend): Info {
  backend.incRef(t.dataId);
  const out = { dataId: t.dataId, shape: t.shape.slice(), dtype: t.dtype };
  t.dispose();
  return out;
}

/** Run `f` on wrapped inputs and return its tensor as a TensorInfo, disposing everything else. */
export function withWrapped(infos: Info[], backend: Backend, f: (...ts: tf.Tensor[]) => tf.Tensor): Info {
  const ts = infos.map((i) => wrap(i, backend));
  try {
    const r = tf.tidy(() => f(...ts));
    return unwrap(r, backend);
  } finally {
    ts.forEach((t) => t.dispose());
  }
}

const registered = new Set<string>();

/** Records that `kernelName` was registered by this folder. */
export function markRegistered(kernelName: string): void {
  registered.add(kernelName);
}

/** Names of the kernels this folder registered on `backendName` (for logs and tests). */
export function registeredWasmKernels(): string[] {
  return [...registered];
}

/** Registers `kernelFunc` (and `setupFunc`) as `kernelName` on `backendName`, in place of the kernel there. */
export function replaceKernel(
  kernelName: string,
  backendName: string,
  kernelFunc: tf.KernelFunc,
  setupFunc?: tf.KernelConfig['setupFunc'],
): void {
  if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel(
    setupFunc ? { kernelName, backendName, kernelFunc, setupFunc } : { kernelName, backendName, kernelFunc },
  );
  markRegistered(kernelName);
}
