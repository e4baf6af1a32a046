/**
 * SVHN cropped digits (Netzer et al. 2011), format 2: `train_32x32.mat` (73,257), `test_32x32.mat` (26,032),
 * `extra_32x32.mat` (531,131) from the dataset's home page at Stanford, read with our MAT v5 reader (mat.ts).
 * `X` is uint8 32×32×3×N column-major (element (r, c, ch, n) at r + 32c + 1024ch + 3072n); `y` is N×1 with 10
 * standing for digit 0, mapped to label 0 (so label = digit).
 * Split as the reproduction report: train = all of train_32x32, test = test_32x32, validation = 30,000 images of
 * extra_32x32 (by default a seeded random sample, recorded in `selection`; `valSelection: 'first'` takes the first
 * 30,000 as the report's notebook did). Images are streamed: only selected images are ever stored (30,000 of extra
 * take 92 MB, never the 1.6 GB of the whole file).
 */
import * as fs from 'fs';
import * as path from 'path';
import { listMatVariables, MatVariable, MI, MX, readMatVariable, streamMatVariable } from './mat';
import { dataRoot } from './paths';
import { Rng } from '../random';
import { ClassificationDataset, ClassificationSplit, SVHN_CLASSES } from './types';

export const SVHN_FILES = {
  train: { file: 'train_32x32.mat', md5: 'e26dedcc434d2e4c54c9b2d4a06d8373', n: 73257 },
  test: { file: 'test_32x32.mat', md5: 'eb5a983be6a315427106f1b164d9cef3', n: 26032 },
  extra: { file: 'extra_32x32.mat', md5: 'a93ce644f1a588dc4d68dda5feec44a7', n: 531131 },
} as const;
export const SVHN_URL = 'http://ufldl.stanford.edu/housenumbers/';

/** The SVHN files missing from `<root>/svhn` (none: SVHN is there). */
export function svhnMissingFiles(root = dataRoot()): string[] {
  return Object.values(SVHN_FILES).map((f) => path.join(root, 'svhn', f.file)).filter((f) => !fs.existsSync(f));
}

export interface LoadSvhnOptions {
  /** Folder holding the .mat files (default `<dataRoot>/svhn`). */
  dir?: string;
  /** Keep the first N examples of every class (stratified, deterministic; applied before decoding pixels). */
  subset?: { train?: number; test?: number; val?: number };
  /** Validation images drawn from extra_32x32.mat (default 30,000; 0 = no validation split, extra not needed). */
  val?: number;
  /** 'random' (default): a seeded sample of `val` indices of extra; 'first': its first `val` images. */
  valSelection?: 'random' | 'first';
  /** Seed of the random validation sample (default 0). */
  valSeed?: number;
}

/** One .mat file's X/y located and checked (dims, classes). */
export async function inspectSvhnMat(file: string): Promise<{ X: MatVariable; y: MatVariable; n: number }> {
  const vars = await listMatVariables(file);
  const X = vars.find((v) => v.name === 'X');
  const y = vars.find((v) => v.name === 'y');
  if (!X || !y) throw new Error(`${file}: expected variables X and y, found ${vars.map((v) => v.name).join(', ') || 'none'} (not an SVHN format-2 file?)`);
  if (X.classId !== MX.UINT8 || X.dataType !== MI.UINT8) throw new Error(`${file}: X must be a uint8 array, got class ${X.className}`);
  if (X.dims.length !== 4 || X.dims[0] !== 32 || X.dims[1] !== 32 || X.dims[2] !== 3) throw new Error(`${file}: X must be 32×32×3×N, got ${X.dims.join('×')}`);
  const n = X.dims[3];
  if (y.count !== n || y.complex || y.classId < MX.DOUBLE) throw new Error(`${file}: y must be a real numeric ${n}×1 array, got ${y.className} ${y.dims.join('×')}`);
  return { X, y, n };
}

