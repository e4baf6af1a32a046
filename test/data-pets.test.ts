import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import {
  decodeImage,
  loadPets,
  resizeBilinear,
  resizeNearest,
  resolvePetsDir,
  sharedPetsSample,
} from '../src/data/pets';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-pets-'));
process.env.BNN_DATA_DIR = path.join(tmp, 'cache-root'); // keep the decoded cache out of data/
const SAMPLE = sharedPetsSample() ?? undefined;

function png(width: number, height: number, value: (x: number, y: number) => number, gray = true): Buffer {
  const p = new PNG({ width, height, colorType: gray ? 0 : 2, inputColorType: 2, inputHasAlpha: false } as never);
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.fill(value(x, y), (y * width + x) * 3, (y * width + x) * 3 + 3);
  (p as unknown as { data: Buffer }).data = data;
  return PNG.sync.write(p as never, { colorType: gray ? 0 : 2, inputColorType: 2, inputHasAlpha: false } as never);
}

function solidJpeg(width: number, height: number, rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([...rgb, 255], i * 4);
  return jpeg.encode({ data, width, height }, 95).data;
}

const trimapValue = (w: number, h: number) => (x: number, y: number) => (y === h - 1 ? 3 : x < w / 2 ? 1 : 2);

function writeLayout(dir: string) {
  fs.mkdirSync(path.join(dir, 'images'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'annotations', 'trimaps'), { recursive: true });
  const items: [string, number, number, [number, number, number]][] = [
    ['cat_1', 40, 30, [200, 30, 40]],
    ['cat_2', 25, 50, [10, 220, 90]],
    ['dog_1', 33, 33, [120, 120, 250]],
  ];
  for (const [name, w, h, rgb] of items) {
    fs.writeFileSync(path.join(dir, 'images', `${name}.jpg`), solidJpeg(w, h, rgb));
    fs.writeFileSync(path.join(dir, 'annotations', 'trimaps', `${name}.png`), png(w, h, trimapValue(w, h)));
  }
  // a grayscale PNG saved under a .jpg name, as some official files are
  fs.writeFileSync(
    path.join(dir, 'images', 'dog_2.jpg'),
    png(20, 16, () => 77),
  );
  fs.writeFileSync(path.join(dir, 'annotations', 'trimaps', 'dog_2.png'), png(20, 16, trimapValue(20, 16)));
  fs.writeFileSync(path.join(dir, 'annotations', 'trainval.txt'), 'cat_1 1 1 1\ndog_1 2 2 1\ncat_2 1 1 2\n');
  fs.writeFileSync(path.join(dir, 'annotations', 'test.txt'), '# comment\ndog_2 2 2 2\n');
  return items;
}

function nearestRef(src: (x: number, y: number) => number, w: number, h: number, s: number, x: number, y: number) {
  return src(Math.min(Math.floor(((x + 0.5) * w) / s), w - 1), Math.min(Math.floor(((y + 0.5) * h) / s), h - 1));
}

test('resize: bilinear with half-pixel centres (TF2), nearest for masks', () => {
  assert.deepEqual(Array.from(resizeBilinear(Uint8Array.from([0, 100]), 2, 1, 1, 4, 1)), [0, 25, 75, 100]);
  assert.deepEqual(Array.from(resizeBilinear(Uint8Array.from([0, 100, 200, 50]), 4, 1, 1, 2, 1)), [50, 125]);
  assert.deepEqual(Array.from(resizeNearest(Uint8Array.from([1, 2, 3]), 3, 1, 6, 1)), [1, 1, 2, 2, 3, 3]);
});

test('pets from written JPEG/PNG files: sizes, colours, trimap → class 0/1/2, grayscale PNG-in-disguise', async () => {
  const dir = path.join(tmp, 'written');
  const items = writeLayout(dir);
  const d = await loadPets({ dir, size: 16, cache: false });
  assert.equal(d.size, 16);
  assert.deepEqual(d.train.names, ['cat_1', 'dog_1', 'cat_2']);
  assert.deepEqual(d.test.names, ['dog_2']);
  assert.equal(d.train.images.length, 3 * 16 * 16 * 3);
  const order = ['cat_1', 'dog_1', 'cat_2'];
  order.forEach((name, k) => {
    const [, w, h, rgb] = items.find((it) => it[0] === name)!;
    for (let p = 0; p < 256; p++) {
      for (let c = 0; c < 3; c++)
        assert.ok(Math.abs(d.train.images[(k * 256 + p) * 3 + c] - rgb[c]) <= 4, `${name} colour`);
      const x = p % 16;
      const y = Math.floor(p / 16);
      assert.equal(
        d.train.masks[k * 256 + p],
        nearestRef(trimapValue(w, h), w, h, 16, x, y) - 1,
        `${name} mask (${x},${y})`,
      );
    }
  });
  for (let p = 0; p < 256; p++) assert.deepEqual(Array.from(d.test.images.subarray(p * 3, p * 3 + 3)), [77, 77, 77]);
  const counts = [0, 0, 0];
  d.train.masks.forEach((m) => counts[m]++);
  assert.ok(
    counts.every((c) => c > 0),
    'pet, background and border all present',
  );
  const lim = await loadPets({ dir, size: 8, limit: 1, cache: false });
  assert.equal(lim.train.n, 1);
  assert.equal(lim.test.n, 1);
});

