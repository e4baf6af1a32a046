/**
 * XNOR-popcount building blocks shared by training (src/backend/binaryConv.ts) and packed inference
 * (src/inference): the bit layout of ±1 values (bits.ts), popcount (popcount.ts), im2col of bits and the exact
 * zero-padding correction (conv.ts), and the generic GEMM kernels (gemm.ts: wasm SIMD, wasm i64, JS).
 * Layering: imports only src/wasm and src/util.
 */
export { words, packKernel, tapPopcounts, unpackKernel, packActivations } from './bits';
export type { KernelShape, PackKernelOptions } from './bits';
export { popcount32 } from './popcount';
export { convGeom, padBefore, paddedTaps, paddingTable, im2colBits, xnorOutputs } from './conv';
export type { ConvGeom, PaddingTable } from './conv';
export { availableKernels, createKernel } from './gemm';
export type { KernelName, BinaryKernel } from './gemm';
