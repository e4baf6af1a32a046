/**
 * What a section notebook draws and tabulates from its runs: the catalog's figures by name, the comparison with the
 * published numbers, where and how each run ran, and the live chart replayed.
 */
import { accuracyCurves } from '../../figures/builders';
import { liveChart, showFigure, showHtml } from '../../figures/display';
import { summaryTable, toHtml } from '../../figures/tables';
import type { Figure, RunSeries } from '../../figures/types';
import type { History } from '../../train/history';
import { entryFigure, experimentRef, sectionFigure } from '../figures';
import { publishedRows } from '../published';
import { pctOf } from './format';
import type { SectionRun } from './section';

/** One paragraph per seed: seed, profile, backend, final / best accuracies, training time, and where it is stored. */
export function describeRuns(runs: SectionRun[]): string {
  const lines: string[] = [];
  for (const r of runs)
    for (const res of r.results) {
      const h = res.history;
      const last = h[h.length - 1];
      const best = h.reduce((b, e) => (e.valAccuracy > b.valAccuracy ? e : b), h[0]);
      const seconds = h.reduce((s, e) => s + e.seconds, 0);
      const test = last.extra?.testAccuracy;
      const raw = last.extra?.testAccuracyRaw;
      lines.push(
        `${r.experiment} · seed ${res.config.seed} · profile ${res.config.profile} · ${res.backend}\n` +
          `    ${h.length} epochs: final train ${pctOf(last.accuracy)}, final val ${pctOf(last.valAccuracy)}, best val ${pctOf(best.valAccuracy)} (epoch ${best.epoch}); ` +
          (typeof test === 'number'
            ? `test ${pctOf(test)} settled${typeof raw === 'number' ? ` (raw ${pctOf(raw)})` : ''}; `
            : '') +
          `${seconds.toFixed(1)} s of training${res.reused ? ' (stored results reused, not retrained)' : `, ${res.wallSeconds.toFixed(1)} s wall in this session`} · ${res.dir}`,
      );
    }
  return lines.join('\n');
}

/**
 * The figure `name` of the catalog (../figures `sectionFigure`: its kind, title, axis names and experiments, the
 * section's by default, as `npm run figures` draws it) over this notebook's runs, legend labels the experiments'
 * `label`s and the profile in the title; or why it is skipped: fewer of its runs are here than it needs (its
 * `minRuns`, else all of them), as in a section whose data is missing.
 */
export function catalogFigureOf(runs: SectionRun[], name: string): { figure: Figure } | { skipped: string } {
  const { section, figure } = sectionFigure(name);
  const names = figure.experiments ?? section.experiments;
  const picked = names.flatMap((n) => runs.filter((r) => r.experiment === n));
  if (!picked.length || picked.length < (figure.minRuns ?? names.length))
    return {
      skipped: `skipped (${name}): ${runs.length ? `it draws ${names.join(', ')}; this notebook ran ${runs.map((r) => r.experiment).join(', ')}` : 'no runs'}`,
    };
  const series = picked.map((r) => {
    const ref = experimentRef(r.experiment);
    return { ...r.series, label: ref.label ?? r.series.label, optimizer: ref.optimizer };
  });
  return { figure: entryFigure(figure, series, `${figure.title} (${picked[0].results[0].config.profile})`) };
}

/** Shows `catalogFigureOf(runs, name)`, or prints why it is skipped. */
export function showCatalogFigure(runs: SectionRun[], name: string): void {
  const r = catalogFigureOf(runs, name);
  if ('figure' in r) showFigure(r.figure);
  else console.log(r.skipped);
}

/**
 * The runs' final accuracies against every published number (../published `publishedRows`: the settled test accuracy
 * against a published validation number, the last epoch's train accuracy against a train number), labelled by the
 * runs' titles; then where and how each run ran (`describeRuns`).
 */
export function showComparison(runs: SectionRun[], profile: string): void {
  if (!runs.length) {
    console.log('skipped: no runs');
    return;
  }
  showHtml(
    toHtml(
      summaryTable(publishedRows(runs, (_, r) => r.series.label)),
      `Final accuracy, ${profile} profile (test split, settled; train accuracy against published train numbers), vs the published numbers`,
    ),
  );
  console.log(describeRuns(runs));
}

/** Replays a run's first history into a live accuracy chart, one epoch every `delayMs` (what training loops do per epoch). */
export async function replayLive(run: RunSeries, delayMs = 50): Promise<void> {
  const chart = liveChart();
  const seen: History = [];
  for (const rec of run.histories[0]) {
    seen.push(rec);
    chart.update(
      accuracyCurves([{ label: `${run.label} (replay)`, optimizer: run.optimizer, histories: [seen] }], {
        title: `Live: epoch ${rec.epoch}`,
      }),
    );
    await new Promise((r) => setTimeout(r, delayMs));
  }
}