/** Reads y and maps 10 → 0; throws naming the file and index for any value outside 1..10. */
export async function readSvhnLabels(file: string, y: MatVariable): Promise<Uint8Array> {
  const raw = await readMatVariable(file, y);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const v = Number(raw[i]);
    if (!Number.isInteger(v) || v < 1 || v > 10) throw new Error(`${file}: y(${i + 1}) = ${v}, expected an integer label 1..10 (10 = digit 0)`);
    out[i] = v === 10 ? 0 : v;
  }
  return out;
}

/**
 * Streams X of an SVHN file and keeps only the images at `indices` (ascending), converting each from MATLAB's
 * column-major 32×32×3 to NHWC. Stops reading once the last wanted image is complete.
 */
export async function readSvhnImages(file: string, X: MatVariable, indices: Int32Array): Promise<Uint8Array> {
  const n = X.dims[3];
  const slot = new Int32Array(n).fill(-1);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (i < 0 || i >= n) throw new Error(`${file}: image index ${i} out of range 0..${n - 1}`);
    if (k > 0 && i <= indices[k - 1]) throw new Error(`readSvhnImages: indices must be strictly ascending`);
    slot[i] = k;
  }
  const out = new Uint8Array(indices.length * 3072);
  const stage = new Uint8Array(3072);
  const last = indices.length ? indices[indices.length - 1] : -1;
  if (last < 0) return out;
  let done = 0;
  const emit = (src: Uint8Array, s0: number, k: number) => {
    const o = k * 3072;
    for (let ch = 0; ch < 3; ch++) {
      for (let c = 0; c < 32; c++) {
        const base = s0 + 1024 * ch + 32 * c;
        for (let r = 0; r < 32; r++) out[o + (r * 32 + c) * 3 + ch] = src[base + r];
      }
    }
    done++;
  };
  await streamMatVariable(file, X, (chunk, at) => {
    let p = 0;
    while (p < chunk.length) {
      const pos = at + p;
      const img = Math.floor(pos / 3072);
      const within = pos - img * 3072;
      const take = Math.min(3072 - within, chunk.length - p);
      const k = slot[img];
      if (k >= 0) {
        if (within === 0 && take === 3072) emit(chunk, p, k);
        else {
          stage.set(chunk.subarray(p, p + take), within);
          if (within + take === 3072) emit(stage, 0, k);
        }
      }
      p += take;
      if (img === last && within + take === 3072) return false;
    }
    return true;
  });
  if (done !== indices.length) throw new Error(`${file}: X ended after ${done} of ${indices.length} wanted images (truncated?)`);
  return out;
}

/** First `perClass` indices of each class, ascending. */
function firstPerClass(labels: Uint8Array, perClass: number, file: string): Int32Array {
  const counts = new Int32Array(10);
  const keep: number[] = [];
  for (let i = 0; i < labels.length; i++) if (counts[labels[i]] < perClass) counts[labels[i]]++, keep.push(i);
  const short = Array.from(counts).findIndex((c) => c < perClass);
  if (short >= 0) throw new Error(`${file}: only ${counts[short]} images of digit ${short}, fewer than the ${perClass} per class asked for`);
  return Int32Array.from(keep);
}

async function readSplit(file: string, pick: (labels: Uint8Array, n: number) => Int32Array | null): Promise<{ split: ClassificationSplit; indices: Int32Array | null; total: number }> {
  const { X, y, n } = await inspectSvhnMat(file);
  const labels = await readSvhnLabels(file, y);
  const idx = pick(labels, n);
  const indices = idx ?? Int32Array.from({ length: n }, (_, i) => i);
  const images = await readSvhnImages(file, X, indices);
  const lab = idx ? Uint8Array.from(indices, (i) => labels[i]) : labels;
  return { split: { images, labels: lab, n: indices.length }, indices: idx, total: n };
}

function need(dir: string, name: string, why: string): string {
  const f = path.join(dir, name);
  if (!fs.existsSync(f)) throw new Error(`${f}: SVHN file not found${why}. Run \`npm run data -- svhn\` to fetch it (or \`npm run data -- svhn --from DIR\` to import the .mat files you have).`);
  return f;
}

