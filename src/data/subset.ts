/**
 * Subsets and index helpers that keep data plain (typed arrays), so small training profiles use balanced data.
 */
import { ClassificationSplit } from './types';

/**
 * The first `perClass` examples of every class (after skipping the first `skipPerClass` of each), kept in their
 * original order (classes stay interleaved as in the source). Deterministic: no randomness, so every run and every
 * source gives the same subset; with `skipPerClass` = the training subset's `perClass` it is a split held out of
 * the training set, disjoint from it. Throws (naming the class) when a class has too few examples.
 */
export function stratifiedSubset(split: ClassificationSplit, perClass: number, numClasses: number, what = 'split', skipPerClass = 0): ClassificationSplit {
  if (!Number.isInteger(perClass) || perClass < 1) throw new Error(`subset: per-class count must be a positive integer, got ${perClass}`);
  if (!Number.isInteger(skipPerClass) || skipPerClass < 0) throw new Error(`subset: per-class skip must be an integer ≥ 0, got ${skipPerClass}`);
  const seen = new Int32Array(numClasses);
  const counts = new Int32Array(numClasses);
  const keep: number[] = [];
  for (let i = 0; i < split.n; i++) {
    const c = split.labels[i];
    if (seen[c]++ < skipPerClass) continue;
    if (counts[c] < perClass) {
      counts[c]++;
      keep.push(i);
    }
  }
  for (let c = 0; c < numClasses; c++) {
    if (counts[c] < perClass) {
      throw new Error(`subset: ${what} has only ${counts[c]} examples of class ${c}${skipPerClass ? ` after the first ${skipPerClass}` : ''}, fewer than the ${perClass} per class asked for`);
    }
  }
  return takeExamples(split, Int32Array.from(keep));
}

/** A new split holding the examples at `indices` (copied, in that order). */
export function takeExamples(split: ClassificationSplit, indices: Int32Array): ClassificationSplit {
  const per = split.n > 0 ? split.images.length / split.n : 0;
  const images = new Uint8Array(indices.length * per);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (i < 0 || i >= split.n) throw new Error(`takeExamples: index ${i} out of range 0..${split.n - 1}`);
    images.set(split.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = split.labels[i];
  }
  return { images, labels, n: indices.length };
}

/** Examples per class: counts[c] = number of labels equal to c. */
export function classCounts(labels: ArrayLike<number>, numClasses: number): number[] {
  const c = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) c[labels[i]]++;
  return c;
}
