/**
 * PackedModel: runs a sequential PackedSpec (spec.ts; from packModel, convert.ts) on the native engine (native.ts:
 * the addon's XNOR-popcount kernels, AVX-512 / AVX2 / scalar popcount, 1 or more threads) where the addon is built
 * and takes the model, else on the fused engine (engine.ts: one generated wasm module, 1 or 2 threads) where it
 * supports the model and wasm SIMD runs, else on the reference interpreter (reference.ts: the generic XNOR-popcount
 * GEMMs of src/xnor with JS glue). All are bit-exact on the binary layers; see spec.ts for the math of the post-ops
 * and reference.ts for the one float layer. `engine` names the path a model runs on.
 */
import type * as tf from '@tensorflow/tfjs';
import { availableKernels, createKernel } from '../xnor';
import type { BinaryKernel } from '../xnor';
import { FusedEngine, fusedSupports } from './engine';
import type { GemmMode, GemmTune } from './engine';
import { NativeEngine, nativeSupports } from './native';
import type { NativeIsa } from './native';
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
  /** GEMM block sizes of the fused engine (engine.ts, for experiments; the default kernel is then the fused one). */
  tune?: GemmTune;
  /** Native engine: the instruction set (default: BNN_PACKED_ISA, else the widest the CPU has). */
  isa?: NativeIsa;
}

/** The runtime chooseRuntime picked: exactly one of native, fused and reference is set. */
export interface PackedRuntime {
  kernelName: PackedKernel;
  native: NativeEngine | null;
  fused: FusedEngine | null;
  reference: ReferenceRunner | null;
}

/**
 * Picks the runtime of a spec. Kernel 'native': the native engine (throws, saying why, where it cannot run). No
 * kernel: the native engine where it runs and takes the spec (not with opts.reference or opts.tune), else as for
 * 'mix' where wasm SIMD runs, else the fastest generic kernel. Other kernels: the fused engine for a name other
 * than 'js' when `fusedSupports` accepts the spec and wasm SIMD runs (not with opts.reference or a BinaryKernel
 * object), else the reference interpreter on `kernel` ('mix' becomes 'simd' there). `who` names the caller in errors.
 */
export function chooseRuntime(
  who: string,
  spec: PackedSpec,
  kernel: PackedKernel | BinaryKernel | undefined,
  opts: PackedOptions,
): PackedRuntime {
  if (kernel === 'native' || (kernel === undefined && !opts.reference && !opts.tune && nativeSupports(spec) === null)) {
    if (opts.reference) throw new Error(`${who}: kernel 'native' and the reference option exclude each other`);
    const why = nativeSupports(spec);
    if (why) throw new Error(`${who}: the native engine cannot run this model (${why})`);
    return {
      kernelName: 'native',
      native: new NativeEngine(spec, { isa: opts.isa, threads: opts.threads ?? 1 }),
      fused: null,
      reference: null,
    };
  }
  const avail = availableKernels();
  let name: PackedKernel =
    typeof kernel === 'object' ? kernel.name : (kernel ?? (avail[0] === 'simd' ? 'mix' : avail[0]));
  if (name === 'mix' && !avail.includes('simd'))
    throw new Error(`${who}: kernel 'mix' needs WebAssembly SIMD, which this runtime lacks`);
  if (
    typeof kernel !== 'object' &&
    name !== 'js' &&
    !opts.reference &&
    fusedSupports(spec) === null &&
    avail.includes('simd')
  )
    return {
      kernelName: name,
      native: null,
      fused: new FusedEngine(spec, name as GemmMode, opts.threads ?? 1, opts.tune),
      reference: null,
    };
  if (name === 'mix') name = 'simd';
  const runner = new ReferenceRunner(
    { ...spec, graph: undefined },
    typeof kernel === 'object' ? kernel : createKernel(name as 'simd' | 'i64' | 'js'),
  );
  return { kernelName: name, native: null, fused: null, reference: runner };
}

/** The path a runtime runs on, for logs and tests: "native avx512, 2 threads", "wasm fused mix, 1 thread", "reference simd". */
export function runtimeName(rt: Pick<PackedRuntime, 'kernelName' | 'native' | 'fused'>, threads: number): string {
  const th = `${threads} thread${threads === 1 ? '' : 's'}`;
  if (rt.native) return `native ${rt.native.isa}, ${th}`;
  if (rt.fused) return `wasm fused ${rt.kernelName}, ${th}`;
  return `reference ${rt.kernelName}`;
}

/**
 * What PackedModel and PackedGraphModel share: the runtime `chooseRuntime` picked for the spec (exactly one of
 * native, fused and reference), the threads it runs on, its name, waiting for its second thread and stopping it.
 * `graph`: whether the subclass runs graph specs (UNet) or sequential ones.
 */
