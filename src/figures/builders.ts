/**
 * Figure builders of per-epoch curves: pure functions from run histories (several seeds per run) to Plotly figure
 * specs, and the colours of a list of runs. They never touch the file system or a browser, so they run the same in
 * tests, notebooks and the exporter. The summary figure, the segmentation grid and the inference engines' figure
 * are in ./summary, ./segmentation and ./inference.
 *
 * Conventions (see style.ts): mean over seeds as a line, min–max over seeds as a translucent band,
 * train dashed / validation solid, Bop blue / Adam baseline vermillion.
 */
import type { EpochRecord } from '../train/history';
import { aggregateSeeds, flipMetric, type Accessor, type SeedAggregate } from './aggregate';
import {
  BAND_ALPHA,
  HEIGHT,
  LINE_WIDTH,
  OPTIMIZER_COLORS,
  OTHER_COLORS,
  PALETTE,
  PANEL_WIDTH,
  PLOT_CONFIG,
  WIDTH,
  axisStyle,
  baseLayout,
  sequentialColors,
  withAlpha,
} from './style';
import type { Figure, Layout, RunSeries, Trace } from './types';

/** Infers a run's optimizer family from its histories: Bop records γ, the Adam baseline records γ = null. */
export function inferOptimizer(run: Pick<RunSeries, 'optimizer' | 'histories'>): string {
  if (run.optimizer) return run.optimizer.toLowerCase();
  for (const h of run.histories) for (const r of h) if (r.gamma !== null && r.gamma !== undefined) return 'bop';
  return 'adam';
}

/**
 * Colours for a list of runs. When each optimizer family appears at most once, runs take their family's
 * colour (bop blue, adam vermillion, others from the remaining palette). When a family repeats (a sweep),
 * runs are coloured in palette order so the sweep's members are distinguishable. An explicit `color` wins.
 */
export function assignColors(runs: RunSeries[]): string[] {
  const kinds = runs.map((r) => inferOptimizer(r));
  const repeated = new Set(kinds).size < kinds.length;
  let other = 0;
  return runs.map((r, i) => {
    if (r.color) return r.color;
    if (repeated) return PALETTE[i % PALETTE.length];
    const fixed = OPTIMIZER_COLORS[kinds[i]];
    return fixed ?? OTHER_COLORS[other++ % OTHER_COLORS.length];
  });
}

interface SeriesTraceOptions {
  name: string;
  color: string;
  dash?: string;
  showlegend?: boolean;
  legendgroup?: string;
  xaxis?: string;
  yaxis?: string;
  hoverformat?: string;
}

/** Rounds to 6 significant digits: plenty for plotting, and keeps notebook outputs small. */
export function sig6(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(6)) : v;
}

/** x as `{x0, dx}` when it is an arithmetic sequence (epochs 1..N), else explicit: halves the JSON. */
function xSpec(x: number[]): Trace {
  if (x.length >= 2) {
    const dx = x[1] - x[0];
    if (dx > 0 && x.every((v, i) => Math.abs(v - (x[0] + i * dx)) < 1e-9 * Math.max(1, Math.abs(v)))) return { x0: x[0], dx };
  }
  return { x };
}

/**
 * The traces of one series: the band (min–max over seeds, as a lower line plus an upper line filled
 * 'tonexty'; omitted when every x has a single seed or all seeds agree) and the mean line.
 */
