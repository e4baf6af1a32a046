/**
 * Minimal, dependency-free types for Plotly figure specs ({data, layout, config}) as produced by the
 * builders in this folder and consumed by showFigure (notebooks) and the exporter (npm run figures).
 * Kept loose on purpose: the full plotly.js types are large and not needed to build JSON specs.
 */
import type { History } from '../train/history';

/** One Plotly trace (scatter, bar, heatmap, image, ...): plain JSON. */
export type Trace = Record<string, any>;
/** A Plotly layout: plain JSON. */
export type Layout = Record<string, any>;

/** A Plotly figure spec: what `Plotly.newPlot(el, data, layout, config)` takes. */
export interface Figure {
  data: Trace[];
  layout: Layout;
  config?: Record<string, any>;
}

/** Optimizer family of a run; decides its colour (see style.ts). */
export type OptimizerKind = 'bop' | 'adam' | string;

/**
 * One run (experiment × profile) with the histories of all of its seeds.
 * `label` is the legend text; `optimizer` picks the colour when runs differ by optimizer.
 */
export interface RunSeries {
  label: string;
  optimizer?: OptimizerKind;
  /** Explicit colour (overrides the style's choice). */
  color?: string;
  /** One History per seed (may have different lengths; aggregation is per epoch). */
  histories: History[];
  /** Seeds matching `histories` (for hover text / tables). */
  seeds?: number[];
}
