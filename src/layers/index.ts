/**
 * Binary layers with Larq semantics (larq/larq `layers.py`), as tfjs-layers custom layers registered
 * for serialization, so a model saved through `tf.io` loads back with identical outputs.
 *
 *   out = op(inputQuantizer(x), kernelQuantizer(kernel))      (no bias by default, as in BinaryNet)
 *
 * A kernel is *binary* when its layer says so: either its kernel quantizer has precision 1 (`ste_sign`,
 * the latent-weight baseline) or the layer is built with `binaryKernel: true` (Larq ≥ 0.9's
 * `NoOp(precision=1)`: the kernel itself is the ±1 weight that Bop writes). Optimizers find binary
 * variables through `binaryKernelVariables(model)`, never through name patterns.
 */
import * as tf from '@tensorflow/tfjs';
import { applyQuantizer, QuantizerName, quantizerPrecision } from '../quantizers';
import { Rng } from '../random';
import { batchNormTrainFused } from '../backend/fused';

type Kwargs = { training?: boolean; [k: string]: unknown };
type LayerArgs = ConstructorParameters<typeof tf.layers.Layer>[0];
type Shape = (number | null)[];

export type KernelConstraintName = 'weight_clip' | null;

interface QuantArgsBase {
  inputQuantizer?: QuantizerName;
  kernelQuantizer?: QuantizerName;
  /** Mark the kernel binary (precision 1) even without a kernel quantizer: Bop trains it directly. */
  binaryKernel?: boolean;
  /** 'weight_clip' clips the latent kernel to [−1, 1] after each step (applied by the training loop). */
  kernelConstraint?: KernelConstraintName;
  useBias?: boolean;
  /** Seed of the glorot-uniform kernel initializer (Keras/Larq default initializer). */
  seed?: number;
}

export interface QuantConv2DArgs extends QuantArgsBase {
  filters: number;
  kernelSize: number;
  strides?: number;
  /** Keras default is 'valid'. 'same' pads with zeros, so padded inputs are 0, not ±1 (Larq pad_values=0). */
  padding?: 'same' | 'valid';
  name?: string;
  inputShape?: number[];
}

export interface QuantDenseArgs extends QuantArgsBase {
  units: number;
  name?: string;
  inputShape?: number[];
}

/** Common part of quantized layers: kernel binary-ness, quantizers, constraint. */
export interface QuantLayer {
  readonly inputQuantizer: QuantizerName;
  readonly kernelQuantizer: QuantizerName;
  readonly binaryKernel: boolean;
  readonly kernelConstraint: KernelConstraintName;
  /** The kernel's tf.Variable (after build). */
  kernelVariable(): tf.Variable;
}

/** tfjs' config (de)serialization turns string values into camelCase ('ste_sign' → 'steSign'); accept both. */
function canonical<T extends string | null>(v: T | undefined): T | null {
  if (v === undefined || v === null) return null;
  return v.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) as T;
}

function commonConfig(a: QuantArgsBase) {
  return {
    inputQuantizer: canonical(a.inputQuantizer),
    kernelQuantizer: canonical(a.kernelQuantizer),
    binaryKernel: a.binaryKernel ?? false,
    kernelConstraint: canonical(a.kernelConstraint),
    useBias: a.useBias ?? false,
    seed: a.seed ?? null,
  };
}

function isBinary(a: { kernelQuantizer: QuantizerName; binaryKernel: boolean }): boolean {
  return a.binaryKernel || quantizerPrecision(a.kernelQuantizer) === 1;
}

/** The generic Keras layer arguments (name, input shape, dtype, trainable), also as they come back from a saved config. */
function baseArgs(a: object): LayerArgs {
  const args: Record<string, unknown> = {};
  for (const k of ['name', 'inputShape', 'batchInputShape', 'batchSize', 'dtype', 'trainable']) {
    const v = (a as Record<string, unknown>)[k];
    if (v !== undefined && v !== null) args[k] = v;
  }
  return args as LayerArgs;
}

