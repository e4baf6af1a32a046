/**
 * Normalization and on-the-fly augmentation on plain typed arrays (no tfjs), as the Bop authors' pipeline
 * (plumerai/rethinking-bnn-optimization data/cifar10.py + zookeeper):
 *   train: resize_with_crop_or_pad(40, 40) on the raw uint8 image (pad value 0), random 32×32 crop,
 *          random left-right flip (CIFAR-10 only; SVHN gets no flip: digits are not mirror-symmetric);
 *   then, train and test:  x/127.5 − 1  ∈ [−1, 1]   (so a padded pixel becomes −1).
 * Randomness comes from the caller's `Rng` (src/random.ts), whose state is checkpointable. Draw order per image,
 * in batch order: crop row offset dy = rng.int(2·pad+1), crop column offset dx = rng.int(2·pad+1) (when cropping),
 * then flip = rng.next() < 0.5 (when flipping).
 */
import { Rng } from '../random';
import { ClassificationSplit, SegmentationSplit } from './types';

/** SCALE[v] = v/127.5 − 1: the original's normalization of a raw pixel value v ∈ 0..255 to [−1, 1]. */
export const SCALE = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = v / 127.5 - 1;
  return t;
})();

/** Normalizes raw uint8 pixels to float32 x/127.5 − 1. */
export function normalize(pixels: Uint8Array, out = new Float32Array(pixels.length)): Float32Array {
  for (let i = 0; i < pixels.length; i++) out[i] = SCALE[pixels[i]];
  return out;
}

export interface AugmentOptions {
  /** Pad by `pad` pixels (raw value 0) on each side, then take a random crop of the original size. */
  crop?: boolean;
  /** Random horizontal flip with probability 1/2. */
  flip?: boolean;
  /** Padding per side (default 4: 32 → 40). */
  pad?: number;
}

/** The original's augmentation per dataset: CIFAR-10 crop + flip, SVHN crop only. */
export function defaultAugment(dataset: string): AugmentOptions {
  return dataset === 'svhn' ? { crop: true, flip: false, pad: 4 } : { crop: true, flip: true, pad: 4 };
}

/**
 * Writes one image (raw HWC uint8 at `src[s0..]`) into `out[o0..]` as normalized float32, shifted by the crop
 * offset (dy, dx) in the padded frame and mirrored when `flip`. Pixels that fall into the padding get SCALE[0] = −1.
 */
export function augmentImage(src: Uint8Array, s0: number, out: Float32Array, o0: number, h: number, w: number, c: number, dy: number, dx: number, flip: boolean, pad: number): void {
  const fill = SCALE[0];
  for (let y = 0; y < h; y++) {
    const sy = y + dy - pad;
    const orow = o0 + y * w * c;
    if (sy < 0 || sy >= h) {
      out.fill(fill, orow, orow + w * c);
      continue;
    }
    const srow = s0 + sy * w * c;
    for (let x = 0; x < w; x++) {
      const sx = (flip ? w - 1 - x : x) + dx - pad;
      const o = orow + x * c;
      if (sx < 0 || sx >= w) {
        for (let k = 0; k < c; k++) out[o + k] = fill;
      } else {
        const s = srow + sx * c;
        for (let k = 0; k < c; k++) out[o + k] = SCALE[src[s + k]];
      }
    }
  }
}

export interface BatchArrays {
  /** b·H·W·C normalized pixels. */
  x: Float32Array;
  /** b·numClasses one-hot targets. */
  y: Float32Array;
  /** b class indices. */
  labels: Uint8Array;
  shape: [number, number, number, number];
}

/**
 * The arrays of one classification batch: examples `indices` of `split`, normalized, augmented when both `augment`
 * and `rng` are given (training), else only normalized (evaluation).
 */
export function classificationBatch(
  split: ClassificationSplit,
  indices: ArrayLike<number>,
  opts: { shape?: [number, number, number]; numClasses?: number; augment?: AugmentOptions | null; rng?: Rng | null; out?: Float32Array } = {},
): BatchArrays {
  const [h, w, c] = opts.shape ?? [32, 32, 3];
  const per = h * w * c;
  const numClasses = opts.numClasses ?? 10;
  const b = indices.length;
  if (split.n > 0 && split.images.length !== split.n * per) throw new Error(`classificationBatch: split has ${split.images.length} pixels for ${split.n} images, not ${h}×${w}×${c} each`);
  const x = opts.out && opts.out.length === b * per ? opts.out : new Float32Array(b * per);
  const y = new Float32Array(b * numClasses);
  const labels = new Uint8Array(b);
  const aug = opts.rng && opts.augment && (opts.augment.crop || opts.augment.flip) ? opts.augment : null;
  const pad = aug?.crop ? aug.pad ?? 4 : 0;
  for (let k = 0; k < b; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < split.n)) throw new Error(`classificationBatch: index ${i} out of range 0..${split.n - 1}`);
    const label = split.labels[i];
    if (label >= numClasses) throw new Error(`classificationBatch: label ${label} ≥ numClasses ${numClasses}`);
    labels[k] = label;
    y[k * numClasses + label] = 1;
    if (aug) {
      const rng = opts.rng!;
      const dy = aug.crop ? rng.int(2 * pad + 1) : 0;
      const dx = aug.crop ? rng.int(2 * pad + 1) : 0;
      const flip = aug.flip ? rng.next() < 0.5 : false;
      augmentImage(split.images, i * per, x, k * per, h, w, c, dy, dx, flip, pad);
    } else {
      const src = split.images.subarray(i * per, (i + 1) * per);
      const o = k * per;
      for (let j = 0; j < per; j++) x[o + j] = SCALE[src[j]];
    }
  }
  return { x, y, labels, shape: [b, h, w, c] };
}

/**
 * The arrays of one segmentation batch: normalized images and one-hot masks (b·S·S·numClasses). With `flip` and an
 * `rng`, each image and its mask are mirrored together with probability 1/2 (one rng.next() per example).
 */
export function segmentationBatch(
  split: SegmentationSplit,
  indices: ArrayLike<number>,
  size: number,
  opts: { numClasses?: number; flip?: boolean; rng?: Rng | null } = {},
): { x: Float32Array; y: Float32Array; masks: Uint8Array; shape: [number, number, number, number] } {
  const nc = opts.numClasses ?? 3;
  const b = indices.length;
  const px = size * size;
  const x = new Float32Array(b * px * 3);
  const y = new Float32Array(b * px * nc);
  const masks = new Uint8Array(b * px);
  for (let k = 0; k < b; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < split.n)) throw new Error(`segmentationBatch: index ${i} out of range 0..${split.n - 1}`);
    const flip = opts.flip && opts.rng ? opts.rng.next() < 0.5 : false;
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const sp = i * px + r * size + (flip ? size - 1 - c : c);
        const op = k * px + r * size + c;
        const m = split.masks[sp];
        masks[op] = m;
        y[op * nc + m] = 1;
        x[op * 3] = SCALE[split.images[sp * 3]];
        x[op * 3 + 1] = SCALE[split.images[sp * 3 + 1]];
        x[op * 3 + 2] = SCALE[split.images[sp * 3 + 2]];
      }
    }
  }
  return { x, y, masks, shape: [b, size, size, 3] };
}
