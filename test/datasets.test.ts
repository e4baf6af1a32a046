// The dataset table (src/experiments/datasets.ts): every entry is complete, and adding a dataset is one entry and its
// loader. The fixture below is what a new dataset's author writes: a loader that reads its files (here a 4-class,
// 16×16 format written by the test) and a table entry; everything else (presence, fetch help, `npm run data`'s
// import, steps per epoch, a run end to end) follows from the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  availableSizes,
  classificationRunData,
  classificationSplits,
  DATASETS,
  datasetEntry,
  fetchHelp,
  hasData,
  missingFiles,
  type DatasetEntry,
} from '../src/experiments/datasets';
import type { ClassificationDataset, ClassificationSplit } from '../src/data/types';
import type { PrepareOptions, PrepareResult } from '../src/data/prepare';
import { EXPERIMENTS } from '../src/experiments/catalog';
import { getExperiment, profileConfig, stepsPerEpochOf } from '../src/experiments/registry';
import { SVHN_FILES } from '../src/data/svhn';

test('every dataset entry has sizes, splits, fetch help, a presence check, a fetcher and a loader', () => {
  for (const [name, d] of Object.entries(DATASETS)) {
    assert.ok(
      d.title && d.splits && d.fetchHelp.includes(`npm run data -- ${name}`),
      `${name}: title, splits and a fetch command`,
    );
    assert.ok(d.classes >= 2 && d.sizes.train > 0 && d.sizes.test > 0, `${name}: sizes`);
    assert.equal(typeof d.load, 'function');
    assert.equal(typeof d.prepare, 'function');
    assert.ok(Array.isArray(d.missing(fs.mkdtempSync(path.join(os.tmpdir(), 'empty-')))));
  }
  assert.deepEqual(DATASETS.svhn.sizes, { train: 73257, val: 30000, test: 26032 });
  assert.deepEqual(
    { cifar10: DATASETS.cifar10.sizes, pets: DATASETS.pets.sizes },
    { cifar10: { train: 50000, val: null, test: 10000 }, pets: { train: 3680, val: null, test: 3669 } },
  );
  assert.throws(() => datasetEntry('mnist'), /Unknown dataset 'mnist'\. Known: cifar10, svhn, pets/);
});

test('SVHN is present exactly when its three files are', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'svhn-present-'));
  assert.equal(hasData('svhn', root), false);
  assert.deepEqual(
    missingFiles('svhn', root)
      .map((f) => path.basename(f))
      .sort(),
    Object.values(SVHN_FILES)
      .map((f) => f.file)
      .sort(),
  );
  fs.mkdirSync(path.join(root, 'svhn'));
  for (const f of Object.values(SVHN_FILES)) fs.writeFileSync(path.join(root, 'svhn', f.file), '');
  assert.equal(hasData('svhn', root), true);
  assert.match(fetchHelp('svhn'), /npm run data -- svhn --from DIR/);
});

// ---------------------------------------------------------------------------------------------------------------
// A new dataset, as its author would add it: the loader (src/data/<name>.ts) and one table entry.

const SIDE = 16;
const RECORD = 1 + SIDE * SIDE * 3;
const CLASSES = 4;

/** The fixture's file format: records of one label byte and SIDE×SIDE×3 pixels (NHWC). */
function writeTiny(dir: string, file: string, perClass: number, seed: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const n = perClass * CLASSES;
  const buf = Buffer.alloc(n * RECORD);
  let s = seed;
  for (let i = 0; i < n; i++) {
    const label = i % CLASSES;
    buf[i * RECORD] = label;
    for (let j = 0; j < RECORD - 1; j++) {
      s = (s * 1103515245 + 12345) >>> 0;
      buf[i * RECORD + 1 + j] = ((s >>> 16) % 100) + ((j >> 6) % CLASSES === label ? 150 : 0);
    }
  }
  fs.writeFileSync(path.join(dir, file), buf);
}

/** The loader module's reader. */
function readTiny(file: string): ClassificationSplit {
  const b = fs.readFileSync(file);
  if (b.length % RECORD) throw new Error(`${file}: not whole records`);
  const n = b.length / RECORD;
  const images = new Uint8Array(n * (RECORD - 1));
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = b[i * RECORD];
    images.set(b.subarray(i * RECORD + 1, (i + 1) * RECORD), i * (RECORD - 1));
  }
  return { images, labels, n };
}

