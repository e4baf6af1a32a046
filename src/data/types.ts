/**
 * Plain-data dataset types shared by the loaders, the batcher and the CLI. Images are stored as raw
 * uint8 pixels in NHWC order (n, row, column, channel; channels R, G, B); they are scaled to [−1, 1]
 * only when a batch is made (see `normalize.ts`), so the 60,000 CIFAR-10 images take 184 MB, not 737 MB.
 */

/** One split of an image-classification dataset. */
export interface ClassificationSplit {
  /** N·H·W·C raw pixels, NHWC, values 0..255. */
  images: Uint8Array;
  /** N class indices 0..numClasses−1. */
  labels: Uint8Array;
  /** Number of examples. */
  n: number;
}

export interface ClassificationDataset {
  name: 'cifar10' | 'svhn' | string;
  train: ClassificationSplit;
  test: ClassificationSplit;
  /** Held-out validation split when the dataset has one (SVHN: 30,000 images of `extra`). */
  val?: ClassificationSplit;
  numClasses: number;
  /** [height, width, channels]. */
  shape: [number, number, number];
  classNames: string[];
  /** Where the pixels came from, in words (file/package and checksum). */
  source: string;
  /** How a subset / validation split was chosen, so a run can record it. */
  selection?: Record<string, unknown>;
}

/** One split of a segmentation dataset (Oxford-IIIT Pet). */
export interface SegmentationSplit {
  /** N·S·S·3 raw pixels (bilinear-resized, rounded), NHWC, values 0..255. */
  images: Uint8Array;
  /** N·S·S class indices: 0 = pet, 1 = background, 2 = border (trimap value − 1). */
  masks: Uint8Array;
  /** File stems (e.g. "Abyssinian_100"), in order. */
  names: string[];
  n: number;
}

export interface SegmentationDataset {
  name: 'pets';
  train: SegmentationSplit;
  test: SegmentationSplit;
  /** Side of the square images and masks. */
  size: number;
  numClasses: 3;
  classNames: ['pet', 'background', 'border'];
  source: string;
}

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
export const SVHN_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
