/**
 * Data a notebook may lack: which files of a section's datasets are missing, and how to fetch them. SVHN is the one
 * dataset a notebook may lack (CIFAR-10 comes with `scripts/setup.sh`, Pets falls back to its bundled sample).
 */
import * as fs from 'fs';
import * as path from 'path';
import { dataRoot, SVHN_FILES } from '../../data';
import { getExperiment } from '../registry';

/** How to fetch a dataset the notebooks may lack (the datasets `missingData` checks). */
const FETCH_HELP: Record<string, string> = {
  svhn:
    'Fetch it with `npm run data -- svhn` (downloads the three official `.mat` files from ufldl.stanford.edu and checks their MD5), ' +
    'or, on a machine without that access, copy the files over and run `npm run data -- svhn --from DIR`. Then re-run this notebook.',
};

/**
 * The data files missing for `experiments`, by dataset. SVHN is the one dataset a notebook may lack (CIFAR-10 comes
 * with `scripts/setup.sh`, Pets falls back to its bundled sample), so only its three files are checked.
 */
export function missingData(experiments: string[], root = dataRoot()): { dataset: string; files: string[] }[] {
  const datasets = [...new Set(experiments.map((n) => getExperiment(n).paper.dataset))];
  return datasets.flatMap((d) => {
    if (!(d in FETCH_HELP)) return [];
    const files = Object.values(SVHN_FILES).map((f) => path.join(root, 'svhn', f.file)).filter((f) => !fs.existsSync(f));
    return files.length ? [{ dataset: d, files }] : [];
  });
}

/**
 * The data check of a section whose data may be missing: where each dataset was found, or which files are missing,
 * that the section is skipped (`runSection` trains nothing) and how to fetch them, as Markdown.
 */
export function dataStatusMarkdown(experiments: string[], root = dataRoot()): string {
  const missing = missingData(experiments, root);
  const checked = [...new Set(experiments.map((n) => getExperiment(n).paper.dataset))].filter((d) => d in FETCH_HELP);
  const found = checked.filter((d) => !missing.some((m) => m.dataset === d));
  const lines = found.map((d) => `${d.toUpperCase()} found in \`${path.relative(process.cwd(), path.join(root, d)) || '.'}\`.`);
  return [...lines, missingDataMarkdown(missing)].filter(Boolean).join('\n\n');
}

/** Markdown saying which data is missing, that the section is skipped, and how to fetch it. */
export function missingDataMarkdown(missing: { dataset: string; files: string[] }[]): string {
  return missing
    .map(
      (m) =>
        `**${m.dataset.toUpperCase()} is not available on this machine**, so this section is skipped (nothing below trains or fails).\n\n` +
        `Missing: ${m.files.map((f) => `\`${path.relative(process.cwd(), f)}\``).join(', ')}.\n\n${FETCH_HELP[m.dataset] ?? ''}`,
    )
    .join('\n\n');
}
