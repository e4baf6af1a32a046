/**
 * Packed binary inference: XNOR-popcount forward pass of a trained BinaryNet or binarized UNet, one-file
 * export, float-vs-packed summary. See packed.ts for the math and the reference path, engine.ts for the fused wasm
 * engine (the default), graph.ts for DAG models (UNet), format.ts for the file layout, kernels.ts for the GEMMs.
 *
 *   const spec = packModel(model);               // bits + folded BN thresholds
 *   const pm = new PackedModel(spec);            // fused wasm engine ('mix' GEMMs), or the reference path
 *   const pm2 = new PackedModel(spec, 'mix', { threads: 2 }); await pm2.ready();   // 2 threads (worker)
 *   const { logits, probs, classes } = pm.predict(images);   // NHWC float32, tensor or flat array
 *   savePacked(spec, 'model.bnnp'); const spec2 = loadPacked('model.bnnp');
 *   const s = await packedSummary(model, { images, labels });
 *   const g = new PackedGraphModel(packGraph(unetModel)); g.predict(images).classes;   // per-pixel classes
 */
export { packModel, PackedModel, packedModel, signKernels, foldThreshold, bnFloat32 } from './packed';
export type { PackedSpec, PackedStage, PostOp, PoolSpec, PackedPrediction, PackedKernel, GraphNode, GraphSpec } from './packed';
export { packGraph, PackedGraphModel } from './graph';
export type { PackedGraphPrediction } from './graph';
export { FusedEngine, buildFused, fusedSupports, threadsAvailable } from './engine';
export type { GemmMode, GemmTune } from './engine';
export { encodePacked, decodePacked, savePacked, loadPacked } from './format';
export { availableKernels, createKernel, popcount32 } from './kernels';
export type { KernelName, BinaryKernel } from './kernels';
export { packedSummary, floatModelBytes, floatLogits, summaryEngines, summaryMarkdown } from './summary';
export type { PackedSummary, TestImages } from './summary';
