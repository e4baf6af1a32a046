/**
 * Oxford-IIIT Pet (Parkhi et al. 2012; CC BY-SA 4.0) for 3-class segmentation, in the official layout:
 *   images/<name>.jpg, annotations/trimaps/<name>.png (1 = pet, 2 = background, 3 = border),
 *   annotations/trainval.txt and annotations/test.txt (first token of each line = <name>).
 * Each image is resized to size×size (default 128, aspect ratio not kept, as tf.image.resize in the report's
 * notebook): bilinear with half-pixel centres (TF2 `tf.image.resize(..., 'bilinear')`, no antialias), rounded to
 * uint8; its trimap with nearest neighbour (half-pixel centres), mapped to class = trimap − 1 (0 pet, 1 background,
 * 2 border). Some official "jpg" files are grayscale (expanded to RGB), CMYK (converted by jpeg-js) or PNG
 * (detected by content); GIF and unknown content raise an error naming the file.
 * The decoded, resized arrays are cached under <dataRoot>/cache/ so a second load takes well under a second.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { dataRoot } from './paths';
import { repoRoot } from '../util/paths';
import { envPetsSample } from '../util/env';
import { atomicWrite } from '../util/fs';
import { SegmentationDataset, SegmentationSplit } from './types';

export const PETS_ARCHIVES = {
  images: { file: 'images.tar.gz', md5: '5c4f3ee8e5d25df40f4fd59a7f44e54c', bytes: 791918971 },
  annotations: { file: 'annotations.tar.gz', md5: '95a8c909bbe2e81eed6a22bccdf3f68f', bytes: 19173078 },
} as const;
export const PETS_URLS = ['https://www.robots.ox.ac.uk/~vgg/data/pets/data/', 'https://thor.robots.ox.ac.uk/datasets/pets/'];

export interface RgbImage {
  width: number;
  height: number;
  /** width·height·3 bytes, row-major RGB. */
  data: Uint8Array;
}

/** Decodes JPEG or PNG content (whatever the file's extension) to RGB. Errors name `file`. */
export function decodeImage(buf: Uint8Array, file: string): RgbImage {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  try {
    if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
      const img = jpeg.decode(b, { formatAsRGBA: false, useTArray: true, maxMemoryUsageInMB: 1024 });
      if (!img.width || !img.height || img.data.length !== img.width * img.height * 3) throw new Error('decoded to an empty or malformed image');
      return { width: img.width, height: img.height, data: img.data };
    }
    if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47) {
      const png = PNG.sync.read(b);
      const data = new Uint8Array(png.width * png.height * 3);
      for (let p = 0, q = 0; q < data.length; p += 4, q += 3) {
        data[q] = png.data[p];
        data[q + 1] = png.data[p + 1];
        data[q + 2] = png.data[p + 2];
      }
      return { width: png.width, height: png.height, data };
    }
  } catch (e) {
    throw new Error(`${file}: cannot decode image (${(e as Error).message})`);
  }
  const kind = b.toString('latin1', 0, 3) === 'GIF' ? 'a GIF (unsupported)' : `unknown content (first bytes ${b.subarray(0, 4).toString('hex') || 'none: empty file'})`;
  throw new Error(`${file}: cannot decode image: ${kind}; expected JPEG or PNG`);
}

/** Decodes a trimap PNG to its raw values (first channel), width·height bytes; checks they are 1..3. */
export function decodeTrimap(buf: Uint8Array, file: string): { width: number; height: number; data: Uint8Array } {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.length));
  } catch (e) {
    throw new Error(`${file}: cannot decode trimap PNG (${(e as Error).message})`);
  }
  const n = png.width * png.height;
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = png.data[i * 4];
    if (v < 1 || v > 3) throw new Error(`${file}: trimap value ${v} at pixel (${i % png.width}, ${Math.floor(i / png.width)}), expected 1 (pet), 2 (background) or 3 (border)`);
    data[i] = v;
  }
  return { width: png.width, height: png.height, data };
}

/** Bilinear resize with half-pixel centres (TF2 tf.image.resize 'bilinear', antialias off), rounded to uint8. */
export function resizeBilinear(src: Uint8Array, w: number, h: number, c: number, ow: number, oh: number, out = new Uint8Array(ow * oh * c), o0 = 0): Uint8Array {
  const sy = h / oh;
  const sx = w / ow;
  const x0 = new Int32Array(ow);
  const x1 = new Int32Array(ow);
  const fx = new Float32Array(ow);
  for (let x = 0; x < ow; x++) {
    const inX = (x + 0.5) * sx - 0.5;
    const fl = Math.floor(inX);
    x0[x] = Math.max(fl, 0);
    x1[x] = Math.min(Math.ceil(inX), w - 1);
    fx[x] = inX - fl;
  }
  for (let y = 0; y < oh; y++) {
    const inY = (y + 0.5) * sy - 0.5;
    const fl = Math.floor(inY);
    const y0 = Math.max(fl, 0);
    const y1 = Math.min(Math.ceil(inY), h - 1);
    const fy = inY - fl;
    for (let x = 0; x < ow; x++) {
      const a = (y0 * w + x0[x]) * c;
      const b = (y0 * w + x1[x]) * c;
      const d = (y1 * w + x0[x]) * c;
      const e = (y1 * w + x1[x]) * c;
      const o = o0 + (y * ow + x) * c;
      for (let k = 0; k < c; k++) {
        const top = src[a + k] + (src[b + k] - src[a + k]) * fx[x];
        const bot = src[d + k] + (src[e + k] - src[d + k]) * fx[x];
        out[o + k] = Math.round(top + (bot - top) * fy);
      }
    }
  }
  return out;
}