function loadTiny(root: string): ClassificationDataset {
  const dir = path.join(root, 'tiny');
  return {
    name: 'tiny',
    train: readTiny(path.join(dir, 'train.bin')),
    test: readTiny(path.join(dir, 'test.bin')),
    numClasses: CLASSES,
    shape: [SIDE, SIDE, 3],
    classNames: ['a', 'b', 'c', 'd'],
    source: `tiny fixture (${dir})`,
  };
}

function tinyEntry(root: string): DatasetEntry {
  const files = ['train.bin', 'test.bin'];
  return {
    title: 'Tiny',
    validation: 'test',
    task: 'classification',
    classes: CLASSES,
    sizes: { train: 25 * CLASSES, val: null, test: 5 * CLASSES },
    splits: 'the fixture: 25 train and 5 test images per class; validation is the test split',
    missing: (r) => files.map((f) => path.join(r, 'tiny', f)).filter((f) => !fs.existsSync(f)),
    fetchHelp: 'Copy the files over and run `npm run data -- tiny --from DIR`.',
    async prepare(o: PrepareOptions): Promise<PrepareResult> {
      const dir = path.join(o.root ?? root, 'tiny');
      fs.mkdirSync(dir, { recursive: true });
      for (const f of files) fs.copyFileSync(path.join(o.from!, f), path.join(dir, f));
      return { dataset: 'tiny', status: 'fetched', location: dir, source: o.from! };
    },
    async load(c) {
      const ds = loadTiny(root);
      const s = classificationSplits(c, ds.train, ds.test, 'Tiny', CLASSES);
      return classificationRunData(c, s, ds, s.selection);
    },
  };
}

test('a new dataset is one table entry and its loader: presence, fetch help, import, steps per epoch and a run end to end', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataset-'));
  const root = path.join(dir, 'data');
  const incoming = path.join(dir, 'incoming');
  writeTiny(incoming, 'train.bin', 25, 1);
  writeTiny(incoming, 'test.bin', 5, 2);
  DATASETS.tiny = tinyEntry(root);
  // an experiment on it: a copy of cifar10-bop with the new dataset (catalog entries are the README's "Adding an experiment")
  const base = getExperiment('cifar10-bop');
  EXPERIMENTS.push({
    ...base,
    name: 'fixture-tiny-bop',
    paper: { ...base.paper, dataset: 'tiny' },
    seeds: { paper: [0], quick: [0], smoke: [0] },
  });
  try {
    assert.equal(hasData('tiny', root), false, 'absent before it is fetched');
    assert.match(fetchHelp('tiny'), /npm run data -- tiny --from DIR/);
    const r = await datasetEntry('tiny').prepare({ from: incoming, root });
    assert.equal(r.status, 'fetched');
    assert.equal(hasData('tiny', root), true, 'present after the import');
    assert.deepEqual(availableSizes('tiny'), { train: 100, test: 20 });

    // steps per epoch come from the entry's class count, before any data is read
    const e = getExperiment('fixture-tiny-bop');
    assert.equal(
      stepsPerEpochOf(e, { ...e.smoke, trainPerClass: 25 }),
      Math.floor((25 * CLASSES) / e.smoke.batchSize!),
    );
    const c = profileConfig('fixture-tiny-bop', 'smoke', 0, { trainPerClass: 25, testPerClass: 5 });
    assert.equal(c.derivation?.stepsPerEpoch, Math.floor((25 * CLASSES) / c.batchSize));

    const { runExperiment } = await import('../src/experiments/run');
    const run = await runExperiment({
      experiment: 'fixture-tiny-bop',
      profile: 'smoke',
      seed: 0,
      resultsRoot: path.join(dir, 'results'),
      log: null,
      set: ['trainPerClass=25', 'testPerClass=5'],
    });
    assert.equal(run.history.length, c.epochs);
    assert.ok(
      Number.isFinite(run.history[run.history.length - 1].extra?.testAccuracy),
      'the test split is scored after the last epoch',
    );
    const stored = JSON.parse(fs.readFileSync(path.join(run.dir, 'config.json'), 'utf8'));
    assert.equal(stored.config?.dataset ?? stored.dataset, 'tiny');
    assert.match(JSON.stringify(stored), /tiny fixture/, 'config.json names the data source');
  } finally {
    EXPERIMENTS.pop();
    delete DATASETS.tiny;
  }
});
