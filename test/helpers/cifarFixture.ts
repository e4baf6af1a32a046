import * as fs from 'fs';
import * as path from 'path';
import { Rng } from '../../src/random';
import { writeCifarManifest } from '../../src/data/cifar10';

/**
 * Writes CIFAR-10 in the official binary format (records of 1 label byte + 1024 R + 1024 G + 1024 B) with
 * `perClassTrain` images per class spread over data_batch_1..5 and `perClassTest` in test_batch.
 * Images are class-dependent patterns plus noise, so a model can learn them.
 */
export function writeCifarFixture(dir: string, perClassTrain: number, perClassTest: number, seed = 1): void {
  fs.mkdirSync(dir, { recursive: true });
  const rng = new Rng(seed);
  const records = (perClass: number) => {
    const n = perClass * 10;
    const buf = Buffer.alloc(n * 3073);
    for (let i = 0; i < n; i++) {
      const label = i % 10;
      buf[i * 3073] = label;
      for (let j = 0; j < 3072; j++)
        buf[i * 3073 + 1 + j] = Math.min(255, Math.floor(rng.next() * 120) + ((j >> 5) % 10 === label ? 120 : 0));
    }
    return buf;
  };
  const train = records(perClassTrain);
  const n = perClassTrain * 10;
  for (let k = 0; k < 5; k++) {
    const from = Math.floor((k * n) / 5);
    const to = Math.floor(((k + 1) * n) / 5);
    fs.writeFileSync(path.join(dir, `data_batch_${k + 1}.bin`), train.subarray(from * 3073, to * 3073));
  }
  fs.writeFileSync(path.join(dir, 'test_batch.bin'), records(perClassTest));
  // Declares the (non-official) record counts and hashes, as `npm run data` does for the files it writes.
  writeCifarManifest(dir, 'test fixture');
}
