/**
 * Static export of Plotly figure specs (PNG, SVG, PDF, standalone HTML), plotly.js loaded from
 * node_modules/plotly.js-dist-min (no network at all).
 *
 * - SVG: Plotly.toImage(format 'svg') of the figure at its layout size.
 * - PNG: Plotly.toImage(format 'png', scale = PNG_SCALE, i.e. ≈ 300 dpi at the default size).
 * - PDF: vector: the SVG is put on a page of exactly the figure's size and printed with page.pdf.
 * - HTML: a standalone page that loads ./plotly.min.js, copied once next to the exported files.
 *
 * The images are drawn on a browser page the caller provides (`PlotlyExporter.onPage`); launching headless
 * Chromium is src/lab's (`FigureExporter.launch` in src/lab/export.ts), so figures never start a browser.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { repoRoot } from '../util/paths';
import { HEIGHT, PNG_SCALE, WIDTH, PLOT_CONFIG } from './style';
import type { Figure } from './types';

export type ExportFormat = 'png' | 'svg' | 'pdf' | 'html';
export const EXPORT_FORMATS: ExportFormat[] = ['png', 'svg', 'pdf', 'html'];

/** Path of the plotly.js bundle in node_modules. */
export function plotlyBundlePath(): string {
  try {
    return require.resolve('plotly.js-dist-min/plotly.min.js');
  } catch {
    const p = path.join(repoRoot(), 'node_modules', 'plotly.js-dist-min', 'plotly.min.js');
    if (fs.existsSync(p)) return p;
    throw new Error('plotly.js-dist-min is not installed (node_modules/plotly.js-dist-min/plotly.min.js missing): run `npm install`.');
  }
}

function sizeOf(fig: Figure, opts: { width?: number; height?: number }) {
  return { width: Math.round(opts.width ?? fig.layout?.width ?? WIDTH), height: Math.round(opts.height ?? fig.layout?.height ?? HEIGHT) };
}

