/** The trainable variables of a model with what optimizers need to know about each (binary, clipped). */
import * as tf from '@tensorflow/tfjs';
import { isQuantLayer, type QuantLayer } from './base';
import { BatchNorm } from './batchnorm';
import { SeededDropout } from './dropout';

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

/** The model's batch-normalization layers, in order. */
export function batchNormLayers(model: tf.LayersModel): BatchNorm[] {
  return model.layers.filter((l): l is BatchNorm => l instanceof BatchNorm);
}
