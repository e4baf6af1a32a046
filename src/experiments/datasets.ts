/**
 * The datasets a run can train on, by name: one static table, looked up by the runner (nothing registers itself).
 * Each loader turns a config into the splits the training loop draws from:
 *
 *   train  the training subset (augmented)
 *   val    scored every epoch: a fixed stratified subset of the test split (the original has no validation split
 *          and validates on the test split), or, with `holdoutPerClass`, images held out of the training set
 *          (the calibration's split: it never sees the test split)
 *   test   scored once, after the last epoch (raw and settled, src/train/settle): the whole official test split; with
 *          `holdoutPerClass`, the held-out images again (the calibration's final score: the test split is never read)
 */
import { classificationSource, loadCifar10, loadPets, loadSvhn, segmentationSource, stratifiedSubset } from '../data';
import type { AugmentOptions } from '../data/augment';
import type { ClassificationSplit, SegmentationSplit } from '../data/types';
import type { SplitSource } from '../train/loop';
import type { ExperimentConfig } from './config';

/** The data a run trains and evaluates on. */
export interface RunData {
  train: SplitSource;
  val: SplitSource;
  /** Scored after the last epoch: the whole test split, or the held-out images of a calibration run (null: not scored). */
  test: SplitSource | null;
  /** Examples in the training split (for steps per epoch). */
  nTrain: number;
  inputShape: [number, number, number];
  numClasses: number;
  source: string;
  selection?: Record<string, unknown>;
}

export type DataLoader = (config: ExperimentConfig) => Promise<RunData>;

/** Pad-4 random crop and horizontal flip: the original's CIFAR-10 pipeline, which the report's SVHN code copies. */
const CROP_FLIP: AugmentOptions = { crop: true, flip: true, pad: 4 };

/** Train / per-epoch validation / final test splits of a classification dataset, as the module comment says. */
function classificationSplits(c: ExperimentConfig, train: ClassificationSplit, test: ClassificationSplit, what: string) {
  const trainSub = c.trainPerClass != null ? stratifiedSubset(train, c.trainPerClass, 10, `${what} train`) : train;
  if (c.holdoutPerClass != null) {
    if (c.trainPerClass == null) throw new Error(`${c.experiment}: holdoutPerClass needs trainPerClass (the held-out images follow the training subset)`);
    const held = stratifiedSubset(train, c.holdoutPerClass, 10, `${what} train (held out)`, c.trainPerClass);
    const holdout = `images ${c.trainPerClass}..${c.trainPerClass + c.holdoutPerClass - 1} of each class of the training split`;
    return { train: trainSub, val: held, test: held, selection: { trainPerClass: c.trainPerClass, holdoutPerClass: c.holdoutPerClass, holdout, final: 'the held-out images (the test split is never read)' } };
  }
  const val = c.testPerClass != null ? stratifiedSubset(test, c.testPerClass, 10, `${what} test`) : test;
  return { train: trainSub, val, test, selection: { trainPerClass: c.trainPerClass, valPerClass: c.testPerClass, test: `all ${test.n} test images after the last epoch` } };
}

function headOf(split: SegmentationSplit, limit: number | null, size: number): SegmentationSplit {
  if (limit === null || limit >= split.n) return split;
  const px = size * size;
  return { images: split.images.subarray(0, limit * px * 3), masks: split.masks.subarray(0, limit * px), names: split.names.slice(0, limit), n: limit };
}

export const DATASETS: Record<string, DataLoader> = {
  async cifar10(c) {
    const ds = await loadCifar10();
    const s = classificationSplits(c, ds.train, ds.test, 'CIFAR-10');
    return {
      train: classificationSource(s.train, { augment: c.augment ? CROP_FLIP : null }),
      val: classificationSource(s.val),
      test: s.test ? classificationSource(s.test) : null,
      nTrain: s.train.n,
      inputShape: ds.shape,
      numClasses: ds.numClasses,
      source: ds.source,
      selection: { method: 'first N per class (stratified, in file order)', ...s.selection },
    };
  },
  async svhn(c) {
    // §4.4: validation is 30,000 images of `extra` (scored every epoch); the 26,032-image test split is scored at the end.
    if (c.holdoutPerClass != null) throw new Error(`${c.experiment}: holdoutPerClass is for CIFAR-10 (SVHN has its own validation split, 30,000 images of extra)`);
    const ds = await loadSvhn({ subset: { train: c.trainPerClass ?? undefined, val: c.testPerClass ?? undefined } });
    return {
      train: classificationSource(ds.train, { augment: c.augment ? CROP_FLIP : null }),
      val: classificationSource(ds.val ?? ds.test),
      test: classificationSource(ds.test),
      nTrain: ds.train.n,
      inputShape: ds.shape,
      numClasses: ds.numClasses,
      source: ds.source,
      selection: ds.selection,
    };
  },
  async pets(c) {
    const lim = c.trainLimit === null || c.testLimit === null ? undefined : Math.max(c.trainLimit, c.testLimit);
    const ds = await loadPets({ size: c.imageSize, limit: lim });
    const train = headOf(ds.train, c.trainLimit, ds.size);
    const test = headOf(ds.test, c.testLimit, ds.size);
    return {
      train: segmentationSource(train, ds.size, { flip: c.augment }),
      // As the report's notebooks: the test split is the validation data (scored every epoch), and it gives the
      // settled final score after the last epoch.
      val: segmentationSource(test, ds.size),
      test: segmentationSource(test, ds.size),
      nTrain: train.n,
      inputShape: [ds.size, ds.size, 3],
      numClasses: ds.numClasses,
      source: ds.source,
      selection: { train: train.n, test: test.n, testNames: test.names.slice(0, 16) },
    };
  },
};

export function datasetLoader(name: string): DataLoader {
  const l = DATASETS[name];
  if (!l) throw new Error(`No loader for dataset '${name}'. Known: ${Object.keys(DATASETS).join(', ')}`);
  return l;
}
