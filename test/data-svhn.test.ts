import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadSvhn } from '../src/data/svhn';
import { listMatVariables, readMatFile } from '../src/data/mat';
import { Rng } from '../src/random';
import { svhnPixel, svhnVars, writeMat } from './fixtures/data-writers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-svhn-'));
const FIX = path.join(__dirname, 'fixtures');

/** Checks every pixel (NHWC) and label of image k against source image i of the writer's formula. */
function checkImage(images: Uint8Array, k: number, i: number) {
  for (let r = 0; r < 32; r++)
    for (let c = 0; c < 32; c++)
      for (let ch = 0; ch < 3; ch++) {
        const got = images[k * 3072 + (r * 32 + c) * 3 + ch];
        if (got !== svhnPixel(r, c, ch, i))
          assert.fail(`image ${k} (source ${i}) pixel (${r},${c},${ch}) = ${got}, expected ${svhnPixel(r, c, ch, i)}`);
      }
}

const digit = (i: number) => (i * 7 + 3) % 10; // label in file: 10 for digit 0
const fileLabel = (i: number) => (digit(i) === 0 ? 10 : digit(i));

function writeSet(
  dir: string,
  compress: boolean,
  yClass: 'double' | 'uint8',
  yStore: 'double' | 'uint8' | undefined,
  sizes = { train: 40, test: 30, extra: 120 },
) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'train_32x32.mat'),
    writeMat(svhnVars(sizes.train, fileLabel, yClass, yStore), compress),
  );
  fs.writeFileSync(
    path.join(dir, 'test_32x32.mat'),
    writeMat(svhnVars(sizes.test, fileLabel, yClass, yStore), compress),
  );
  fs.writeFileSync(
    path.join(dir, 'extra_32x32.mat'),
    writeMat(svhnVars(sizes.extra, fileLabel, yClass, yStore), compress),
  );
}

for (const [compress, yClass, yStore] of [
  [false, 'double', 'double'],
  [true, 'double', 'uint8'],
  [true, 'uint8', undefined],
  [false, 'uint8', undefined],
] as const) {
  test(`SVHN .mat (${compress ? 'miCOMPRESSED' : 'uncompressed'}, y ${yClass}${yStore ? ` stored as ${yStore}` : ''}): every pixel and label`, async () => {
    const dir = path.join(tmp, `set-${compress}-${yClass}-${yStore}`);
    writeSet(dir, compress, yClass, yStore);
    const d = await loadSvhn({ dir, val: 25, valSeed: 3 });
    assert.equal(d.train.n, 40);
    assert.equal(d.test.n, 30);
    assert.equal(d.val!.n, 25);
    for (let i = 0; i < 40; i++) {
      checkImage(d.train.images, i, i);
      assert.equal(d.train.labels[i], digit(i));
    }
    for (let i = 0; i < 30; i++) (checkImage(d.test.images, i, i), assert.equal(d.test.labels[i], digit(i)));
    const sel = d.selection!.val as { indices: Int32Array; seed: number; method: string };
    assert.equal(sel.method, 'random');
    assert.equal(sel.seed, 3);
    const expected = new Rng(3).permutation(120).subarray(0, 25).sort();
    assert.deepEqual(Array.from(sel.indices), Array.from(expected));
    sel.indices.forEach((i, k) => {
      checkImage(d.val!.images, k, i);
      assert.equal(d.val!.labels[k], digit(i));
    });
  });
}

test('SVHN: 10 maps to digit 0; val "first" stops early; subsets are first-N-per-class', async () => {
  const dir = path.join(tmp, 'sub');
  writeSet(dir, true, 'double', 'uint8');
  const d = await loadSvhn({ dir, val: 20, valSelection: 'first', subset: { train: 2, test: 1 } });
  assert.deepEqual(
    Array.from(d.val!.labels),
    Array.from({ length: 20 }, (_, i) => digit(i)),
  );
  checkImage(d.val!.images, 19, 19);
  assert.equal(d.train.n, 20);
  const counts = new Array(10).fill(0);
  d.train.labels.forEach((l) => counts[l]++);
  assert.deepEqual(counts, new Array(10).fill(2));
  // the first two of each class, in file order: image 0 has digit 3, and so on
  const firstIdx: number[] = [];
  const seen = new Array(10).fill(0);
  for (let i = 0; i < 40; i++) if (seen[digit(i)] < 2) (seen[digit(i)]++, firstIdx.push(i));
  firstIdx.forEach((i, k) => checkImage(d.train.images, k, i));
  assert.ok(d.train.labels.includes(0), 'digit 0 present (file label 10)');
  assert.equal(d.test.n, 10);
  const noVal = await loadSvhn({ dir, val: 0 });
  assert.equal(noVal.val, undefined);
});