function glorot(seed: number | null) {
  return tf.initializers.glorotUniform(seed === null ? {} : { seed });
}

/** Larq `QuantConv2D`: 2-D convolution (NHWC) of the quantized input with the quantized kernel. */
export class QuantConv2D extends tf.layers.Layer implements QuantLayer {
  static className = 'QuantConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: 'same' | 'valid';
  readonly inputQuantizer: QuantizerName;
  readonly kernelQuantizer: QuantizerName;
  readonly binaryKernel: boolean;
  readonly kernelConstraint: KernelConstraintName;
  readonly useBias: boolean;
  readonly seed: number | null;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: QuantConv2DArgs) {
    super(baseArgs(args));
    if (!(args.filters > 0)) throw new Error(`QuantConv2D: filters must be > 0, got ${args.filters}`);
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.strides = args.strides ?? 1;
    this.padding = args.padding ?? 'valid';
    const c = commonConfig(args);
    this.inputQuantizer = c.inputQuantizer;
    this.kernelQuantizer = c.kernelQuantizer;
    this.binaryKernel = isBinary(c);
    this.kernelConstraint = c.kernelConstraint;
    this.useBias = c.useBias;
    this.seed = c.seed;
  }

  build(inputShape: Shape | Shape[]): void {
    const s = inputShape as Shape;
    const cin = s[s.length - 1] as number;
    this.kernel = this.addWeight('kernel', [this.kernelSize, this.kernelSize, cin, this.filters], 'float32', glorot(this.seed));
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = applyQuantizer(this.inputQuantizer, (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D);
      const k = applyQuantizer(this.kernelQuantizer, this.kernel!.read() as tf.Tensor4D);
      let y = tf.conv2d(x, k, this.strides, this.padding);
      if (this.bias) y = tf.add(y, this.bias.read());
      return y;
    });
  }

  computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = inputShape as Shape;
    const out = (n: number | null) => {
      if (n === null) return null;
      return this.padding === 'same' ? Math.ceil(n / this.strides) : Math.floor((n - this.kernelSize) / this.strides) + 1;
    };
    return [s[0], out(s[1]), out(s[2]), this.filters];
  }

  kernelVariable(): tf.Variable {
    if (!this.kernel) throw new Error(`QuantConv2D ${this.name}: kernel used before the layer was built`);
    return this.kernel.read() as tf.Variable;
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      inputQuantizer: this.inputQuantizer,
      kernelQuantizer: this.kernelQuantizer,
      binaryKernel: this.binaryKernel,
      kernelConstraint: this.kernelConstraint,
      useBias: this.useBias,
      seed: this.seed,
    };
  }
}

/** Larq `QuantDense`: matrix product of the quantized input with the quantized kernel. */
export class QuantDense extends tf.layers.Layer implements QuantLayer {
  static className = 'QuantDense';
  readonly units: number;
  readonly inputQuantizer: QuantizerName;
  readonly kernelQuantizer: QuantizerName;
  readonly binaryKernel: boolean;
  readonly kernelConstraint: KernelConstraintName;
  readonly useBias: boolean;
  readonly seed: number | null;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: QuantDenseArgs) {
    super(baseArgs(args));
    if (!(args.units > 0)) throw new Error(`QuantDense: units must be > 0, got ${args.units}`);
    this.units = args.units;
    const c = commonConfig(args);
    this.inputQuantizer = c.inputQuantizer;
    this.kernelQuantizer = c.kernelQuantizer;
    this.binaryKernel = isBinary(c);
    this.kernelConstraint = c.kernelConstraint;
    this.useBias = c.useBias;
    this.seed = c.seed;
  }

  build(inputShape: Shape | Shape[]): void {
    const s = inputShape as Shape;
    const din = s[s.length - 1] as number;
    this.kernel = this.addWeight('kernel', [din, this.units], 'float32', glorot(this.seed));
    if (this.useBias) this.bias = this.addWeight('bias', [this.units], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = applyQuantizer(this.inputQuantizer, (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor2D);
      const k = applyQuantizer(this.kernelQuantizer, this.kernel!.read() as tf.Tensor2D);
      let y = tf.matMul(x, k);
      if (this.bias) y = tf.add(y, this.bias.read());
      return y;
    });
  }

  computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = inputShape as Shape;
    return [...s.slice(0, -1), this.units];
  }

  kernelVariable(): tf.Variable {
    if (!this.kernel) throw new Error(`QuantDense ${this.name}: kernel used before the layer was built`);
    return this.kernel.read() as tf.Variable;
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      inputQuantizer: this.inputQuantizer,
      kernelQuantizer: this.kernelQuantizer,
      binaryKernel: this.binaryKernel,
      kernelConstraint: this.kernelConstraint,
      useBias: this.useBias,
      seed: this.seed,
    };
  }
}

