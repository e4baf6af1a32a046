/**
 * The summary figure: each run's final accuracy over its seeds beside the published number it is compared with
 * (which one is src/experiments/published.ts's answer), and the rows the summary tables are made of (./tables).
 */
import { finalValues, stats, type Accessor } from './aggregate';
import { assignColors, inferOptimizer } from './builders';
import { axisStyle, baseLayout, PLOT_CONFIG, WIDTH } from './style';
import type { Figure, RunSeries, Trace } from './types';

/** One row of the summary figure / table: final accuracies of a run over its seeds and the report's number. */
export interface SummaryRow {
  label: string;
  optimizer?: string;
  /** Final metric per seed (fractions). */
  values: number[];
  /** The paper's / report's number for this run (fraction), if any. */
  reported?: number | null;
  /** Where `reported` comes from (legend / table). */
  reportedSource?: string;
}

/** Builds SummaryRows from runs: the last finite value of `metric` (default valAccuracy) of each seed. */
export function summaryRows(
  runs: (RunSeries & { reported?: number | null; reportedSource?: string })[],
  metric: Accessor = (r) => r.valAccuracy,
): SummaryRow[] {
  return runs.map((r) => ({
    label: r.label,
    optimizer: inferOptimizer(r),
    values: finalValues(r.histories, metric),
    reported: r.reported ?? null,
    reportedSource: r.reportedSource,
  }));
}

/**
 * Final accuracies (mean over seeds, error bar = min–max) next to the numbers reported by the paper /
 * reproducibility report (open diamonds).
 */
export function summaryFigure(rows: SummaryRow[], opts: { title?: string; yTitle?: string; percent?: boolean } = {}): Figure {
  const percent = opts.percent ?? true;
  const colors = assignColors(rows.map((r) => ({ label: r.label, optimizer: r.optimizer, histories: [] })));
  const st = rows.map((r) => stats(r.values));
  const longest = Math.max(...rows.map((r) => r.label.length));
  const layout = baseLayout(opts.title, {
    width: Math.max(WIDTH, 160 + 80 * rows.length),
    hovermode: 'closest',
    legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: 1.0, yanchor: 'bottom', bgcolor: 'rgba(255,255,255,0)', font: { size: 12 } },
  });
  layout.margin = { ...layout.margin, t: (opts.title ? 50 : 20) + 30 };
  layout.xaxis = axisStyle('', { type: 'category', showgrid: false, tickangle: longest * rows.length > 60 ? -30 : 0 });
  layout.yaxis = axisStyle(opts.yTitle ?? 'Final accuracy', percent ? { tickformat: '.1%' } : {});
  const fmt = percent ? '.2%' : '.4g';
  const data: Trace[] = [
    {
      type: 'scatter',
      mode: 'markers',
      name: 'This reproduction (mean, min–max over seeds)',
      x: rows.map((r) => r.label),
      y: st.map((s) => (Number.isFinite(s.mean) ? s.mean : null)),
      error_y: {
        type: 'data',
        symmetric: false,
        array: st.map((s) => (Number.isFinite(s.max) ? s.max - s.mean : 0)),
        arrayminus: st.map((s) => (Number.isFinite(s.min) ? s.mean - s.min : 0)),
        thickness: 1.5,
        width: 6,
        color: '#333',
      },
      marker: { color: colors, size: 11, symbol: 'circle', line: { color: '#000', width: 1 } },
      customdata: st.map((s) => s.n),
      hovertemplate: `%{x}: %{y:${fmt}} (n=%{customdata})<extra></extra>`,
    },
  ];
  if (rows.some((r) => r.reported !== null && r.reported !== undefined)) {
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: 'Reported',
      x: rows.map((r) => r.label),
      y: rows.map((r) => (r.reported === undefined ? null : r.reported)),
      marker: { color: '#000', size: 12, symbol: 'diamond-open', line: { width: 2 } },
      hovertemplate: `%{x}: reported %{y:${fmt}}<extra></extra>`,
    });
  }
  return { data, layout, config: { ...PLOT_CONFIG } };
}