/** Nearest-neighbour resize with half-pixel centres (TF2 'nearest'): source index floor((i + 0.5)·in/out). */
export function resizeNearest(src: Uint8Array, w: number, h: number, ow: number, oh: number, out = new Uint8Array(ow * oh), o0 = 0): Uint8Array {
  for (let y = 0; y < oh; y++) {
    const syy = Math.min(Math.floor(((y + 0.5) * h) / oh), h - 1);
    for (let x = 0; x < ow; x++) {
      const sxx = Math.min(Math.floor(((x + 0.5) * w) / ow), w - 1);
      out[o0 + y * ow + x] = src[syy * w + sxx];
    }
  }
  return out;
}

function isPetsDir(d: string): boolean {
  return fs.existsSync(path.join(d, 'annotations', 'trainval.txt')) && fs.existsSync(path.join(d, 'images'));
}

/**
 * The offline Oxford-IIIT Pet sample of a shared data folder: env BNN_PETS_SAMPLE, else the first
 * `shared/data/oxford-iiit-pet-sample` beside the project or beside one of its parent folders; null if none.
 */
export function sharedPetsSample(env: NodeJS.ProcessEnv = process.env, from = repoRoot()): string | null {
  const sample = envPetsSample(env);
  if (sample) return sample;
  for (let d = path.resolve(from); ; d = path.dirname(d)) {
    const c = path.join(path.dirname(d), 'shared', 'data', 'oxford-iiit-pet-sample');
    if (isPetsDir(c)) return c;
    if (path.dirname(d) === d) return null;
  }
}

/** Candidate folders, in order: <dataRoot>/pets (BNN_DATA_DIR or data/), <project>/data/pets, the shared sample. */
export function petsCandidates(): string[] {
  const sample = sharedPetsSample();
  const c = [path.join(dataRoot(), 'pets'), path.join(repoRoot(), 'data', 'pets'), ...(sample ? [sample] : [])];
  return [...new Set(c)];
}

/** The pets folder to use: `dir` if given (checked), else the first candidate that has the official layout. */
export function resolvePetsDir(dir?: string): string {
  if (dir) {
    const d = path.resolve(dir);
    if (!isPetsDir(d)) throw new Error(`${d}: not an Oxford-IIIT Pet folder (needs images/ and annotations/trainval.txt). Run \`npm run data -- pets\`.`);
    return d;
  }
  const found = petsCandidates().find(isPetsDir);
  if (!found) throw new Error(`Oxford-IIIT Pet not found (looked in ${petsCandidates().join(', ')}). Run \`npm run data -- pets\` (offline: \`npm run data -- pets --from ../shared/data/oxford-iiit-pet-sample\`).`);
  return found;
}

/** The official Oxford-IIIT Pet split sizes: the `trainval` and `test` lists. */
export const PETS_SIZES = { train: 3680, test: 3669 } as const;

/** Training images of the Pets copy that `loadPets()` would load (its trainval list), or null when none is found. */
export function petsTrainCount(): number | null {
  return petsCounts()?.train ?? null;
}

/** Images in the trainval and test lists of the Pets copy that `loadPets()` would load, or null when none is found. */
export function petsCounts(): { train: number; test: number } | null {
  const found = petsCandidates().find(isPetsDir);
  if (!found) return null;
  const count = (list: string) => {
    const f = path.join(found, 'annotations', list);
    return fs.existsSync(f) ? readPetsList(f).length : 0;
  };
  return { train: count('trainval.txt'), test: count('test.txt') };
}

