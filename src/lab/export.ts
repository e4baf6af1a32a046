/**
 * Figure export with a launched headless Chromium: src/figures/export.ts draws on a page (PlotlyExporter),
 * this module owns the browser it draws in.
 *
 *   const e = await FigureExporter.launch();   // throws with install help when Chromium is missing
 *   try { await e.write(fig, 'figures/fig1', ['png', 'pdf']); } finally { await e.close(); }
 */
import type { Browser, Page } from 'playwright-core';
import { PlotlyExporter } from '../figures/export';
import { launchChromium } from './chromium';

export { CHROMIUM_ARGS, CHROMIUM_HELP, findChromium, launchChromium } from './chromium';

/** A PlotlyExporter on its own headless Chromium, reused for many exports. Always `close()` it (or use `withExporter`). */
export class FigureExporter extends PlotlyExporter {
  private constructor(
    page: Page,
    private readonly browser: Browser,
  ) {
    super(page);
  }

  /** Launches Chromium (throws an Error with install instructions when it is missing) and prepares a page. */
  static async launch(opts: { executablePath?: string } = {}): Promise<FigureExporter> {
    const browser = await launchChromium(opts);
    try {
      const page = await (await browser.newContext()).newPage();
      await PlotlyExporter.preparePage(page);
      return new FigureExporter(page, browser);
    } catch (e) {
      await browser.close();
      throw e;
    }
  }

  /** Closes the browser. */
  async close(): Promise<void> {
    await this.browser.close();
  }
}

/** Runs `fn` with a launched exporter and closes it afterwards. */
export async function withExporter<T>(
  fn: (e: FigureExporter) => Promise<T>,
  opts: { executablePath?: string } = {},
): Promise<T> {
  const e = await FigureExporter.launch(opts);
  try {
    return await fn(e);
  } finally {
    await e.close();
  }
}