test('MAT reader agrees with scipy.io.savemat files (plain and zlib)', async () => {
  for (const f of ['svhn-scipy-plain.mat', 'svhn-scipy-zlib.mat']) {
    const file = path.join(FIX, f);
    const vars = await listMatVariables(file);
    assert.deepEqual(vars.map((v) => v.name).sort(), ['X', 'y']);
    const m = await readMatFile(file);
    assert.deepEqual(m.X.dims, [32, 32, 3, 6]);
    assert.equal(m.X.className, 'uint8');
    assert.equal(m.y.className, 'double');
    assert.deepEqual(Array.from(m.y.data as Float64Array), [10, 1, 2, 9, 10, 5]);
    for (let i = 0; i < 6; i++)
      for (let ch = 0; ch < 3; ch++)
        for (let c = 0; c < 32; c++)
          for (let r = 0; r < 32; r++)
            assert.equal(m.X.data[r + 32 * c + 1024 * ch + 3072 * i], svhnPixel(r, c, ch, i));
    const dir = path.join(tmp, `scipy-${f}`);
    fs.mkdirSync(dir);
    fs.copyFileSync(file, path.join(dir, 'train_32x32.mat'));
    fs.copyFileSync(file, path.join(dir, 'test_32x32.mat'));
    const d = await loadSvhn({ dir, val: 0 });
    assert.deepEqual(Array.from(d.train.labels), [0, 1, 2, 9, 0, 5]);
    for (let i = 0; i < 6; i++) checkImage(d.train.images, i, i);
  }
});

test('SVHN bad input: missing file, truncated and corrupt .mat, bad label — errors name the file', async () => {
  const dir = path.join(tmp, 'bad');
  writeSet(dir, true, 'double', 'uint8', { train: 10, test: 10, extra: 10 });
  await assert.rejects(
    loadSvhn({ dir: path.join(tmp, 'nowhere') }),
    /train_32x32\.mat: SVHN file not found.*npm run data -- svhn/,
  );
  await assert.rejects(loadSvhn({ dir, val: 11 }), /extra_32x32\.mat: has 10 images, fewer than val = 11/);
  const train = path.join(dir, 'train_32x32.mat');
  const good = fs.readFileSync(train);
  // truncated inside the compressed X element
  fs.writeFileSync(train, good.subarray(0, 3000));
  await assert.rejects(
    loadSvhn({ dir, val: 0 }),
    (e: Error) => e.message.includes(train) && /truncated|ends early|file ends/.test(e.message),
  );
  // corrupt zlib stream
  const bad = Buffer.from(good);
  for (let i = 200; i < 260; i++) bad[i] ^= 0x5a;
  fs.writeFileSync(train, bad);
  await assert.rejects(
    loadSvhn({ dir, val: 0 }),
    (e: Error) => e.message.includes(train) && /corrupt|invalid|incorrect/i.test(e.message),
  );
  // not a MAT file
  fs.writeFileSync(train, Buffer.from('hello, this is not a MAT file'.padEnd(200, '.')));
  await assert.rejects(
    loadSvhn({ dir, val: 0 }),
    new RegExp(`${train.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a MATLAB v5 MAT file`),
  );
  // uncompressed, truncated
  fs.writeFileSync(train, writeMat(svhnVars(10, fileLabel, 'double', 'double'), false).subarray(0, 5000));
  await assert.rejects(
    loadSvhn({ dir, val: 0 }),
    /train_32x32\.mat: element at byte 128 declares \d+ bytes but the file ends at 5000/,
  );
  // label 0 is not valid SVHN
  fs.writeFileSync(
    train,
    writeMat(
      svhnVars(10, (i) => (i === 4 ? 0 : 1), 'double', 'double'),
      true,
    ),
  );
  await assert.rejects(loadSvhn({ dir, val: 0 }), /train_32x32\.mat: y\(5\) = 0, expected an integer label 1\.\.10/);
  // wrong shape
  fs.writeFileSync(
    train,
    writeMat(
      [
        { name: 'X', className: 'uint8', dims: [28, 28, 1, 2], values: new Uint8Array(28 * 28 * 2) },
        { name: 'y', className: 'double', dims: [2, 1], values: [1, 2] },
      ],
      false,
    ),
  );
  await assert.rejects(loadSvhn({ dir, val: 0 }), /X must be 32×32×3×N, got 28×28×1×2/);
});

test('SVHN streaming across chunk boundaries (700-image extra, 1 MiB chunks split images)', async () => {
  for (const compress of [true, false]) {
    const dir = path.join(tmp, `big-${compress}`);
    writeSet(dir, compress, 'double', 'uint8', { train: 10, test: 10, extra: 700 });
    const d = await loadSvhn({ dir, val: 300, valSeed: 7 });
    const idx = (d.selection!.val as { indices: Int32Array }).indices;
    assert.equal(idx.length, 300);
    assert.ok(idx[idx.length - 1] > 400, 'sample reaches past the first MiB');
    idx.forEach((i, k) => checkImage(d.val!.images, k, i));
    const first = await loadSvhn({ dir, val: 690, valSelection: 'first' });
    for (let k = 0; k < 690; k++) checkImage(first.val!.images, k, k);
  }
});
