/**
 * Semantic segmentation (the report's §4.5, 3-class Oxford-IIIT Pet trimaps): pixel-wise categorical cross-entropy
 * on softmax outputs (Keras `categorical_crossentropy` on [b,H,W,C], averaged over every pixel of the batch, as the
 * reproduction's notebook compiles it), and metrics from a C×C confusion matrix summed over an epoch:
 *
 *   cm[t][p]       = number of pixels of true class t predicted as p (prediction = argmax of the softmax)
 *   pixel accuracy = Σ_c cm[c][c] / Σ cm
 *   IoU_c          = cm[c][c] / (Σ_p cm[c][p] + Σ_t cm[t][c] − cm[c][c])   (0 when the union is empty)
 *   mIoU           = mean of IoU_c over the classes whose union is non-empty (tf.keras.metrics.MeanIoU)
 */
import * as tf from '@tensorflow/tfjs';
import { categoricalCrossentropy, Task } from './tasks';

export const PET_CLASS_NAMES = ['pet', 'background', 'border'];

/** C×C confusion matrix (row = true class, column = predicted class) of two equally long masks of class indices. */
export function confusionMatrix(
  trueMask: ArrayLike<number>,
  predMask: ArrayLike<number>,
  numClasses = 3,
): Float64Array {
  if (trueMask.length !== predMask.length)
    throw new Error(
      `confusionMatrix: masks differ in length (${trueMask.length} true vs ${predMask.length} predicted)`,
    );
  const cm = new Float64Array(numClasses * numClasses);
  for (let i = 0; i < trueMask.length; i++) {
    const t = trueMask[i];
    const p = predMask[i];
    if (!(t >= 0 && t < numClasses && p >= 0 && p < numClasses))
      throw new Error(
        `confusionMatrix: class index out of range 0..${numClasses - 1} at pixel ${i} (true ${t}, predicted ${p})`,
      );
    cm[t * numClasses + p]++;
  }
  return cm;
}

/** Pixel accuracy, per-class IoU and mIoU of a flattened C×C confusion matrix (see the module comment). */
export function segmentationMetrics(
  cm: ArrayLike<number>,
  numClasses = 3,
): { accuracy: number; iou: number[]; miou: number } {
  if (cm.length !== numClasses * numClasses)
    throw new Error(
      `segmentationMetrics: expected ${numClasses}×${numClasses} = ${numClasses * numClasses} counts, got ${cm.length}`,
    );
  let total = 0;
  let correct = 0;
  const iou: number[] = [];
  let sum = 0;
  let valid = 0;
  for (let c = 0; c < numClasses; c++) {
    let row = 0;
    let col = 0;
    for (let k = 0; k < numClasses; k++) {
      row += cm[c * numClasses + k];
      col += cm[k * numClasses + c];
      total += cm[c * numClasses + k];
    }
    const tp = cm[c * numClasses + c];
    correct += tp;
    const union = row + col - tp;
    iou.push(union > 0 ? tp / union : 0);
    if (union > 0) {
      sum += tp / union;
      valid++;
    }
  }
  return { accuracy: total > 0 ? correct / total : 0, iou, miou: valid > 0 ? sum / valid : 0 };
}

/** Fraction of pixels where the predicted class equals the true class. */
export function pixelAccuracy(trueMask: ArrayLike<number>, predMask: ArrayLike<number>, numClasses = 3): number {
  return segmentationMetrics(confusionMatrix(trueMask, predMask, numClasses), numClasses).accuracy;
}

/** Mean intersection over union of two masks (classes absent from both masks are left out of the mean). */
export function meanIoU(trueMask: ArrayLike<number>, predMask: ArrayLike<number>, numClasses = 3): number {
  return segmentationMetrics(confusionMatrix(trueMask, predMask, numClasses), numClasses).miou;
}

/** The confusion matrix of one batch as a tensor: oneHot(argmax yTrue)ᵀ · oneHot(argmax yPred), flattened. */
function batchConfusion(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const c = yTrue.shape[yTrue.rank - 1] as number;
    const t = tf.oneHot(tf.reshape(tf.argMax(yTrue, -1), [-1]), c);
    const p = tf.oneHot(tf.reshape(tf.argMax(yPred, -1), [-1]), c);
    return tf.reshape(tf.matMul(tf.transpose(tf.cast(t, 'float32')), tf.cast(p, 'float32')), [c * c]) as tf.Tensor1D;
  });
}

/** Makes the segmentation task for `classNames.length` classes (names are the keys of the per-class IoUs). */
export function segmentationTask(classNames: string[] = PET_CLASS_NAMES): Task {
  const nc = classNames.length;
  return {
    name: 'segmentation',
    loss: categoricalCrossentropy,
    batchStats: batchConfusion,
    summarize(stats) {
      const m = segmentationMetrics(stats, nc);
      const extra: Record<string, number> = { miou: m.miou };
      classNames.forEach((n, i) => (extra[`iou_${n}`] = m.iou[i]));
      return { accuracy: m.accuracy, extra };
    },
  };
}

/** Pixel-wise segmentation of the 3 pet classes: accuracy = pixel accuracy; extra {miou, iou_pet, iou_background, iou_border}. */
export const segmentation: Task = segmentationTask(PET_CLASS_NAMES);

/**
 * Predicted masks (argmax of the softmax, inference mode) of `images` [n,S,S,3] (already normalized as in training),
 * in batches: n·S·S class indices, row-major per image.
 */
export function predictMasks(model: tf.LayersModel, images: tf.Tensor4D, batchSize = 32): Uint8Array {
  const [n, h, w] = images.shape;
  const out = new Uint8Array(n * h * w);
  for (let s = 0; s < n; s += batchSize) {
    const b = Math.min(batchSize, n - s);
    const m = tf.tidy(() =>
      tf.argMax(
        model.apply(tf.slice(images, [s, 0, 0, 0], [b, h, w, images.shape[3]]), { training: false }) as tf.Tensor,
        -1,
      ),
    );
    out.set(m.dataSync() as Int32Array, s * h * w);
    m.dispose();
  }
  return out;
}
