/**
 * What every quantized layer shares, after Larq's `layers_base.py` (`BaseLayer` holds the input quantizer,
 * `QuantizerBase` the kernel quantizer and constraint; here one class holds both, as Larq's QuantConv2D and
 * QuantDense always carry both):
 *
 *   out = op(inputQuantizer(x), kernelQuantizer(kernel)) (+ bias)
 *
 * `QuantizerBase` parses and serialises the quantizer arguments, creates the kernel (glorot-uniform, Keras' and
 * Larq's default, seeded) and the optional bias, and quantizes input and kernel; a subclass gives only the
 * kernel's shape, the operation and its own config keys (QuantConv2D: filters, kernel size, strides, padding;
 * QuantDense: units).
 *
 * A kernel is *binary* when its layer says so: either its kernel quantizer has precision 1 (`ste_sign`, the
 * latent-weight baseline) or the layer is built with `binaryKernel: true` (Larq ≥ 0.9's `NoOp(precision=1)`: the
 * kernel itself is the ±1 weight that Bop writes).
 */
import * as tf from '@tensorflow/tfjs';
import { applyQuantizer, QuantizerName, quantizerPrecision } from '../quantizers';

export type Kwargs = { training?: boolean; [k: string]: unknown };
export type LayerArgs = ConstructorParameters<typeof tf.layers.Layer>[0];
export type Shape = (number | null)[];

export type KernelConstraintName = 'weight_clip' | null;

/** The arguments every quantized layer takes. */
export interface QuantArgsBase {
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
export function canonical<T extends string | null>(v: T | undefined): T | null {
  if (v === undefined || v === null) return null;
  return v.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) as T;
}

/** The generic Keras layer arguments (name, input shape, dtype, trainable), also as they come back from a saved config. */
export function baseArgs(a: object): LayerArgs {
  const args: Record<string, unknown> = {};
  for (const k of ['name', 'inputShape', 'batchInputShape', 'batchSize', 'dtype', 'trainable']) {
    const v = (a as Record<string, unknown>)[k];
    if (v !== undefined && v !== null) args[k] = v;
  }
  return args as LayerArgs;
}

/** The single input tensor of a layer call. */
function singleInput<T extends tf.Tensor>(inputs: tf.Tensor | tf.Tensor[]): T {
  return (Array.isArray(inputs) ? inputs[0] : inputs) as T;
}

/**
 * Base of the quantized layers (Larq `BaseLayer` + `QuantizerBase`): the quantizers, the kernel constraint, the
 * kernel and bias variables and their serialisation. Subclasses implement `kernelShape` (from the input's last
 * dimension), `units` (the bias length), `op` (the layer's operation on the quantized input and kernel),
 * `computeOutputShape` and `ownConfig` (their own config keys, serialised before the shared ones).
 */
export abstract class QuantizerBase extends tf.layers.Layer implements QuantLayer {
  readonly inputQuantizer: QuantizerName;
  readonly kernelQuantizer: QuantizerName;
  readonly binaryKernel: boolean;
  readonly kernelConstraint: KernelConstraintName;
  readonly useBias: boolean;
  readonly seed: number | null;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: QuantArgsBase & { name?: string }) {
    super(baseArgs(args));
    this.inputQuantizer = canonical(args.inputQuantizer);
    this.kernelQuantizer = canonical(args.kernelQuantizer);
    this.binaryKernel = (args.binaryKernel ?? false) || quantizerPrecision(this.kernelQuantizer) === 1;
    this.kernelConstraint = canonical(args.kernelConstraint);
    this.useBias = args.useBias ?? false;
    this.seed = args.seed ?? null;
  }

  /** The kernel's shape for an input whose last dimension is `inputDim`. */
  protected abstract kernelShape(inputDim: number): number[];
  /** Output channels: the bias length. */
  protected abstract get outputDim(): number;
  /** The layer's operation on the quantized input and the quantized kernel. */
  protected abstract op(x: tf.Tensor, kernel: tf.Tensor): tf.Tensor;
  /** The subclass' own config keys (serialised before the quantizer keys). */
  protected abstract ownConfig(): tf.serialization.ConfigDict;

  build(inputShape: Shape | Shape[]): void {
    const s = inputShape as Shape;
    const inputDim = s[s.length - 1] as number;
    const init = tf.initializers.glorotUniform(this.seed === null ? {} : { seed: this.seed });
    this.kernel = this.addWeight('kernel', this.kernelShape(inputDim), 'float32', init);
    if (this.useBias) this.bias = this.addWeight('bias', [this.outputDim], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = applyQuantizer(this.inputQuantizer, singleInput(inputs));
      const k = applyQuantizer(this.kernelQuantizer, this.kernel!.read());
      const y = this.op(x, k);
      return this.bias ? tf.add(y, this.bias.read()) : y;
    });
  }

  kernelVariable(): tf.Variable {
    if (!this.kernel) throw new Error(`${this.getClassName()} ${this.name}: kernel used before the layer was built`);
    return this.kernel.read() as tf.Variable;
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      ...this.ownConfig(),
      inputQuantizer: this.inputQuantizer,
      kernelQuantizer: this.kernelQuantizer,
      binaryKernel: this.binaryKernel,
      kernelConstraint: this.kernelConstraint,
      useBias: this.useBias,
      seed: this.seed,
    };
  }
}

/** True for the quantized layers (QuantConv2D, QuantDense). */
export function isQuantLayer(layer: unknown): layer is QuantizerBase {
  return layer instanceof QuantizerBase;
}