/** Loads SVHN (uint8 NHWC, labels = digit 0..9) with train, test and a validation split taken from extra. */
export async function loadSvhn(opts: LoadSvhnOptions = {}): Promise<ClassificationDataset> {
  const dir = opts.dir ? path.resolve(opts.dir) : path.join(dataRoot(), 'svhn');
  const valCount = opts.val ?? 30000;
  const valSelection = opts.valSelection ?? 'random';
  const valSeed = opts.valSeed ?? 0;
  if (!Number.isInteger(valCount) || valCount < 0) throw new Error(`loadSvhn: val must be a non-negative integer, got ${valCount}`);
  if (valSelection !== 'random' && valSelection !== 'first') throw new Error(`loadSvhn: valSelection must be 'random' or 'first', got '${valSelection}'`);
  const trainFile = need(dir, SVHN_FILES.train.file, '');
  const testFile = need(dir, SVHN_FILES.test.file, '');
  const extraFile = valCount > 0 ? need(dir, SVHN_FILES.extra.file, ' (needed for the validation split; pass val: 0 to skip it)') : null;
  const sub = opts.subset ?? {};
  const selection: Record<string, unknown> = {};
  // The dataset cache must hold the official files (a short or replaced file never silently shrinks a split);
  // an explicit `dir` is read as it is (samples, fixtures) and its sizes are reported in `source`.
  const official = opts.dir === undefined;
  const checkCount = (file: string, which: keyof typeof SVHN_FILES, n: number) => {
    if (official && n !== SVHN_FILES[which].n) {
      throw new Error(`${file}: holds ${n} images, the official SVHN ${which} file has ${SVHN_FILES[which].n.toLocaleString('en-US')} (a different or damaged file). Delete it and run \`npm run data -- svhn\` again.`);
    }
  };
  const train = await readSplit(trainFile, (l, n) => (checkCount(trainFile, 'train', n), sub.train != null ? firstPerClass(l, sub.train, trainFile) : null));
  const test = await readSplit(testFile, (l, n) => (checkCount(testFile, 'test', n), sub.test != null ? firstPerClass(l, sub.test, testFile) : null));
  if (sub.train != null) selection.trainPerClass = sub.train;
  if (sub.test != null) selection.testPerClass = sub.test;
  let val: ClassificationSplit | undefined;
  if (extraFile) {
    const r = await readSplit(extraFile, (labels, n) => {
      checkCount(extraFile, 'extra', n);
      if (valCount > n) throw new Error(`${extraFile}: has ${n} images, fewer than val = ${valCount}`);
      let idx: Int32Array;
      if (valSelection === 'first') idx = Int32Array.from({ length: valCount }, (_, i) => i);
      else idx = new Rng(valSeed).permutation(n).subarray(0, valCount).sort();
      if (sub.val != null) {
        const l = Uint8Array.from(idx, (i) => labels[i]);
        const keep = firstPerClass(l, sub.val, `${extraFile} (validation sample)`);
        idx = Int32Array.from(keep, (k) => idx[k]);
      }
      return idx;
    });
    val = r.split;
    selection.val = { from: SVHN_FILES.extra.file, count: valCount, method: valSelection, ...(valSelection === 'random' ? { seed: valSeed, rng: 'Rng(seed).permutation(n), first count, sorted' } : {}), ...(sub.val != null ? { perClass: sub.val } : {}), extraTotal: r.total, indices: r.indices };
  }
  return {
    name: 'svhn',
    train: train.split,
    test: test.split,
    ...(val ? { val } : {}),
    numClasses: 10,
    shape: [32, 32, 3],
    classNames: SVHN_CLASSES.slice(),
    source: `SVHN format 2 .mat files (${dir})${train.total !== SVHN_FILES.train.n || test.total !== SVHN_FILES.test.n ? ` (not the official sizes: ${train.total} train / ${test.total} test images)` : ''}`,
    selection: { ...(sub.train != null || sub.test != null ? { subsetMethod: 'first N per class (stratified, in file order)' } : {}), ...selection },
  };
}