export interface BatchNormArgs {
  /** Keras default 0.99. */
  momentum?: number;
  /** Keras default 1e-3. */
  epsilon?: number;
  /** Learn β (Keras default true). */
  center?: boolean;
  /** Learn γ (BinaryNet: false). */
  scale?: boolean;
  name?: string;
}

/**
 * Batch normalization over the last axis, as Keras `BatchNormalization` (TF 2.0):
 *   training:  y = γ·(x − μ_B)/√(σ²_B + ε) + β, and moving stats ← m·moving + (1 − m)·batch stats
 *   inference: y = γ·(x − μ_mov)/√(σ²_mov + ε) + β
 * Keras runs the fused kernel on 4-D inputs, whose moving variance uses the unbiased (Bessel-corrected)
 * batch variance; on 2-D inputs it uses the biased one. We do the same.
 * Written with broadcasting ops rather than `tf.batchNorm`, whose gradient goes through `Tile`,
 * a slow kernel on the wasm backend.
 */
export class BatchNorm extends tf.layers.Layer {
  static className = 'BnnBatchNorm';
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  private gamma: tf.LayerVariable | null = null;
  private beta: tf.LayerVariable | null = null;
  private movingMean: tf.LayerVariable | null = null;
  private movingVariance: tf.LayerVariable | null = null;

  constructor(args: BatchNormArgs = {}) {
    super(baseArgs(args));
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 1e-3;
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
  }

  build(inputShape: Shape | Shape[]): void {
    const s = inputShape as Shape;
    const c = s[s.length - 1] as number;
    if (this.scale) this.gamma = this.addWeight('gamma', [c], 'float32', tf.initializers.ones());
    if (this.center) this.beta = this.addWeight('beta', [c], 'float32', tf.initializers.zeros());
    this.movingMean = this.addWeight('moving_mean', [c], 'float32', tf.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [c], 'float32', tf.initializers.ones(), undefined, false);
    this.built = true;
  }

  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor;
    const training = kwargs.training === true;
    const axes = x.shape.map((_, i) => i).slice(0, -1);
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    // fused single-pass kernels with their own gradient on the wasm backend (src/backend/fused.ts)
    const fused = training ? batchNormTrainFused(x, this.beta ? this.beta.read() : null, this.gamma ? this.gamma.read() : null, this.epsilon) : null;
    if (training) {
      const m = fused ?? tf.moments(x, axes);
      mean = m.mean;
      variance = m.variance;
      // Moving statistics: not part of the gradient.
      const n = axes.reduce((p, a) => p * (x.shape[a] as number), 1);
      tf.tidy(() => {
        // Only assigned to non-trainable variables, so no gradient flows through these.
        const mu = mean;
        let v: tf.Tensor = variance;
        if (x.rank === 4 && n > 1) v = tf.mul(v, n / (n - 1));
        const mom = this.momentum;
        this.movingMean!.write(tf.add(tf.mul(this.movingMean!.read(), mom), tf.mul(mu, 1 - mom)));
        this.movingVariance!.write(tf.add(tf.mul(this.movingVariance!.read(), mom), tf.mul(v, 1 - mom)));
      });
    } else {
      mean = this.movingMean!.read();
      variance = this.movingVariance!.read();
    }
    if (fused) return fused.y;
    let inv = tf.rsqrt(tf.add(variance, this.epsilon));
    if (this.gamma) inv = tf.mul(inv, this.gamma.read());
    let y = tf.mul(tf.sub(x, mean), inv);
    if (this.beta) y = tf.add(y, this.beta.read());
    return y;
  }

  computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return inputShape as Shape;
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon, center: this.center, scale: this.scale };
  }
}

