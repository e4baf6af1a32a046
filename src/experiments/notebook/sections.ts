/**
 * What one section notebook shows beyond the common cells: §4.2's dropout mechanism measured on the final models
 * (./mechanism), §4.5's UNet sizes (./unet) and predictions.
 */
import { segmentationGrid, type SegmentationSample } from '../../figures/segmentation';
import { figureHtml, figureText, showFigure, showHtml, showMarkdown } from '../../figures/display';
import { loadPredictions } from '../../figures/build';
import { mechanismFigure, mechanismMarkdown, mechanismRows } from '../mechanism';
import { unetSizeTable, type UnetSizeRow } from '../unet';
import { sectionRunData, type SectionRun } from './section';

/**
 * Measures the mechanism the report proposes for §4.2 on this notebook's final models (./mechanism: per BN layer,
 * training-mode statistics with dropout on against the statistics the model tests with; settled − raw test accuracy
 * per arm, paired by seed) and shows the tables and the figure; "skipped" without runs.
 */
export async function showDropoutMechanism(
  runs: SectionRun[],
  profile: string,
  opts: { batches?: number } = {},
): Promise<void> {
  if (!runs.length) {
    console.log('skipped: no runs');
    return;
  }
  const rows = await mechanismRows(
    runs.flatMap((r) =>
      r.results.map((x) => ({
        experiment: r.experiment,
        seed: x.config.seed,
        dir: x.dir,
        config: x.config,
        history: x.history,
      })),
    ),
    opts,
  );
  showMarkdown(mechanismMarkdown(rows, profile));
  showFigure(
    mechanismFigure(rows, { title: `BN statistics, training (dropout on) vs test time, per layer (${profile})` }),
  );
}

/**
 * Rows for the segmentation grid: the first `images` test images of each run's predictions.json, interleaved
 * (image 0 of every run, then image 1, …), titled "<run> · <image>". Runs without predictions are listed in
 * `missing` with the reason instead of failing the notebook.
 */
export function segmentationSamples(
  runs: SectionRun[],
  profile: string,
  images: number,
): { rows: SegmentationSample[]; classNames?: string[]; missing: string[] } {
  const missing: string[] = [];
  const preds = runs.map((r) => {
    try {
      return loadPredictions(sectionRunData(r, profile));
    } catch (e) {
      missing.push(`${r.experiment}: ${(e as Error).message}`);
      return null;
    }
  });
  const rows: SegmentationSample[] = [];
  let classNames: string[] | undefined;
  for (let i = 0; i < images; i++)
    runs.forEach((r, j) => {
      const s = preds[j]?.samples[i];
      if (!s) return;
      classNames = classNames ?? preds[j]!.classNames;
      rows.push({ ...s, title: `${r.experiment.replace(/^pets-unet-/, '')} · ${s.title ?? `test image ${i}`}` });
    });
  return { rows, classNames, missing };
}

/** Model sizes of the section's trained UNets (first seed's final model) beside the paper-size architecture (./unet). */
export function unetSizes(runs: SectionRun[]): Promise<UnetSizeRow[]> {
  return unetSizeTable(runs.map((r) => ({ experiment: r.experiment, dir: r.results[0].dir })));
}

/**
 * The segmentation grid of the first `images` test images of each run's predictions.json, as HTML (the figure's
 * pixel arrays in the Plotly MIME output would be pretty-printed one number per line in the saved notebook);
 * runs without predictions are listed instead.
 */
export function showSegmentationSamples(runs: SectionRun[], profile: string, images: number): void {
  const grid = segmentationSamples(runs, profile, images);
  for (const m of grid.missing) console.log(`no predictions: ${m}`);
  if (!grid.rows.length) {
    console.log('no predictions.json in these runs: nothing to show');
    return;
  }
  const fig = segmentationGrid(grid.rows, {
    title: `Test images, trimaps and predicted masks (${profile})`,
    classNames: grid.classNames,
    cell: 150,
  });
  showHtml(figureHtml(fig), figureText(fig));
}
