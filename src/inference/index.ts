/**
 * Packed binary inference (issue 8): XNOR-popcount forward pass of a trained BinaryNet, one-file export,
 * float-vs-packed summary. See packed.ts for the math, format.ts for the file layout, kernels.ts for the GEMMs.
 *
 *   const spec = packModel(model);               // bits + folded BN thresholds
 *   const pm = new PackedModel(spec);            // fastest kernel: wasm SIMD/i64 or JS
 *   const { logits, probs, classes } = pm.predict(images);   // NHWC float32, tensor or flat array
 *   savePacked(spec, 'model.bnnp'); const spec2 = loadPacked('model.bnnp');
 *   const s = await packedSummary(model, { images, labels });
 */
export { packModel, PackedModel, packedModel, signKernels, foldThreshold, bnFloat32 } from './packed';
export type { PackedSpec, PackedStage, PostOp, PoolSpec, PackedPrediction } from './packed';
export { encodePacked, decodePacked, savePacked, loadPacked } from './format';
export { availableKernels, createKernel, popcount32 } from './kernels';
export type { KernelName, BinaryKernel } from './kernels';
export { packedSummary, floatModelBytes, floatLogits } from './summary';
export type { PackedSummary, TestImages } from './summary';
