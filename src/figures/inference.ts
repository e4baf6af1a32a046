/**
 * The inference engines side by side: float against packed (XNOR-popcount) models, their accuracy, stored size and
 * throughput (src/inference's engine comparison, drawn in the summary notebook).
 */
import { axisStyle, baseLayout, HEIGHT, PALETTE, PANEL_WIDTH, PLOT_CONFIG } from './style';
import type { Figure, Trace } from './types';

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
