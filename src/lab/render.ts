/**
 * Opens executed notebooks in a real browser, the way a user sees them: starts the project's classic
 * Notebook server (the same command as `npm run lab -- --ui notebook`) on a free local port with a random
 * token, loads each notebook in headless Chromium, waits until every Plotly figure stored in the file has
 * been drawn, and saves a full-page screenshot.
 *
 * Used by `npm run notebooks -- --render` and by test/jupyter.test.ts. It answers the question the
 * notebook files alone cannot: do the figures render when the executed notebook is opened (trust, the
 * plotly loader, the /files/ handler)?
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { spawn, type ChildProcess } from 'child_process';
import { PLOTLY_MIME } from '../figures/display';
import { repoRoot } from '../util/paths';
import { launchChromium } from './chromium';
import { ensureJupyterDirs, jupyterEnv, labCommand } from './jupyter';

export interface RenderedNotebook {
  /** Path relative to the project root. */
  notebook: string;
  /** Plotly outputs stored in the file. */
  expected: number;
  /** Plotly figures drawn on the page (elements with an SVG plot). */
  drawn: number;
  /** The Notebook page says "Trusted" (executed copies are signed by `npm run notebooks`). */
  trusted: boolean;
  /** Full-page PNG, when a screenshot folder was given. */
  screenshot?: string;
  /** Errors shown by the page (uncaught exceptions), if any. */
  pageErrors: string[];
  ms: number;
}

/** Number of Plotly outputs (display_data with the plotly MIME type) in a notebook file. */
export function countPlotlyOutputs(file: string): number {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
  let n = 0;
  for (const c of nb.cells ?? [])
    for (const o of c.outputs ?? [])
      if ((o.output_type === 'display_data' || o.output_type === 'execute_result') && o.data?.[PLOTLY_MIME]) n++;
  return n;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface LabServer {
  base: string;
  token: string;
  close(): void;
}

/** Starts the classic Notebook server for the project on 127.0.0.1 and waits until it answers (≤ 30 s). */
export async function startNotebookServer(root = repoRoot()): Promise<LabServer> {
  const port = await freePort();
  const token = `t${process.pid}${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
  const env = jupyterEnv(root);
  ensureJupyterDirs(env);
  const { cmd, args } = labCommand(
    { ui: 'notebook', port, browser: false, printEnv: false, extra: [`--NotebookApp.token=${token}`] },
    root,
  );
  const srv: ChildProcess = spawn(cmd, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  srv.stdout!.on('data', (d) => (log += d));
  srv.stderr!.on('data', (d) => (log += d));
  const close = () => {
    try {
      process.kill(-srv.pid!, 'SIGTERM');
    } catch {
      /* already gone */
    }
  };
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 60; i++) {
    await new Promise((r) => setTimeout(r, 500));
    if (srv.exitCode !== null) break;
    if (
      await fetch(`${base}/api/status?token=${token}`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { base, token, close };
  }
  close();
  throw new Error(`the Notebook server (${cmd} ${args.join(' ')}) did not start:\n${log.slice(-2000)}`);
}

/**
 * Renders each notebook (paths inside the project root) on a served page and checks its figures.
 * `screenshotDir`: where to write <name>.png (full page). Figures not drawn within `timeoutMs` are
 * reported as such (drawn < expected), not thrown, so one broken notebook does not hide the others.
 */
export async function renderNotebooks(
  files: string[],
  opts: { screenshotDir?: string; timeoutMs?: number; root?: string; server?: LabServer } = {},
): Promise<RenderedNotebook[]> {
  const root = opts.root ?? repoRoot();
  for (const f of files) {
    const rel = path.relative(root, path.resolve(f));
    if (rel.startsWith('..') || path.isAbsolute(rel))
      throw new Error(`${f} is outside the project root ${root}; the Notebook server only serves files under it`);
    if (!fs.existsSync(f)) throw new Error(`${f} does not exist; execute it first (npm run notebooks)`);
  }
  if (opts.screenshotDir) fs.mkdirSync(opts.screenshotDir, { recursive: true });
  const browser = await launchChromium();
  let server: LabServer;
  try {
    server = opts.server ?? (await startNotebookServer(root));
  } catch (e) {
    await browser.close();
    throw e;
  }
  const out: RenderedNotebook[] = [];
  try {
    for (const f of files) {
      const t0 = Date.now();
      const rel = path.relative(root, path.resolve(f)).split(path.sep).join('/');
      const expected = countPlotlyOutputs(f);
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      await page.goto(`${server.base}/notebooks/${rel}?token=${server.token}`);
      await page.waitForSelector('#notebook-container .cell', { timeout: 30_000 });
      const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
      let drawn = 0;
      for (;;) {
        drawn = await page
          .locator('.js-plotly-plot .main-svg')
          .evaluateAll((els) => new Set(els.map((e) => e.closest('.js-plotly-plot'))).size);
        if (drawn >= expected || Date.now() > deadline) break;
        await page.waitForTimeout(250);
      }
      const trusted = /Trusted/.test(
        (await page
          .locator('#notification_trusted')
          .textContent()
          .catch(() => '')) ?? '',
      );
      let screenshot: string | undefined;
      if (opts.screenshotDir) {
        await page.waitForTimeout(300); // let the last plot finish its transition
        screenshot = path.join(opts.screenshotDir, `${path.basename(f, '.ipynb')}.png`);
        // The classic Notebook scrolls inside #site (sized to the window): grow the window to the whole notebook.
        // (a string expression: this file also compiles under tslab, whose lib has no DOM types)
        const height = Number(
          await page.evaluate(
            "(document.getElementById('header')?.offsetHeight ?? 0) + (document.getElementById('site')?.scrollHeight ?? document.body.scrollHeight)",
          ),
        );
        await page.setViewportSize({ width: 1280, height: Math.min(30_000, Math.max(900, height + 40)) });
        await page.waitForTimeout(500);
        await page.screenshot({ path: screenshot, fullPage: false });
      }
      out.push({ notebook: rel, expected, drawn, trusted, screenshot, pageErrors, ms: Date.now() - t0 });
      await page.context().close();
    }
  } finally {
    await browser.close();
    if (!opts.server) server.close();
  }
  return out;
}