export function seriesTraces(agg: SeedAggregate, o: SeriesTraceOptions): Trace[] {
  const traces: Trace[] = [];
  const axes: Trace = {};
  if (o.xaxis) axes.xaxis = o.xaxis;
  if (o.yaxis) axes.yaxis = o.yaxis;
  const xs = xSpec(agg.x);
  const group = o.legendgroup ?? o.name;
  const hasBand = agg.n.some((k) => k > 1) && agg.min.some((v, i) => v !== agg.max[i]);
  if (hasBand) {
    const edge = { type: 'scatter', mode: 'lines', line: { width: 0, color: withAlpha(o.color, 0) }, hoverinfo: 'skip', showlegend: false, legendgroup: group, ...xs, ...axes };
    traces.push({ ...edge, name: `${o.name} (min)`, y: agg.min.map(sig6) });
    traces.push({ ...edge, name: `${o.name} (max)`, y: agg.max.map(sig6), fill: 'tonexty', fillcolor: withAlpha(o.color, BAND_ALPHA) });
  }
  traces.push({
    type: 'scatter',
    mode: agg.x.length === 1 ? 'markers' : 'lines',
    ...xs,
    y: agg.mean.map(sig6),
    name: o.name,
    line: { color: o.color, width: LINE_WIDTH, dash: o.dash ?? 'solid' },
    marker: { color: o.color, size: 6 },
    legendgroup: group,
    showlegend: o.showlegend ?? true,
    hovertemplate: `%{y${o.hoverformat ? ':' + o.hoverformat : ''}}`,
    ...axes,
  });
  return traces;
}

/** True for the band traces made by seriesTraces (not the mean lines). */
export function isBandTrace(t: Trace): boolean {
  return t.hoverinfo === 'skip' && t.showlegend === false && /\((min|max)\)$/.test(String(t.name));
}

/** The x values of a trace (explicit `x`, or expanded from `x0`/`dx`). */
export function traceX(t: Trace): number[] {
  if (Array.isArray(t.x)) return t.x;
  const n = Array.isArray(t.y) ? t.y.length : 0;
  return Array.from({ length: n }, (_, i) => (t.x0 ?? 0) + i * (t.dx ?? 1));
}

/** One metric (a panel, or a line style when overlaid) of a curve figure. */
export interface MetricSpec {
  /** Panel title (panels) or legend suffix (overlay), e.g. "Training". */
  name: string;
  value: Accessor;
  /** Line dash when overlaid: train curves use 'dash'. */
  dash?: string;
}

export interface CurveOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** One panel per metric side by side (default) or all metrics overlaid in one panel. */
  panels?: boolean;
  /** Show the y axis as a percentage (values are fractions). */
  percent?: boolean;
  yRange?: [number, number];
  yType?: 'linear' | 'log';
  width?: number;
  height?: number;
}

/** Splits [0,1] into `n` horizontal domains separated by `gap`. */
function domains(n: number, gap = 0.08): [number, number][] {
  const w = (1 - gap * (n - 1)) / n;
  return Array.from({ length: n }, (_, i) => [i * (w + gap), i * (w + gap) + w] as [number, number]);
}

/**
 * Generic per-epoch curves of one or more metrics for several runs: the base of accuracy, pixel accuracy,
 * mIoU and loss figures. x = epoch; y = mean over seeds with min–max band.
 */