test('pets bad input: trimap size mismatch, undecodable image, GIF, missing files — errors name the file', async () => {
  const dir = path.join(tmp, 'bad');
  writeLayout(dir);
  const tri = path.join(dir, 'annotations', 'trimaps', 'cat_2.png');
  fs.writeFileSync(tri, png(24, 50, trimapValue(24, 50)));
  await assert.rejects(
    loadPets({ dir, cache: false }),
    (e: Error) => e.message.startsWith(tri) && /24×50 but its image .*cat_2\.jpg is 25×50/.test(e.message),
  );
  fs.writeFileSync(
    tri,
    png(25, 50, () => 7),
  );
  await assert.rejects(
    loadPets({ dir, cache: false }),
    (e: Error) => e.message.startsWith(tri) && /trimap value 7/.test(e.message),
  );
  fs.writeFileSync(tri, png(25, 50, trimapValue(25, 50)));
  const img = path.join(dir, 'images', 'dog_1.jpg');
  const good = fs.readFileSync(img);
  fs.writeFileSync(img, Buffer.concat([good.subarray(0, 20), Buffer.alloc(40, 0xff)]));
  await assert.rejects(
    loadPets({ dir, cache: false }),
    (e: Error) => e.message.startsWith(img) && /cannot decode image/.test(e.message),
  );
  fs.writeFileSync(img, Buffer.from('GIF89a....................'));
  await assert.rejects(
    loadPets({ dir, cache: false }),
    (e: Error) => e.message.startsWith(img) && /GIF/.test(e.message),
  );
  fs.rmSync(img);
  await assert.rejects(
    loadPets({ dir, cache: false }),
    (e: Error) => e.message.startsWith(img) && /missing/.test(e.message),
  );
  assert.throws(() => resolvePetsDir(path.join(tmp, 'none')), /not an Oxford-IIIT Pet folder.*npm run data -- pets/);
});

test(
  'real Oxford-IIIT Pet sample (600 official images): decode, resize, classes, cache',
  { skip: !SAMPLE && 'shared sample not present' },
  async () => {
    const t0 = Date.now();
    const d = await loadPets({ dir: SAMPLE, size: 64, limit: 12 });
    const first = Date.now() - t0;
    assert.equal(d.train.n, 12);
    assert.equal(d.test.n, 12);
    assert.equal(d.train.names[0], 'Abyssinian_100');
    const counts = [0, 0, 0];
    d.train.masks.forEach((m) => counts[m]++);
    assert.ok(counts[0] > 0 && counts[1] > 0 && counts[2] > 0, `classes ${counts}`);
    assert.ok(counts[1] > counts[2], 'more background than border');
    let mean = 0;
    d.train.images.forEach((v) => (mean += v));
    mean /= d.train.images.length;
    assert.ok(mean > 40 && mean < 220, `plausible photo mean ${mean}`);
    // second load comes from the cache, identical
    const t1 = Date.now();
    const again = await loadPets({ dir: SAMPLE, size: 64, limit: 12 });
    assert.match(again.source, /cache/);
    assert.ok(Buffer.from(again.train.images).equals(Buffer.from(d.train.images)));
    assert.ok(Buffer.from(again.test.masks).equals(Buffer.from(d.test.masks)));
    assert.ok(Date.now() - t1 < first);
    // official oddities: a PNG named .jpg decodes; a GIF named .jpg (not in the split lists) is refused by name
    const png5 = decodeImage(fs.readFileSync(path.join(SAMPLE!, 'images', 'Abyssinian_5.jpg')), 'Abyssinian_5.jpg');
    assert.deepEqual([png5.width, png5.height], [200, 150]);
    assert.throws(
      () => decodeImage(fs.readFileSync(path.join(SAMPLE!, 'images', 'Abyssinian_34.jpg')), 'Abyssinian_34.jpg'),
      /Abyssinian_34\.jpg: cannot decode image: a GIF/,
    );
    // the default location finds the sample when data/pets is absent
    if (!fs.existsSync(path.join(process.env.BNN_DATA_DIR!, 'pets')))
      assert.ok(fs.existsSync(path.join(resolvePetsDir(), 'annotations', 'trainval.txt')));
  },
);

test('the shared sample is found by BNN_PETS_SAMPLE, else beside the project or one of its parents', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-shared-'));
  try {
    const sample = path.join(base, 'shared', 'data', 'oxford-iiit-pet-sample');
    fs.mkdirSync(path.join(sample, 'annotations'), { recursive: true });
    fs.mkdirSync(path.join(sample, 'images'));
    fs.writeFileSync(path.join(sample, 'annotations', 'trainval.txt'), '');
    const project = path.join(base, 'clones', 'ci', 'repo');
    fs.mkdirSync(project, { recursive: true });
    assert.equal(sharedPetsSample({}, project), sample);
    assert.equal(sharedPetsSample({ BNN_PETS_SAMPLE: '/elsewhere' }, project), '/elsewhere');
    fs.rmSync(path.join(sample, 'images'), { recursive: true });
    assert.equal(sharedPetsSample({}, project), null);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
