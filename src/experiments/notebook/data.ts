/**
 * Data a notebook may lack: which files of a section's datasets are missing, and how to fetch them. SVHN is the one
 * dataset a notebook may lack (CIFAR-10 comes with `scripts/setup.sh`, Pets falls back to its bundled sample).
 */
import * as path from 'path';
import { dataRoot } from '../../data';
import { fetchHelp, missingFiles } from '../datasets';
import { getExperiment } from '../registry';

/** The datasets a notebook may lack; the others it needs (their presence and fetch help: ../datasets). */
const MAY_LACK = ['svhn'];

/**
 * The data files missing for `experiments`, by dataset. SVHN is the one dataset a notebook may lack (CIFAR-10 comes
 * with `scripts/setup.sh`, Pets falls back to its bundled sample), so only its three files are checked.
 */
export function missingData(experiments: string[], root = dataRoot()): { dataset: string; files: string[] }[] {
  const datasets = [...new Set(experiments.map((n) => getExperiment(n).paper.dataset))];
  return datasets.flatMap((d) => {
    if (!MAY_LACK.includes(d)) return [];
    const files = missingFiles(d, root);
    return files.length ? [{ dataset: d, files }] : [];
  });
}

/**
 * The data check of a section whose data may be missing: where each dataset was found, or which files are missing,
 * that the section is skipped (`runSection` trains nothing) and how to fetch them, as Markdown.
 */
export function dataStatusMarkdown(experiments: string[], root = dataRoot()): string {
  const missing = missingData(experiments, root);
  const checked = [...new Set(experiments.map((n) => getExperiment(n).paper.dataset))].filter((d) =>
    MAY_LACK.includes(d),
  );
  const found = checked.filter((d) => !missing.some((m) => m.dataset === d));
  const lines = found.map(
    (d) => `${d.toUpperCase()} found in \`${path.relative(process.cwd(), path.join(root, d)) || '.'}\`.`,
  );
  return [...lines, missingDataMarkdown(missing)].filter(Boolean).join('\n\n');
}

/** Markdown saying which data is missing, that the section is skipped, and how to fetch it. */
export function missingDataMarkdown(missing: { dataset: string; files: string[] }[]): string {
  return missing
    .map(
      (m) =>
        `**${m.dataset.toUpperCase()} is not available on this machine**, so this section is skipped (nothing below trains or fails).\n\n` +
        `Missing: ${m.files.map((f) => `\`${path.relative(process.cwd(), f)}\``).join(', ')}.\n\n${fetchHelp(m.dataset)}`,
    )
    .join('\n\n');
}
