/**
 * Figures and tables for the reproduction. Notebooks import from here:
 *   import { accuracyCurves, showFigure } from './src/figures';
 * (Export to files lives in ./export and is not re-exported; launching Chromium for it is src/lab's.)
 */
export * from './types';
export * from './style';
export * from './aggregate';
export * from './builders';
export * from './summary';
export * from './segmentation';
export * from './inference';
export * from './load';
export * from './display';
export * from './tables';
export * from './build';