export interface SeededDropoutArgs {
  rate: number;
  seed: number;
  name?: string;
}

/**
 * Inverted dropout (Srivastava et al. 2014) with its own seeded generator, whose state is saved in
 * checkpoints, so that a resumed run draws the same masks. (tfjs' Dropout with a fixed seed draws the
 * same mask at every step; without one it uses Math.random and is not reproducible.)
 */
export class SeededDropout extends tf.layers.Layer {
  static className = 'SeededDropout';
  readonly rate: number;
  readonly seed: number;
  readonly rng: Rng;

  constructor(args: SeededDropoutArgs) {
    super(baseArgs(args));
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`SeededDropout: rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed;
    this.rng = new Rng(args.seed);
  }

  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor;
    if (kwargs.training !== true || this.rate === 0) return x;
    return tf.tidy(() => {
      const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', this.rng.seed()), this.rate), 'float32');
      return tf.mul(x, tf.div(keep, 1 - this.rate));
    });
  }

  computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return inputShape as Shape;
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

for (const cls of [QuantConv2D, QuantDense, BatchNorm, SeededDropout]) tf.serialization.registerClass(cls);

export function isQuantLayer(layer: unknown): layer is QuantLayer & tf.layers.Layer {
  return layer instanceof QuantConv2D || layer instanceof QuantDense;
}

/** A model variable with the facts optimizers need about it. */
export interface ModelVariable {
  /** Owning layer's name. */
  layer: string;
  /** Variable's short name within its layer ('kernel', 'beta', ...). */
  name: string;
  variable: tf.Variable;
  /** Precision 1: a binary kernel (Bop trains it; the baseline binarizes it with ste_sign). */
  binary: boolean;
  /** Clip to [−1, 1] after each step (Larq weight_clip). */
  clip: boolean;
}

/** Every trainable variable of a model, with its binary-ness taken from the owning layer. */
export function modelVariables(model: tf.LayersModel): ModelVariable[] {
  const out: ModelVariable[] = [];
  const seen = new Set<number>();
  const visit = (layer: tf.layers.Layer) => {
    const inner = (layer as unknown as { layers?: tf.layers.Layer[] }).layers;
    if (Array.isArray(inner) && layer !== (model as unknown as tf.layers.Layer)) {
      inner.forEach(visit);
      return;
    }
    for (const w of layer.trainableWeights) {
      if (seen.has(w.id)) continue;
      seen.add(w.id);
      const short = w.originalName.split('/').pop() as string;
      const quant = isQuantLayer(layer);
      const isKernel = quant && short === 'kernel';
      out.push({
        layer: layer.name,
        name: short,
        variable: w.read() as tf.Variable,
        binary: isKernel && (layer as QuantLayer).binaryKernel,
        clip: isKernel && (layer as QuantLayer).kernelConstraint === 'weight_clip',
      });
    }
  };
  model.layers.forEach(visit);
  return out;
}

/** The stateful random generators of a model's dropout layers, by layer name (for checkpoints). */
export function dropoutLayers(model: tf.LayersModel): SeededDropout[] {
  return model.layers.filter((l): l is SeededDropout => l instanceof SeededDropout);
}
