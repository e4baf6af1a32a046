/**
 * Figure builders: pure functions from run histories (several seeds per run) to Plotly figure specs.
 * They never touch the file system or a browser, so they run the same in tests, notebooks and the exporter.
 *
 * Conventions (see style.ts): mean over seeds as a line, min–max over seeds as a translucent band,
 * train dashed / validation solid, Bop blue / Adam baseline vermillion.
 */
import type { EpochRecord } from '../train/history';
import { aggregateSeeds, finalValues, flipMetric, stats, type Accessor, type SeedAggregate } from './aggregate';
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

/** One sample of the segmentation grid. */
export interface SegmentationSample {
  /** RGB image, H × W × 3, values in [0, 1] or [0, 255]. */
  image: number[][][];
  /** Ground-truth class ids, H × W. */
  truth: number[][];
  /** Predicted class ids, H × W. */
  prediction: number[][];
  title?: string;
}

/** Class colours of the Oxford-IIIT Pet trimap order used here: 0 pet, 1 background, 2 border. */
export const SEGMENTATION_COLORS = ['#E69F00', '#0072B2', '#F0F0F0', '#009E73', '#CC79A7', '#D55E00'];

/**
 * Grid of segmentation predictions: one row per sample, columns image | ground truth | prediction
 * (masks as discrete-colour heatmaps with square pixels, y axis pointing down like the image).
 */
export function segmentationGrid(
  samples: SegmentationSample[],
  opts: { title?: string; classNames?: string[]; cell?: number } = {},
): Figure {
  if (samples.length === 0) throw new Error('segmentationGrid: no samples given');
  let maxClass = 0;
  for (const s of samples) for (const m of [s.truth, s.prediction]) for (const row of m) for (const v of row) if (v > maxClass) maxClass = v;
  const k = Math.max(opts.classNames?.length ?? 0, maxClass + 1);
  const colorscale: [number, string][] = [];
  for (let i = 0; i < k; i++) {
    const c = SEGMENTATION_COLORS[i % SEGMENTATION_COLORS.length];
    colorscale.push([i / k, c], [(i + 1) / k, c]);
  }
  const names = opts.classNames ?? Array.from({ length: k }, (_, i) => `class ${i}`);
  const cell = opts.cell ?? 180;
  const cols = 3;
  const rows = samples.length;
  const title = opts.title;
  const top = title ? 60 : 30;
  // room for the rotated row labels (up to two lines) left of the first column
  const left = samples.some((s) => s.title) ? 60 : 20;
  const layout = baseLayout(title, {
    width: cols * cell + 140 + left,
    height: rows * cell + top + 20,
    margin: { l: left, r: 140, t: top, b: 20 },
    hovermode: 'closest',
    showlegend: false,
    annotations: [] as any[],
  });
  const gap = 0.03;
  const cw = (1 - gap * (cols - 1)) / cols;
  const rh = (1 - gap * (rows - 1)) / rows;
  const data: Trace[] = [];
  const heads = ['Image', 'Ground truth', 'Prediction'];
  samples.forEach((s, r) => {
    const y0 = 1 - (r + 1) * rh - r * gap;
    const scale = maxOf(s.image) > 1.0001 ? 1 : 255;
    const rgb = s.image.map((row) => row.map((px) => [0, 1, 2].map((c) => Math.round(Math.min(255, Math.max(0, px[c] * scale))))));
    for (let c = 0; c < cols; c++) {
      const idx = r * cols + c + 1;
      const sfx = idx === 1 ? '' : String(idx);
      const x0 = c * (cw + gap);
      layout['xaxis' + sfx] = { domain: [x0, x0 + cw], anchor: 'y' + sfx, visible: false, constrain: 'domain' };
      layout['yaxis' + sfx] = {
        domain: [y0, y0 + rh],
        anchor: 'x' + sfx,
        visible: false,
        autorange: 'reversed',
        scaleanchor: 'x' + sfx,
        constrain: 'domain',
      };
      const axes = { xaxis: 'x' + sfx, yaxis: 'y' + sfx };
      if (c === 0) {
        data.push({ type: 'image', z: rgb, hoverinfo: 'skip', ...axes });
      } else {
        const z = c === 1 ? s.truth : s.prediction;
        data.push({
          type: 'heatmap',
          z,
          zmin: -0.5,
          zmax: k - 0.5,
          colorscale,
          showscale: r === 0 && c === 2,
          colorbar:
            r === 0 && c === 2
              ? { tickvals: names.map((_, i) => i), ticktext: names, len: Math.min(1, 0.9), y: 1, yanchor: 'top', thickness: 14 }
              : undefined,
          hovertemplate: `%{z}<extra>${heads[c]}</extra>`,
          ...axes,
        });
      }
      if (r === 0) {
        layout.annotations.push({
          text: `<b>${heads[c]}</b>`,
          x: x0 + cw / 2,
          y: 1,
          xref: 'paper',
          yref: 'paper',
          xanchor: 'center',
          yanchor: 'bottom',
          showarrow: false,
        });
      }
    }
    if (s.title) {
      // "image · model" on two lines: rotated row labels longer than the row overlap their neighbours.
      const label = s.title.split(' · ').map(escapeLabel).join('<br>');
      layout.annotations.push({ text: label, x: 0, y: y0 + rh / 2, xref: 'paper', yref: 'paper', xanchor: 'right', yanchor: 'middle', xshift: -4, textangle: -90, font: { size: 12 }, showarrow: false });
    }
  });
  return { data, layout, config: { ...PLOT_CONFIG } };
}