export function metricCurves(runs: RunSeries[], metrics: MetricSpec[], opts: CurveOptions = {}): Figure {
  if (runs.length === 0) throw new Error('metricCurves: no runs given (need at least one RunSeries with histories)');
  const colors = assignColors(runs);
  const panels = (opts.panels ?? true) && metrics.length > 1;
  const hoverformat = opts.percent ? '.2%' : '.4g';
  const data: Trace[] = [];
  const yExtra: Record<string, any> = {};
  if (opts.percent) yExtra.tickformat = '.0%';
  if (opts.yRange) yExtra.range = opts.yRange;
  if (opts.yType) yExtra.type = opts.yType;
  if (opts.yType === 'log') Object.assign(yExtra, { dtick: 1, exponentformat: 'power', minor: { showgrid: false } });
  const layout: Layout = baseLayout(opts.title, {
    width: opts.width ?? (panels ? PANEL_WIDTH : WIDTH),
    height: opts.height ?? (panels ? HEIGHT + 40 : HEIGHT),
  });
  if (panels) {
    // Legend centred under the panels: keeps multi-panel figures within a notebook's width.
    layout.legend = { ...layout.legend, orientation: 'h', x: 0.5, xanchor: 'center', y: -0.2, yanchor: 'top' };
    layout.margin = { ...layout.margin, b: 90 };
  }
  if (panels) {
    const doms = domains(metrics.length);
    layout.annotations = [];
    const inLegend = new Set<number>();
    metrics.forEach((m, j) => {
      const sfx = j === 0 ? '' : String(j + 1);
      layout['xaxis' + sfx] = axisStyle(opts.xTitle ?? 'Epoch', { domain: doms[j], anchor: 'y' + sfx });
      layout['yaxis' + sfx] = axisStyle(j === 0 ? opts.yTitle ?? '' : '', { anchor: 'x' + sfx, ...yExtra, ...(j > 0 ? { matches: 'y' } : {}) });
      layout.annotations.push({
        text: `<b>${m.name}</b>`,
        x: (doms[j][0] + doms[j][1]) / 2,
        y: 1.0,
        xref: 'paper',
        yref: 'paper',
        xanchor: 'center',
        yanchor: 'bottom',
        showarrow: false,
      });
      runs.forEach((run, i) => {
        const agg = aggregateSeeds(run.histories, m.value);
        // Each run appears once in the legend: in the first panel where it has data.
        const show = !inLegend.has(i) && agg.x.length > 0;
        if (show) inLegend.add(i);
        data.push(
          ...seriesTraces(agg, {
            name: run.label,
            color: colors[i],
            showlegend: show,
            legendgroup: run.label,
            xaxis: 'x' + sfx,
            yaxis: 'y' + sfx,
            hoverformat,
          }),
        );
      });
    });
    layout.margin = { ...layout.margin, t: (opts.title ? 50 : 20) + 20 };
  } else {
    layout.xaxis = axisStyle(opts.xTitle ?? 'Epoch');
    layout.yaxis = axisStyle(opts.yTitle ?? '', yExtra);
    runs.forEach((run, i) => {
      metrics.forEach((m) => {
        const agg = aggregateSeeds(run.histories, m.value);
        const name = metrics.length > 1 ? `${run.label} (${m.name.toLowerCase()})` : run.label;
        data.push(...seriesTraces(agg, { name, color: colors[i], dash: m.dash, legendgroup: name, hoverformat }));
      });
    });
  }
  return { data, layout, config: { ...PLOT_CONFIG } };
}

/**
 * Training and validation accuracy per epoch for several runs (report Figs 1–8; Fig. 9 with
 * `{yTitle: 'Pixel accuracy', valName: 'Test'}`). Accuracy values are fractions in [0, 1].
 */
export function accuracyCurves(runs: RunSeries[], opts: CurveOptions & { trainName?: string; valName?: string } = {}): Figure {
  return metricCurves(
    runs,
    [
      { name: opts.trainName ?? 'Training', value: (r) => r.accuracy, dash: 'dash' },
      { name: opts.valName ?? 'Validation', value: (r) => r.valAccuracy },
    ],
    { yTitle: 'Accuracy', percent: true, ...opts },
  );
}

/** Training and validation loss per epoch (log y axis). */
export function lossCurves(runs: RunSeries[], opts: CurveOptions = {}): Figure {
  return metricCurves(
    runs,
    [
      { name: 'Training', value: (r) => r.loss, dash: 'dash' },
      { name: 'Validation', value: (r) => r.valLoss },
    ],
    { yTitle: 'Loss', yType: 'log', ...opts },
  );
}

/**
 * Mean IoU per epoch for segmentation runs, read from `record.extra[trainKey]` / `record.extra[valKey]`
 * (defaults `miou` / `valMiou`, as written by the segmentation training loop).
 */
export function miouCurves(runs: RunSeries[], opts: CurveOptions & { trainKey?: string; valKey?: string; valName?: string } = {}): Figure {
  const tk = opts.trainKey ?? 'miou';
  const vk = opts.valKey ?? 'valMiou';
  return metricCurves(
    runs,
    [
      { name: 'Training', value: (r) => r.extra?.[tk], dash: 'dash' },
      { name: opts.valName ?? 'Validation', value: (r) => r.extra?.[vk] },
    ],
    { yTitle: 'Mean IoU', percent: true, ...opts },
  );
}