/** A standalone HTML page for a figure that loads plotly from `plotlySrc` (relative URL or path). */
export function standaloneHtml(fig: Figure, plotlySrc: string, title = 'figure'): string {
  const spec = JSON.stringify({ data: fig.data, layout: fig.layout, config: { ...PLOT_CONFIG, ...(fig.config ?? {}) } }).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${title.replace(/</g, '&lt;')}</title>
<script src="${plotlySrc}"></script></head>
<body style="margin:0;background:#fff">
<div id="plot"></div>
<script>var fig=${spec};Plotly.newPlot('plot',fig.data,fig.layout,fig.config);</script>
</body></html>
`;
}

/**
 * Writes `<outBase>.html` (no browser needed) and copies plotly.min.js once next to it, so the folder
 * works offline on its own. Returns the HTML path.
 */
export function writeHtml(fig: Figure, outBase: string): string {
  fs.mkdirSync(path.dirname(outBase), { recursive: true });
  const lib = path.join(path.dirname(outBase), 'plotly.min.js');
  if (!fs.existsSync(lib) || fs.statSync(lib).size !== fs.statSync(plotlyBundlePath()).size) fs.copyFileSync(plotlyBundlePath(), lib);
  const file = `${outBase}.html`;
  fs.writeFileSync(file, standaloneHtml(fig, 'plotly.min.js', path.basename(outBase)));
  return file;
}

/**
 * Draws figures with plotly on one browser page and turns them into SVG, PNG, PDF or files. The page comes
 * from the caller (`onPage`); src/lab's FigureExporter launches Chromium for it.
 */
export class PlotlyExporter {
  protected constructor(protected readonly page: Page) {}

  /**
   * Prepares `page` for exports: blocks every network request (everything is inline or read from disk), puts an
   * empty plot element on it and loads plotly.js from node_modules.
   */
  static async onPage(page: Page): Promise<PlotlyExporter> {
    await PlotlyExporter.preparePage(page);
    return new PlotlyExporter(page);
  }

  /** The page set-up of `onPage`, for subclasses. */
  protected static async preparePage(page: Page): Promise<void> {
    await page.route('**/*', (route) => (route.request().url().startsWith('data:') ? route.continue() : route.abort()));
    await page.setContent('<!DOCTYPE html><html><body style="margin:0;background:#fff"><div id="plot"></div></body></html>');
    await page.addScriptTag({ content: fs.readFileSync(plotlyBundlePath(), 'utf8') });
  }

  /** Renders `fig` to an SVG string. */
  async svg(fig: Figure, opts: { width?: number; height?: number } = {}): Promise<string> {
    const url = await this.toImage(fig, 'svg', sizeOf(fig, opts), 1);
    const comma = url.indexOf(',');
    const head = url.slice(0, comma);
    const body = url.slice(comma + 1);
    return head.includes(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
  }

  /** Renders `fig` to PNG bytes (`scale` × layout size pixels). */
  async png(fig: Figure, opts: { width?: number; height?: number; scale?: number } = {}): Promise<Buffer> {
    const url = await this.toImage(fig, 'png', sizeOf(fig, opts), opts.scale ?? PNG_SCALE);
    return Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
  }

  /** Renders `fig` to a one-page vector PDF of exactly the figure's size. */
  async pdf(fig: Figure, opts: { width?: number; height?: number } = {}): Promise<Buffer> {
    const size = sizeOf(fig, opts);
    const svg = await this.svg(fig, size);
    const ctx = this.page.context();
    const p = await ctx.newPage();
    try {
      await p.setContent(
        `<!DOCTYPE html><html><head><style>@page{size:${size.width}px ${size.height}px;margin:0}html,body{margin:0;padding:0;background:#fff}svg{display:block}</style></head><body>${svg}</body></html>`,
      );
      const buf = await p.pdf({ width: `${size.width}px`, height: `${size.height}px`, printBackground: true, pageRanges: '1', margin: { top: '0', right: '0', bottom: '0', left: '0' } });
      return Buffer.from(buf);
    } finally {
      await p.close();
    }
  }

  /**
   * Writes `fig` as `<outBase>.<format>` for every format; returns the written paths. For HTML, copies
   * plotly.min.js once next to the files so the folder works offline on its own.
   */
  async write(fig: Figure, outBase: string, formats: ExportFormat[], opts: { width?: number; height?: number; scale?: number } = {}): Promise<string[]> {
    fs.mkdirSync(path.dirname(outBase), { recursive: true });
    const written: string[] = [];
    for (const f of formats) {
      const file = `${outBase}.${f}`;
      if (f === 'svg') fs.writeFileSync(file, await this.svg(fig, opts));
      else if (f === 'png') fs.writeFileSync(file, await this.png(fig, opts));
      else if (f === 'pdf') fs.writeFileSync(file, await this.pdf(fig, opts));
      else if (f === 'html') writeHtml(fig, outBase);
      else throw new Error(`unknown export format "${f}" (use ${EXPORT_FORMATS.join(', ')})`);
      written.push(file);
    }
    return written;
  }

  private async toImage(fig: Figure, format: 'svg' | 'png', size: { width: number; height: number }, scale: number): Promise<string> {
    const spec = { data: fig.data, layout: { ...fig.layout, width: size.width, height: size.height } };
    return this.page.evaluate(
      async ({ spec, format, size, scale }) => {
        // globalThis, not window/document: this file must also type-check in tslab, whose lib has no DOM.
        const g = globalThis as any;
        const P = g.Plotly;
        const el = g.document.getElementById('plot');
        await P.newPlot(el, spec.data, spec.layout, { staticPlot: true });
        const url: string = await P.toImage(el, { format, width: size.width, height: size.height, scale });
        P.purge(el);
        return url;
      },
      { spec, format, size, scale },
    );
  }
}
