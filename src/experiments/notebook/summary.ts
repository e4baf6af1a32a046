/**
 * The summary notebook: which experiments it summarizes, the table and figure of every run against its published
 * numbers, the gaps, and the final cifar10-bop model on every inference engine.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { classificationSource, loadCifar10 } from '../../data';
import { inferenceComparison } from '../../figures/inference';
import { showFigure, showHtml, showMarkdown } from '../../figures/display';
import { toHtml, type SummaryTableRow } from '../../figures/tables';
import { publishedFigure, publishedTable } from '../published';
import { experimentNames, getExperiment } from '../registry';
import { missingData } from './data';
import { pctOf } from './format';
import type { SectionRun } from './section';

/**
 * The experiments the summary trains or reuses: `requested`, or every catalog experiment but its named variants;
 * one that reuses another's runs (`sameAs`) is summarized as that one, one whose data is missing is left out.
 * Prints why each left-out experiment is.
 */
export function summaryExperiments(requested?: string[], log: (line: string) => void = console.log): string[] {
  const out: string[] = [];
  for (const name of requested ?? experimentNames().filter((n) => !getExperiment(n).optional)) {
    const e = getExperiment(name);
    const missing = missingData([name]);
    if (e.sameAs) log(`${name}: same config as ${e.sameAs} in the original code; summarized as ${e.sameAs}`);
    else if (missing.length)
      log(
        `${name}: left out, ${missing[0].dataset.toUpperCase()} is not in ${path.dirname(missing[0].files[0])} (\`npm run data -- ${missing[0].dataset}\`)`,
      );
    else out.push(name);
  }
  return out;
}

/**
 * Shows the summary table and returns it: every run in catalog order, labelled "<section> <experiment>", against
 * every published number (../published `publishedTable`, the table figures/summary.md shows).
 */
export function showSummaryTable(runs: SectionRun[], profile: string): SummaryTableRow[] {
  const table = publishedTable(runs);
  showHtml(
    toHtml(
      table,
      `Final accuracy (${profile} profile, mean / min / max over seeds; test split, settled, against published validation numbers; train against train) vs published`,
    ),
  );
  return table;
}

/** One marker per run (mean, min–max over seeds) with its headline published number as an open diamond (../published `publishedFigure`). */
export function showSummaryFigure(runs: SectionRun[], profile: string): void {
  showFigure(publishedFigure(runs, `Final accuracy, ${profile} profile, vs reported`));
}

/** Computed, not quoted: how far each run with a published number is from it, and the largest gap. */
export function publishedGapText(table: SummaryTableRow[], profile: string): string {
  const withRef = table.filter((t) => t.delta !== null);
  const lines = withRef.map(
    (t) => `${t.run}: ${t.mean} % vs ${t.reported} % (${t.source}): ${t.delta! >= 0 ? '+' : ''}${t.delta} pp`,
  );
  if (withRef.length)
    lines.push(
      `largest gap: ${Math.max(...withRef.map((t) => Math.abs(t.delta!))).toFixed(2)} pp on the ${profile} profile`,
    );
  return lines.join('\n') || 'no run with a published number';
}

/**
 * The final `cifar10-bop` model (first seed) on every inference engine this machine has (src/inference's
 * `engineComparison`: float tfjs, float32 oneDNN, packed wasm, packed native), on the first `images` test images: the
 * machine (CPU model and features), a Markdown table (size, ms per image at batch 1 and 50, accuracy) and the
 * engines' figure. `threads`: the float32 oneDNN and packed engines' threads (the float tfjs model uses its backend's).
 */
export async function showPackedInference(
  runs: SectionRun[],
  profile: string,
  opts: { images: number; threads: number },
): Promise<void> {
  const bopRun = runs.find((r) => r.experiment === 'cifar10-bop');
  if (!bopRun) {
    console.log('skipped: cifar10-bop is not among the summarized runs');
    return;
  }
  const { engineComparison, comparisonEngines, comparisonMarkdown } = await import('../../inference');
  const { loadModel } = await import('../../models/io');
  const res = bopRun.results[0];
  const ds = await loadCifar10({ subset: { test: res.config.testPerClass ?? undefined } });
  const n = Math.min(opts.images, ds.test.n);
  const { x, y } = classificationSource(ds.test).batch(
    Int32Array.from({ length: n }, (_, i) => i),
    null,
  );
  const model = await loadModel(path.join(res.dir, 'final'));
  try {
    const c = await engineComparison(model, { images: x as tf.Tensor4D, labels: y }, { threads: opts.threads });
    const lastVal = res.history[res.history.length - 1].valAccuracy;
    showMarkdown(
      comparisonMarkdown(c, `cifar10-bop seed ${res.config.seed} (${profile})`) +
        (n === ds.test.n
          ? ` The float accuracy on these images should equal the run's final validation accuracy: ${pctOf(lastVal)}.`
          : ` (First ${n} of the ${ds.test.n} test images.)`),
    );
    showFigure(
      inferenceComparison(comparisonEngines(c), {
        title: `Float vs packed XNOR inference, cifar10-bop (${profile}), ${c.machine.cpu}`,
      }),
    );
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
}