function maxOf(img: number[][][]): number {
  let m = -Infinity;
  for (const row of img) for (const px of row) for (const v of px) if (v > m) m = v;
  return m;
}

/** Plotly annotation text is HTML-like: escape what would be read as markup. */
function escapeLabel(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** One inference engine in `inferenceComparison`: its test accuracy, stored size and throughput per batch size. */
export interface InferenceEngine {
  name: string;
  /** Fraction of test images classified correctly. */
  accuracy: number;
  /** Bytes of the stored model. */
  bytes: number;
  /** Images per second, keyed by a batch label such as "batch 1" or "batch 50". */
  imagesPerSec: Record<string, number>;
}

/**
 * Float model vs packed (XNOR-popcount) model side by side, three panels: test accuracy (should be equal),
 * model size (log scale, KiB) and throughput per batch size (images/s). Bars are labelled with their values;
 * the size and speed ratios against the first engine go into the hover text.
 */
export function inferenceComparison(engines: InferenceEngine[], opts: { title?: string } = {}): Figure {
  if (engines.length === 0) throw new Error('inferenceComparison: no engines');
  const colors = engines.map((_, i) => PALETTE[i % PALETTE.length]);
  const batches = [...new Set(engines.flatMap((e) => Object.keys(e.imagesPerSec)))];
  const ref = engines[0];
  const gap = 0.12;
  const w = (1 - 2 * gap) / 3;
  const dom = (i: number): [number, number] => [i * (w + gap), i * (w + gap) + w];
  const layout = baseLayout(opts.title, { width: PANEL_WIDTH, height: HEIGHT, barmode: 'group', hovermode: 'closest', showlegend: true });
  layout.legend = { orientation: 'h', x: 0.5, xanchor: 'center', y: -0.18, yanchor: 'top', bgcolor: 'rgba(255,255,255,0)' };
  layout.margin = { ...layout.margin, b: 90 };
  layout.xaxis = axisStyle('', { domain: dom(0), type: 'category', showticklabels: false, showgrid: false });
  layout.yaxis = axisStyle('Test accuracy', { tickformat: '.0%', rangemode: 'tozero' });
  layout.xaxis2 = axisStyle('', { domain: dom(1), type: 'category', showticklabels: false, showgrid: false, anchor: 'y2' });
  // decades only: plotly's default minor labels (2, 3, 4 …) crowd a short log axis
  layout.yaxis2 = axisStyle('Model size (KiB)', { type: 'log', anchor: 'x2', dtick: 1 });
  layout.xaxis3 = axisStyle('', { domain: dom(2), type: 'category', showgrid: false, anchor: 'y3' });
  layout.yaxis3 = axisStyle('Images / s', { anchor: 'x3', rangemode: 'tozero' });
  const panel = (text: string, i: number) => ({ text: `<b>${text}</b>`, x: (dom(i)[0] + dom(i)[1]) / 2, y: 1.02, xref: 'paper', yref: 'paper', xanchor: 'center', yanchor: 'bottom', showarrow: false });
  layout.annotations = [panel('Accuracy', 0), panel('Size', 1), panel('Throughput', 2)];
  const data: Trace[] = [];
  engines.forEach((e, i) => {
    const common = { type: 'bar', name: e.name, legendgroup: e.name, marker: { color: colors[i], line: { color: '#000', width: 1 } }, textposition: 'outside', cliponaxis: false, textfont: { size: 12 } };
    data.push({ ...common, x: [e.name], y: [e.accuracy], text: [`${(e.accuracy * 100).toFixed(2)} %`], hovertemplate: `${e.name}: %{y:.2%}<extra></extra>` });
    data.push({
      ...common,
      showlegend: false,
      xaxis: 'x2',
      yaxis: 'y2',
      x: [e.name],
      y: [e.bytes / 1024],
      text: [i === 0 ? `${(e.bytes / 1024).toFixed(0)} KiB` : `${(e.bytes / 1024).toFixed(1)} KiB<br>${(ref.bytes / e.bytes).toFixed(1)}× smaller`],
      hovertemplate: `${e.name}: %{y:.1f} KiB<extra></extra>`,
    });
    data.push({
      ...common,
      showlegend: false,
      xaxis: 'x3',
      yaxis: 'y3',
      x: batches,
      y: batches.map((b) => e.imagesPerSec[b] ?? null),
      text: batches.map((b) => {
        const v = e.imagesPerSec[b];
        if (v === undefined) return '';
        const r = ref.imagesPerSec[b];
        return i === 0 || !r ? v.toFixed(0) : `${v.toFixed(0)}<br>${(v / r).toFixed(1)}×`;
      }),
      hovertemplate: `${e.name}, %{x}: %{y:.1f} images/s<extra></extra>`,
    });
  });
  return { data, layout, config: { ...PLOT_CONFIG } };
}
