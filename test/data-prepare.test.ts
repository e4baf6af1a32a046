import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { preparePets, prepareSvhn, prepareCifar10 } from '../src/data/prepare';
import { loadPets, sharedPetsSample } from '../src/data/pets';
import { svhnVars, writeMat } from './fixtures/data-writers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-prep-'));
const SAMPLE = sharedPetsSample() ?? undefined;

test('svhn --from: a file with the wrong checksum is refused by name and nothing is imported', async () => {
  const from = path.join(tmp, 'svhn-from');
  fs.mkdirSync(from);
  for (const f of ['train_32x32.mat', 'test_32x32.mat', 'extra_32x32.mat'])
    fs.writeFileSync(
      path.join(from, f),
      writeMat(
        svhnVars(3, () => 1, 'double'),
        true,
      ),
    );
  const root = path.join(tmp, 'root1');
  await assert.rejects(
    prepareSvhn({ from, root, log: () => {} }),
    /train_32x32\.mat: checksum mismatch \(MD5 [0-9a-f]{32}, expected e26dedcc434d2e4c54c9b2d4a06d8373\)/,
  );
  assert.equal(fs.existsSync(path.join(root, 'svhn', 'train_32x32.mat')), false);
  await assert.rejects(
    prepareSvhn({ from: path.join(tmp, 'empty'), root, log: () => {} }),
    /train_32x32\.mat: not found/,
  );
});

test('offline: pets names the shared sample; cifar10 --from with nothing usable says what it looked for', async () => {
  const root = path.join(tmp, 'root2');
  await assert.rejects(
    preparePets({ root, log: () => {} }),
    /no internet access to .*600-image sample.*npm run data -- pets --from/,
  );
  assert.equal(fs.existsSync(path.join(root, 'pets')), false, 'no pets folder left behind');
  await assert.rejects(
    prepareCifar10({ root, from: tmp, log: () => {} }),
    /no CIFAR-10 found \(looked for cifar-10-binary\.tar\.gz/,
  );
});

test(
  'pets --from the shared sample: imported once, second run does nothing, loads',
  { skip: !SAMPLE && 'shared sample not present' },
  async () => {
    const root = path.join(tmp, 'root3');
    const lines: string[] = [];
    const r1 = await preparePets({ root, from: SAMPLE, log: (l) => lines.push(l) });
    assert.equal(r1.status, 'fetched');
    assert.equal(fs.readdirSync(path.join(root, 'pets', 'images')).length, 600);
    const r2 = await preparePets({ root, log: (l) => lines.push(l) });
    assert.equal(r2.status, 'present');
    assert.match(lines[lines.length - 1], /already in .*nothing to do/);
    const d = await loadPets({ dir: path.join(root, 'pets'), size: 8, limit: 2, cache: false });
    assert.equal(d.train.n, 2);
  },
);