/** Layer names in the order of the first record that has flip ratios. */
export function flipLayers(runs: RunSeries[]): string[] {
  for (const run of runs) for (const h of run.histories) for (const r of h) {
    const keys = Object.keys(r.flipRatio ?? {});
    if (keys.length) return keys;
  }
  return [];
}

/**
 * Flip metric πₜ = ln(flips/weights + e⁻⁹) (Helwegen et al. 2019, Eq. 7) per epoch, where flips/weights is
 * the epoch's mean per-step flip ratio of a binary layer (EpochRecord.flipRatio).
 * - One run: one line per layer (`layers`: 'all' default, or names), coloured from dark (first layer) to light.
 * - Several runs: one line per run for the chosen layer(s) (default: the last layer, as in the paper's Fig. 1).
 */
export function flipRatioCurves(runs: RunSeries[], opts: CurveOptions & { layers?: 'all' | 'last' | string[] } = {}): Figure {
  if (runs.length === 0) throw new Error('flipRatioCurves: no runs given');
  const all = flipLayers(runs);
  const choice = opts.layers ?? (runs.length === 1 ? 'all' : 'last');
  const layers = choice === 'all' ? all : choice === 'last' ? all.slice(-1) : choice;
  const layout = baseLayout(opts.title, { width: opts.width ?? WIDTH, height: opts.height ?? HEIGHT });
  layout.xaxis = axisStyle(opts.xTitle ?? 'Epoch');
  layout.yaxis = axisStyle(opts.yTitle ?? 'π<sub>t</sub> = ln(flips / weights + e<sup>−9</sup>)', {
    range: opts.yRange ?? [-9.5, 0.5],
  });
  const data: Trace[] = [];
  const acc = (name: string): Accessor => (r: EpochRecord) => {
    const v = r.flipRatio?.[name];
    return v === undefined || v === null || !Number.isFinite(v) ? null : flipMetric(v);
  };
  if (runs.length === 1) {
    const colors = sequentialColors(layers.length);
    layers.forEach((name, i) => {
      data.push(...seriesTraces(aggregateSeeds(runs[0].histories, acc(name)), { name, color: colors[i], hoverformat: '.3f' }));
    });
  } else {
    const colors = assignColors(runs);
    const dashes = ['solid', 'dash', 'dot', 'dashdot', 'longdash'];
    runs.forEach((run, i) => {
      layers.forEach((name, j) => {
        const label = layers.length > 1 ? `${run.label} · ${name}` : run.label;
        data.push(
          ...seriesTraces(aggregateSeeds(run.histories, acc(name)), {
            name: label,
            color: colors[i],
            dash: dashes[j % dashes.length],
            hoverformat: '.3f',
          }),
        );
      });
    });
  }
  if (data.length === 0 || layers.length === 0) {
    layout.annotations = [{ text: 'no flip-ratio data in these histories', xref: 'paper', yref: 'paper', x: 0.5, y: 0.5, showarrow: false }];
  }
  return { data, layout, config: { ...PLOT_CONFIG } };
}

/**
 * Bop's adaptivity rate γ and the Adam learning rate per epoch (log y axes, two panels). Runs without Bop
 * (γ = null) only appear in the learning-rate panel.
 */
export function hyperparameterCurves(runs: RunSeries[], opts: CurveOptions = {}): Figure {
  const anyGamma = runs.some((r) => r.histories.some((h) => h.some((e) => e.gamma !== null && e.gamma !== undefined)));
  const metrics: MetricSpec[] = [];
  if (anyGamma) metrics.push({ name: 'Bop adaptivity rate γ', value: (r) => r.gamma });
  metrics.push({ name: 'Adam learning rate', value: (r) => r.lr });
  const fig = metricCurves(runs, metrics, { yTitle: 'Value', yType: 'log', panels: true, ...opts });
  for (const key of Object.keys(fig.layout)) if (key.startsWith('yaxis')) delete fig.layout[key].matches;
  fig.layout.hovermode = 'closest';
  return fig;
}
