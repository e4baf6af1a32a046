/**
 * The segmentation grid: test images, their ground-truth trimaps and a model's predicted masks, one row per sample
 * (report §4.5). A pure function of the samples, like every builder of this folder.
 */
import { baseLayout, PLOT_CONFIG } from './style';
import type { Figure, Layout, Trace } from './types';

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

const COLUMNS = ['Image', 'Ground truth', 'Prediction'];
const GAP = 0.03;

/** What every cell of one grid shares: its class count, discrete colour scale and class names, the cell sizes in paper coordinates. */
interface GridShape {
  k: number;
  colorscale: [number, string][];
  names: string[];
  /** Width of a column and height of a row, as fractions of the plotting area. */
  cw: number;
  rh: number;
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

/** A paper-coordinate annotation with no arrow. */
const note = (text: string, x: number, y: number, extra: Record<string, unknown> = {}) => ({ text, x, y, xref: 'paper', yref: 'paper', showarrow: false, ...extra });

/** The class count (the names given, or the largest class id + 1) and a discrete colour scale with one band per class. */
function gridShape(samples: SegmentationSample[], classNames: string[] | undefined): GridShape {
  let maxClass = 0;
  for (const s of samples) for (const m of [s.truth, s.prediction]) for (const row of m) for (const v of row) if (v > maxClass) maxClass = v;
  const k = Math.max(classNames?.length ?? 0, maxClass + 1);
  const colorscale: [number, string][] = [];
  for (let i = 0; i < k; i++) {
    const c = SEGMENTATION_COLORS[i % SEGMENTATION_COLORS.length];
    colorscale.push([i / k, c], [(i + 1) / k, c]);
  }
  const rows = samples.length;
  return {
    k,
    colorscale,
    names: classNames ?? Array.from({ length: k }, (_, i) => `class ${i}`),
    cw: (1 - GAP * (COLUMNS.length - 1)) / COLUMNS.length,
    rh: (1 - GAP * (rows - 1)) / rows,
  };
}

/** The traces and axes of row `r`: the image (scaled to 0–255), the truth and the prediction as heatmaps; the colour bar on the first row. */
function sampleRow(s: SegmentationSample, r: number, g: GridShape, layout: Layout): Trace[] {
  const y0 = 1 - (r + 1) * g.rh - r * GAP;
  const scale = maxOf(s.image) > 1.0001 ? 1 : 255;
  const rgb = s.image.map((row) => row.map((px) => [0, 1, 2].map((c) => Math.round(Math.min(255, Math.max(0, px[c] * scale))))));
  const data: Trace[] = [];
  COLUMNS.forEach((head, c) => {
    const idx = r * COLUMNS.length + c + 1;
    const sfx = idx === 1 ? '' : String(idx);
    const x0 = c * (g.cw + GAP);
    layout['xaxis' + sfx] = { domain: [x0, x0 + g.cw], anchor: 'y' + sfx, visible: false, constrain: 'domain' };
    layout['yaxis' + sfx] = { domain: [y0, y0 + g.rh], anchor: 'x' + sfx, visible: false, autorange: 'reversed', scaleanchor: 'x' + sfx, constrain: 'domain' };
    const axes = { xaxis: 'x' + sfx, yaxis: 'y' + sfx };
    if (c === 0) data.push({ type: 'image', z: rgb, hoverinfo: 'skip', ...axes });
    else {
      const bar = r === 0 && c === 2;
      data.push({
        type: 'heatmap',
        z: c === 1 ? s.truth : s.prediction,
        zmin: -0.5,
        zmax: g.k - 0.5,
        colorscale: g.colorscale,
        showscale: bar,
        colorbar: bar ? { tickvals: g.names.map((_, i) => i), ticktext: g.names, len: 0.9, y: 1, yanchor: 'top', thickness: 14 } : undefined,
        hovertemplate: `%{z}<extra>${head}</extra>`,
        ...axes,
      });
    }
    if (r === 0) layout.annotations.push(note(`<b>${head}</b>`, x0 + g.cw / 2, 1, { xanchor: 'center', yanchor: 'bottom' }));
  });
  // "image · model" on two lines: rotated row labels longer than the row overlap their neighbours.
  if (s.title) layout.annotations.push(note(s.title.split(' · ').map(escapeLabel).join('<br>'), 0, y0 + g.rh / 2, { xanchor: 'right', yanchor: 'middle', xshift: -4, textangle: -90, font: { size: 12 } }));
  return data;
}

/**
 * Grid of segmentation predictions: one row per sample, columns image | ground truth | prediction
 * (masks as discrete-colour heatmaps with square pixels, y axis pointing down like the image).
 */
export function segmentationGrid(samples: SegmentationSample[], opts: { title?: string; classNames?: string[]; cell?: number } = {}): Figure {
  if (samples.length === 0) throw new Error('segmentationGrid: no samples given');
  const g = gridShape(samples, opts.classNames);
  const cell = opts.cell ?? 180;
  const top = opts.title ? 60 : 30;
  // room for the rotated row labels (up to two lines) left of the first column
  const left = samples.some((s) => s.title) ? 60 : 20;
  const layout = baseLayout(opts.title, {
    width: COLUMNS.length * cell + 140 + left,
    height: samples.length * cell + top + 20,
    margin: { l: left, r: 140, t: top, b: 20 },
    hovermode: 'closest',
    showlegend: false,
    annotations: [] as Record<string, unknown>[],
  });
  const data = samples.flatMap((s, r) => sampleRow(s, r, g, layout));
  return { data, layout, config: { ...PLOT_CONFIG } };
}
