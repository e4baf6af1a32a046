/**
 * The lab layer: what runs outside Node between the CLI and the experiments: the project-local Jupyter
 * environment and servers (./jupyter), headless Chromium (./chromium), figure export in a launched browser
 * (./export) and rendering executed notebooks in the classic Notebook (./render). It may import figures and
 * below; figures never import it.
 */
export * from './jupyter';
export * from './chromium';
export { FigureExporter, withExporter } from './export';
export * from './render';
