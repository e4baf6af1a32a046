/**
 * PackedModel: runs a sequential PackedSpec (spec.ts; from packModel, convert.ts) on the fused engine (engine.ts:
 * one generated wasm module, 1 or 2 threads) where it supports the model and wasm SIMD runs, else on the reference
 * interpreter (reference.ts: the generic XNOR-popcount GEMMs of src/xnor with JS glue). Both are bit-exact on the
 * binary layers; see spec.ts for the math of the post-ops and reference.ts for the one float layer.
 */
import type * as tf from '@tensorflow/tfjs';
import { availableKernels, createKernel } from '../xnor';
import type { BinaryKernel } from '../xnor';
import { FusedEngine, fusedSupports } from './engine';
import type { GemmTune } from './engine';
import { ReferenceRunner } from './reference';
import { finalOutputs, setPrediction } from './spec';
import type { PackedKernel, PackedSpec, Predictions } from './spec';
import { packModel } from './convert';

export interface PackedPrediction extends Predictions {
  /** Final-layer outputs (BN'd logits) [n][numClasses]. */
  logits: Float32Array;
  /** Softmax of the logits (equal to logits when the model has no softmax). */
  probs: Float32Array;
  /** argmax per image. */
  classes: Int32Array;
}

/** Options of PackedModel and PackedGraphModel. */
export interface PackedOptions {
  /** Force the reference interpreter. */
  reference?: boolean;
  /** 2: the fused engine on 2 threads (a worker sharing its wasm memory); 1 (default) or unavailable: one thread. */
  threads?: number;
  /** GEMM block sizes of the fused engine (engine.ts, for experiments). */
  tune?: GemmTune;
}

/**
 * Picks the runtime of a spec: the fused engine for a kernel name other than 'js' when `fusedSupports` accepts the
 * spec and wasm SIMD runs (not with opts.reference or a BinaryKernel object), else the reference interpreter on
 * `kernel` ('mix' becomes 'simd' there). Default kernel: 'mix' where wasm SIMD runs, else the fastest available.
 * `who` names the caller in errors.
 */
export function chooseRuntime(who: string, spec: PackedSpec, kernel: PackedKernel | BinaryKernel | undefined, opts: PackedOptions):
  { kernelName: PackedKernel; fused: FusedEngine | null; reference: ReferenceRunner | null } {
  const avail = availableKernels();
  let name: PackedKernel = typeof kernel === 'object' ? kernel.name : kernel ?? (avail[0] === 'simd' ? 'mix' : avail[0]);
  if (name === 'mix' && !avail.includes('simd')) throw new Error(`${who}: kernel 'mix' needs WebAssembly SIMD, which this runtime lacks`);
  if (typeof kernel !== 'object' && name !== 'js' && !opts.reference && fusedSupports(spec) === null && avail.includes('simd'))
    return { kernelName: name, fused: new FusedEngine(spec, name, opts.threads ?? 1, opts.tune), reference: null };
  if (name === 'mix') name = 'simd';
  const runner = new ReferenceRunner({ ...spec, graph: undefined }, typeof kernel === 'object' ? kernel : createKernel(name));
  return { kernelName: name, fused: null, reference: runner };
}

/** Runs a sequential PackedSpec (see the module comment). */
export class PackedModel {
  /** The reference interpreter's GEMM kernel (wasm i64/SIMD or JS), or null when the fused engine runs the model. */
  readonly kernel: BinaryKernel | null;
  /** The fused engine, or null on the reference path. */
  readonly fused: FusedEngine | null;
  /** 'mix' (fused only), 'simd' | 'i64' (fused or reference) or 'js' (reference). */
  readonly kernelName: PackedKernel;
  private readonly reference: ReferenceRunner | null;
  /** Set to {} to accumulate milliseconds per stage and phase over predict calls. */
  timings: Record<string, number> | null = null;

  /**
   * `kernel`: 'mix' (default where wasm SIMD runs), 'simd' or 'i64' run the fused engine when it supports the model
   * (fusedSupports), else the reference path (with 'simd' for 'mix'); 'js' or a BinaryKernel object always run
   * the reference path. Options: PackedOptions (`await ready()` before timing 2 threads, `dispose()` to stop the
   * worker). Results are identical on every path.
   */
  constructor(readonly spec: PackedSpec, kernel?: PackedKernel | BinaryKernel, opts: PackedOptions = {}) {
    if (spec.graph) throw new Error('PackedModel: this packed model is a graph (UNet); run it with PackedGraphModel');
    const rt = chooseRuntime('PackedModel', spec, kernel, opts);
    this.kernelName = rt.kernelName;
    this.fused = rt.fused;
    this.reference = rt.reference;
    this.kernel = rt.reference?.kernel ?? null;
  }

  /** Threads the model runs on (2 only once the worker has started: see `ready`). */
  get threads(): number {
    return this.fused?.threads ?? 1;
  }

  /** Waits until a 2-thread engine's worker runs (resolves true), or returns false if it runs on one thread. */
  async ready(): Promise<boolean> {
    return this.fused ? this.fused.ready() : false;
  }

  /** Stops the worker thread, if any (the model keeps working on one thread). */
  dispose(): void {
    this.fused?.dispose();
  }

  get numClasses(): number {
    return this.spec.numClasses;
  }

  /** Predicts a batch: `images` NHWC float32 (a tf.Tensor4D or a flat array of n·H·W·C values). */
  predict(images: tf.Tensor | Float32Array): PackedPrediction {
    const [H, W, C] = this.spec.inputShape;
    const per = H * W * C;
    let data: Float32Array;
    if (images instanceof Float32Array) data = images;
    else {
      const sh = images.shape;
      if (sh.length !== 4 || sh[1] !== H || sh[2] !== W || sh[3] !== C)
        throw new Error(`PackedModel.predict: expected images [n, ${H}, ${W}, ${C}], got [${sh.join(', ')}]`);
      data = images.dataSync() as Float32Array;
    }
    if (data.length % per !== 0) throw new Error(`PackedModel.predict: ${data.length} values is not a whole number of ${H}×${W}×${C} images`);
    const n = data.length / per;
    const k = this.numClasses;
    const res: PackedPrediction = { logits: new Float32Array(n * k), probs: new Float32Array(n * k), classes: new Int32Array(n) };
    // 2 threads and several images: whole images on each thread (FusedEngine.forwardBatch)
    const batch = this.fused && n >= 2 ? this.fused.forwardBatch(data, n) : null;
    for (let i = 0; i < n; i++) {
      const out = batch ? this.finishFused(batch[i]) : this.forwardOne(data.subarray(i * per, (i + 1) * per));
      setPrediction(res, i, out, 0, k, this.spec.softmax);
    }
    return res;
  }

  /** The last stage's float32 BN (if any) on the fused engine's integer outputs. */
  private finishFused(y: Int32Array): Float32Array {
    const last = this.spec.stages[this.spec.stages.length - 1];
    return finalOutputs(last.post, y, last.outC);
  }

  private forwardOne(image: Float32Array): Float32Array {
    if (this.fused) return this.finishFused(this.fused.forward(image, this.timings, this.spec.stages.map((s) => s.name)));
    return this.reference!.forward(image, this.timings);
  }
}

/** Convenience: packModel + PackedModel. */
export function packedModel(model: tf.LayersModel, kernel?: PackedKernel): PackedModel {
  return new PackedModel(packModel(model), kernel);
}
