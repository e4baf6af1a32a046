/**
 * Packed binary inference: XNOR-popcount forward pass of a trained BinaryNet or binarized UNet, one-file
 * export, float-vs-packed summary.
 *
 *   spec.ts       the packed model's types and post-ops (BN folded into exact thresholds)
 *   convert.ts    packModel: tf.Sequential → PackedSpec          graph.ts   packGraph / PackedGraphModel (UNet)
 *   reference.ts  the reference interpreter (src/xnor's generic GEMMs with JS glue)
 *   engine.ts     the fused engine (one generated wasm module per model): layout.ts its memory layout, codegen.ts its
 *                 generated GEMMs and post-ops, threads.ts + worker.ts its 2-thread runtime
 *   native.ts     the native engine (the addon's XNOR-popcount kernels on the fused engine's memory layout), the
 *                 float32 oneDNN baseline, the machine's popcount peak
 *   packed.ts     PackedModel: the native engine where the addon runs, else the fused engine where it applies, else
 *                 the reference interpreter
 *   format.ts     the file layout                                  summary.ts float-vs-packed summary
 * Bit-packing, popcount, padding correction and the generic GEMM kernels are src/xnor's.
 *
 *   const spec = packModel(model);               // bits + folded BN thresholds
 *   const pm = new PackedModel(spec);            // native engine, else fused wasm ('mix' GEMMs), else the reference path
 *   console.log(pm.engine);                      // e.g. "native avx512, 1 thread"
 *   const pn = new PackedModel(spec, 'native', { threads: 2, isa: 'avx2' });   // a given path (throws if unavailable)
 *   const pm2 = new PackedModel(spec, 'mix', { threads: 2 }); await pm2.ready();   // 2 threads (worker)
 *   const { logits, probs, classes } = pm.predict(images);   // NHWC float32, tensor or flat array
 *   savePacked(spec, 'model.bnnp'); const spec2 = loadPacked('model.bnnp');
 *   const s = await packedSummary(model, { images, labels });
 *   const g = new PackedGraphModel(packGraph(unetModel)); g.predict(images).classes;   // per-pixel classes
 */
export { bnFloat32, foldThreshold } from './spec';
export type { PackedSpec, PackedStage, PostOp, PoolSpec, PackedKernel, GraphNode, GraphSpec } from './spec';
export { packModel, signKernels } from './convert';
export { PackedModel, packedModel } from './packed';
export type { PackedPrediction, PackedOptions } from './packed';
export { packGraph, PackedGraphModel } from './graph';
export type { PackedGraphPrediction } from './graph';
export { FusedEngine, buildFused, fusedSupports, threadsAvailable } from './engine';
export type { GemmMode, GemmTune } from './engine';
export { encodePacked, decodePacked, savePacked, loadPacked } from './format';
export { ReferenceRunner } from './reference';
export { packedSummary, floatModelBytes, floatLogits, summaryEngines, summaryMarkdown } from './summary';
export type { PackedSummary, TestImages } from './summary';
export { engineComparison, comparisonEngines, comparisonMarkdown } from './comparison';
export type { EngineComparison, EngineResult } from './comparison';
export {
  NativeEngine,
  FloatOneDnn,
  NATIVE_ISAS,
  nativeInference,
  nativeSupports,
  isaFromEnv,
  popcountPeak,
  popcountRun,
  binaryMacs,
} from './native';
export type { NativeIsa, NativeOptions, NativeInference } from './native';
export { runtimeName } from './packed';
export type { PackedRuntime } from './packed';
