/**
 * One consistent, print-ready style for every figure of the reproduction.
 *
 * - Font: Arial-like sans serif (falls back to Liberation Sans / DejaVu Sans, the fonts Debian ships).
 * - Size: 640 × 400 px per single-panel figure (≈ 6.4 × 4 in at 100 px/in); PNG export uses scale 3 (≈ 300 dpi).
 * - Colours: Okabe–Ito colour-blind-safe palette. Bop is always blue, the Adam (latent-weight) baseline
 *   always vermillion; other optimizers / runs take the remaining palette colours in order.
 * - Seeds: mean line with a translucent min–max band (see aggregate.ts).
 * - Train curves are dashed, validation/test curves solid.
 */
import type { Layout } from './types';

export const FONT_FAMILY = 'Arial, "Liberation Sans", "DejaVu Sans", Helvetica, sans-serif';
export const FONT_SIZE = 14;
export const WIDTH = 640;
export const HEIGHT = 400;
/** Width of two-panel figures (train | validation), under a classic Notebook output's ~940 px. */
export const PANEL_WIDTH = 900;
/** PNG export scale (pixels per CSS pixel). */
export const PNG_SCALE = 3;

/** Okabe & Ito (2008) palette, colour-blind safe. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

/** Fixed colour per optimizer family. */
export const OPTIMIZER_COLORS: Record<string, string> = {
  bop: '#0072B2',
  adam: '#D55E00',
  baseline: '#D55E00',
};

/** Colours not reserved for bop/adam, for "others" and for sweeps within one optimizer. */
export const OTHER_COLORS = PALETTE.filter((c) => c !== OPTIMIZER_COLORS.bop && c !== OPTIMIZER_COLORS.adam);

/** Sequential colours (viridis samples) for ordered series such as the layers of a network. */
export function sequentialColors(n: number): string[] {
  const stops = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];
  if (n <= 1) return [stops[3]];
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(stops[Math.round((i * (stops.length - 1)) / (n - 1))]);
  return out;
}

/** `#rrggbb` → `rgba(r,g,b,alpha)` (for min–max bands). */
export function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  return `rgba(${parseInt(m[1], 16)},${parseInt(m[2], 16)},${parseInt(m[3], 16)},${alpha})`;
}

export const BAND_ALPHA = 0.18;
export const LINE_WIDTH = 2;

/** Common axis style. */
export function axisStyle(title: string, extra: Record<string, any> = {}): Record<string, any> {
  return {
    title: { text: title, standoff: 8 },
    showline: true,
    linecolor: '#000',
    linewidth: 1,
    mirror: true,
    ticks: 'outside',
    tickcolor: '#000',
    showgrid: true,
    gridcolor: '#e5e5e5',
    zeroline: false,
    automargin: true,
    ...extra,
  };
}

/** Base layout every builder starts from. */
export function baseLayout(title?: string, extra: Layout = {}): Layout {
  return {
    width: WIDTH,
    height: HEIGHT,
    font: { family: FONT_FAMILY, size: FONT_SIZE, color: '#000' },
    title: title ? { text: title, x: 0.5, xanchor: 'center', font: { size: FONT_SIZE + 2 } } : undefined,
    paper_bgcolor: '#fff',
    plot_bgcolor: '#fff',
    margin: { l: 70, r: 20, t: title ? 50 : 20, b: 60 },
    legend: { bgcolor: 'rgba(255,255,255,0.8)', bordercolor: '#999', borderwidth: 1, font: { size: FONT_SIZE - 2 } },
    hovermode: 'x unified',
    ...extra,
  };
}

/** Plotly config used in notebooks and HTML exports (no logo, PNG download at print scale). */
export const PLOT_CONFIG = {
  displaylogo: false,
  responsive: false,
  toImageButtonOptions: { format: 'png', scale: PNG_SCALE },
};