export class PackedRunner {
  /** The native engine, or null. */
  readonly native: NativeEngine | null;
  /** The fused wasm engine, or null. */
  readonly fused: FusedEngine | null;
  /** 'native', 'mix' (fused only), 'simd' | 'i64' (fused or reference) or 'js' (reference). */
  readonly kernelName: PackedKernel;
  protected readonly reference: ReferenceRunner | null;

  constructor(
    readonly spec: PackedSpec,
    kernel: PackedKernel | BinaryKernel | undefined,
    opts: PackedOptions,
    graph: boolean,
  ) {
    if (graph && !spec.graph)
      throw new Error('PackedGraphModel: the spec has no graph (use PackedModel for sequential models)');
    if (!graph && spec.graph)
      throw new Error('PackedModel: this packed model is a graph (UNet); run it with PackedGraphModel');
    const rt = chooseRuntime(graph ? 'PackedGraphModel' : 'PackedModel', spec, kernel, opts);
    this.kernelName = rt.kernelName;
    this.native = rt.native;
    this.fused = rt.fused;
    this.reference = rt.reference;
  }

  /** Threads the model runs on (the fused engine: 2 only once the worker has started: see `ready`). */
  get threads(): number {
    return this.native?.threads ?? this.fused?.threads ?? 1;
  }

  /** The path the model runs on, e.g. "native avx512, 2 threads", "wasm fused mix, 1 thread", "reference simd". */
  get engine(): string {
    return runtimeName(this, this.threads);
  }

  /** Waits until a 2-thread engine runs (resolves true; the fused engine's worker starts asynchronously), or false on one thread. */
  async ready(): Promise<boolean> {
    if (this.native) return this.native.threads > 1;
    return this.fused ? this.fused.ready() : false;
  }

  /** Stops the fused engine's worker thread (it keeps working on one thread) or frees the native engine (no more predictions). */
  dispose(): void {
    this.fused?.dispose();
    this.native?.dispose();
  }
}

/** Runs a sequential PackedSpec (see the module comment). */
export class PackedModel extends PackedRunner {
  /** The reference interpreter's GEMM kernel (wasm i64/SIMD or JS), or null when an engine runs the model. */
  readonly kernel: BinaryKernel | null;
  /** Set to {} to accumulate milliseconds per stage and phase over predict calls (fused and reference paths). */
  timings: Record<string, number> | null = null;

  /**
   * `kernel`: none (default) runs the native engine where it runs and takes the model, else as 'mix'; 'native' runs
   * it or throws why not; 'mix' (where wasm SIMD runs), 'simd' or 'i64' run the fused engine when it supports the
   * model (fusedSupports), else the reference path (with 'simd' for 'mix'); 'js' or a BinaryKernel object always
   * run the reference path. Options: PackedOptions (`await ready()` before timing 2 threads of the fused engine,
   * `dispose()` to stop its worker or free the native engine). Results are identical on every path.
   */
  constructor(spec: PackedSpec, kernel?: PackedKernel | BinaryKernel, opts: PackedOptions = {}) {
    super(spec, kernel, opts, false);
    this.kernel = this.reference?.kernel ?? null;
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
    if (data.length % per !== 0)
      throw new Error(`PackedModel.predict: ${data.length} values is not a whole number of ${H}×${W}×${C} images`);
    const n = data.length / per;
    const k = this.numClasses;
    const res: PackedPrediction = {
      logits: new Float32Array(n * k),
      probs: new Float32Array(n * k),
      classes: new Int32Array(n),
    };
    if (this.native) {
      const y = this.native.forward(data, n);
      const len = y.length / n;
      for (let i = 0; i < n; i++)
        setPrediction(res, i, this.finishFused(y.subarray(i * len, (i + 1) * len)), 0, k, this.spec.softmax);
      return res;
    }
    // 2 threads and several images: whole images on each thread (FusedEngine.forwardBatch)
    const batch = this.fused && n >= 2 ? this.fused.forwardBatch(data, n) : null;
    for (let i = 0; i < n; i++) {
      const out = batch ? this.finishFused(batch[i]) : this.forwardOne(data.subarray(i * per, (i + 1) * per));
      setPrediction(res, i, out, 0, k, this.spec.softmax);
    }
    return res;
  }

  /** The last stage's float32 BN (if any) on an engine's integer outputs. */
  private finishFused(y: Int32Array): Float32Array {
    const last = this.spec.stages[this.spec.stages.length - 1];
    return finalOutputs(last.post, y, last.outC);
  }

  private forwardOne(image: Float32Array): Float32Array {
    if (this.fused)
      return this.finishFused(
        this.fused.forward(
          image,
          this.timings,
          this.spec.stages.map((s) => s.name),
        ),
      );
    return this.reference!.forward(image, this.timings);
  }
}

/** Convenience: packModel + PackedModel. */
export function packedModel(model: tf.LayersModel, kernel?: PackedKernel): PackedModel {
  return new PackedModel(packModel(model), kernel);
}
