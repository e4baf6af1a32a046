/**
 * Reading and writing tensors in place on tfjs-backend-wasm's heap: the parts of its BackendWasm the fused kernels
 * (fusedKernels.ts, winograd.ts), the heap MaxPoolGrad (maxPoolGrad.ts) and the native kernels (native.ts) use,
 * float32 views of a tensor's data, scratch blocks, and the WebAssembly SIMD training kernels (kernels/train.ts,
 * typed by src/wasm/trainKernels.ts) instantiated on that same memory (zero-copy).
 */
import type * as tf from '@tensorflow/tfjs';
import { trainKernelsFor, TrainKernels } from '../wasm/trainKernels';
import type { KernelMemory as WasmMemory } from '../wasm/load';

/** The parts of tfjs-backend-wasm's BackendWasm used here (its heap, allocator and tensor table). */
export interface HeapBackend {
  wasm: {
    HEAPU8: Uint8Array;
    _malloc(n: number): number;
    _free(p: number): void;
    wasmMemory?: WasmMemory;
    asm?: { memory?: WasmMemory };
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
}

let simdEnabled = true;

/** Whether the fused kernels use the SIMD module (false: plain JS loops only, for comparison). */
export function setFusedSimd(on: boolean): void {
  simdEnabled = on;
}

/** The SIMD kernels on the backend's own memory (null: none, or disabled for comparison). */
export function simd(b: HeapBackend): TrainKernels | null {
  if (!simdEnabled) return null;
  const mem = b.wasm.wasmMemory ?? b.wasm.asm?.memory;
  return mem ? trainKernelsFor(mem) : null;
}

/** Byte offset of a tensor's data on the heap. */
export const heapPtr = (b: Pick<HeapBackend, 'dataIdMap'>, i: tf.TensorInfo): number =>
  b.dataIdMap.get(i.dataId).memoryOffset;

/** A float32 view of a tensor's data on the wasm heap (re-create after any allocation: the heap may grow). */
export function heapF32(b: Pick<HeapBackend, 'wasm' | 'dataIdMap'>, i: tf.TensorInfo): Float32Array {
  return new Float32Array(
    b.wasm.HEAPU8.buffer,
    heapPtr(b, i),
    i.shape.reduce((a, v) => a * v, 1),
  );
}

/** A 16-byte aligned scratch block of `floats` float32 on the wasm heap; free it with the returned function. */
export function scratch(b: HeapBackend, floats: number): { p: number; free: () => void } {
  const p = b.wasm._malloc(floats * 4 + 16) >>> 0;
  const q = (p + 15) & ~15;
  return { p: q, free: () => b.wasm._free(p) };
}
