/**
 * Registration of the fused wasm kernels (fusedKernels.ts, winograd.ts): on or off as a whole, wasm's own `Sign`
 * kept underneath to be restored, and the gradient of BnnLarqSign (zero, as tf.sign's). registerWasmTrainingKernels
 * (wasmKernels.ts) calls `setFusedKernels`; the ops of fused.ts ask `fusedActive` before they run a fused kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { setFusedSimd } from './heap';
import { FUSED_KERNELS } from './fusedKernels';
import { WINOGRAD_KERNELS } from './winograd';

const kernels = [...FUSED_KERNELS, ...WINOGRAD_KERNELS];
let active = false;
const baseSign = new Map<string, tf.KernelConfig>();

/** Register (on) or remove (off) the fused kernels on the wasm backend; `useSimd` picks SIMD or plain JS loops. Idempotent. */
export function setFusedKernels(on: boolean, useSimd = true): void {
  setFusedSimd(useSimd);
  for (const k of kernels) {
    if (k.kernelName === 'Sign') {
      const cur = tf.getKernel('Sign', 'wasm');
      if (!baseSign.has('wasm') && cur && cur.kernelFunc !== k.kernelFunc) baseSign.set('wasm', cur);
      if (cur) tf.unregisterKernel('Sign', 'wasm');
      tf.registerKernel(on ? k : (baseSign.get('wasm') ?? k));
      continue;
    }
    if (tf.getKernel(k.kernelName, 'wasm')) tf.unregisterKernel(k.kernelName, 'wasm');
    if (on) tf.registerKernel(k);
  }
  active = on;
}

/** Whether fused kernels run for the current backend. */
export function fusedActive(): boolean {
  return active && tf.getBackend() === 'wasm';
}

// Gradient of BnnLarqSign (and of the fused sign): zero, as tf.sign's.
let gradsRegistered = false;
/** Registers the zero gradient of BnnLarqSign (once). */
export function ensureGrads(): void {
  if (gradsRegistered) return;
  gradsRegistered = true;
  tf.registerGradient({
    kernelName: 'BnnLarqSign',
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => ({ x: () => tf.zerosLike(dy as tf.Tensor) }),
  });
}