/** Reads a split list (trainval.txt / test.txt): the first token of each non-comment line. */
export function readPetsList(file: string): string[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: list file not found`);
  return fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(/\s+/)[0]);
}

export interface LoadPetsOptions {
  /** Side of the square output (default 128). */
  size?: number;
  dir?: string;
  /** Keep only the first `limit` entries of each split list. */
  limit?: number;
  /** Read/write the decoded cache under <dataRoot>/cache (default true). */
  cache?: boolean;
  /** Progress callback (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Decodes and resizes the listed examples of one split. */
export function readPetsSplit(dir: string, names: string[], size: number, onOne?: () => void): SegmentationSplit {
  const px = size * size;
  const images = new Uint8Array(names.length * px * 3);
  const masks = new Uint8Array(names.length * px);
  names.forEach((name, k) => {
    const imgFile = path.join(dir, 'images', `${name}.jpg`);
    const triFile = path.join(dir, 'annotations', 'trimaps', `${name}.png`);
    if (!fs.existsSync(imgFile)) throw new Error(`${imgFile}: image listed in the split file is missing`);
    if (!fs.existsSync(triFile)) throw new Error(`${triFile}: trimap of ${name} is missing`);
    const img = decodeImage(fs.readFileSync(imgFile), imgFile);
    const tri = decodeTrimap(fs.readFileSync(triFile), triFile);
    if (tri.width !== img.width || tri.height !== img.height) {
      throw new Error(`${triFile}: trimap is ${tri.width}×${tri.height} but its image ${imgFile} is ${img.width}×${img.height}`);
    }
    resizeBilinear(img.data, img.width, img.height, 3, size, size, images, k * px * 3);
    resizeNearest(tri.data, tri.width, tri.height, size, size, masks, k * px);
    for (let i = k * px; i < (k + 1) * px; i++) masks[i] -= 1;
    onOne?.();
  });
  return { images, masks, names, n: names.length };
}

function cacheKey(dir: string, size: number, train: string[], test: string[]): string {
  const h = crypto.createHash('sha1');
  h.update(JSON.stringify({ v: 1, dir, size, train, test }));
  for (const f of [path.join(dir, 'images'), path.join(dir, 'annotations', 'trimaps')]) h.update(String(fs.statSync(f).mtimeMs));
  return h.digest('hex').slice(0, 16);
}

function writeCache(file: string, ds: { train: SegmentationSplit; test: SegmentationSplit }): void {
  const header = Buffer.from(JSON.stringify({ train: ds.train.names, test: ds.test.names }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  atomicWrite(file, Buffer.concat([len, header, ds.train.images, ds.train.masks, ds.test.images, ds.test.masks]));
}

function readCache(file: string, size: number): { train: SegmentationSplit; test: SegmentationSplit } | null {
  try {
    const b = fs.readFileSync(file);
    const hl = b.readUInt32LE(0);
    const h = JSON.parse(b.toString('utf8', 4, 4 + hl)) as { train: string[]; test: string[] };
    const px = size * size;
    let o = 4 + hl;
    const take = (n: number) => {
      const out = new Uint8Array(b.subarray(o, o + n));
      if (out.length !== n) throw new Error('short');
      o += n;
      return out;
    };
    const train = { names: h.train, n: h.train.length, images: take(h.train.length * px * 3), masks: take(h.train.length * px) };
    const test = { names: h.test, n: h.test.length, images: take(h.test.length * px * 3), masks: take(h.test.length * px) };
    return o === b.length ? { train, test } : null;
  } catch {
    return null;
  }
}

/** Loads Oxford-IIIT Pet as size×size uint8 RGB images with 3-class masks, split by trainval.txt / test.txt. */
export async function loadPets(opts: LoadPetsOptions = {}): Promise<SegmentationDataset> {
  const size = opts.size ?? 128;
  if (!Number.isInteger(size) || size < 1) throw new Error(`loadPets: size must be a positive integer, got ${size}`);
  const dir = resolvePetsDir(opts.dir);
  let train = readPetsList(path.join(dir, 'annotations', 'trainval.txt'));
  let test = readPetsList(path.join(dir, 'annotations', 'test.txt'));
  if (opts.limit != null) {
    train = train.slice(0, opts.limit);
    test = test.slice(0, opts.limit);
  }
  const useCache = opts.cache ?? true;
  const cacheFile = path.join(dataRoot(), 'cache', `pets-${size}-${cacheKey(dir, size, train, test)}.bin`);
  const src = `Oxford-IIIT Pet (${dir}), ${size}×${size}`;
  if (useCache && fs.existsSync(cacheFile)) {
    const c = readCache(cacheFile, size);
    if (c) return { name: 'pets', ...c, size, numClasses: 3, classNames: ['pet', 'background', 'border'], source: `${src} (cache ${cacheFile})` };
  }
  const total = train.length + test.length;
  let done = 0;
  const tick = () => opts.onProgress?.(++done, total);
  const tr = readPetsSplit(dir, train, size, tick);
  const te = readPetsSplit(dir, test, size, tick);
  if (useCache) {
    try {
      writeCache(cacheFile, { train: tr, test: te });
    } catch {
      /* a read-only cache folder only costs speed */
    }
  }
  return { name: 'pets', train: tr, test: te, size, numClasses: 3, classNames: ['pet', 'background', 'border'], source: src };
}
