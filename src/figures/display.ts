/**
 * Showing figures and tables in notebooks (tslab kernel), without embedding the 4.8 MB plotly bundle.
 *
 * showFigure(fig) emits ONE display_data output with three representations:
 * - `application/vnd.plotly.v1+json`: the figure JSON; JupyterLab renders it natively when the plotly
 *   renderer extension is installed (it ships with the `plotly` Python package);
 * - `text/html`: a <div> plus a small script that loads plotly.min.js from the project's node_modules
 *   through the notebook server's /files/ handler (no network), via requirejs in classic Notebook and a
 *   <script> tag elsewhere, then draws the figure; classic Notebook runs it for live outputs and for
 *   trusted notebooks (`npm run notebooks` signs executed copies);
 * - `text/plain`: a one-line description (nbviewer / terminals).
 * Each output is the figure JSON twice (a few kB for curves), never the plotly bundle.
 *
 * Outside a tslab kernel (tsx scripts, tests) the functions print a text summary instead of failing.
 */
import type { Figure } from './types';
import { PLOT_CONFIG } from './style';

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
/** Path of the plotly bundle relative to the project root, served by Jupyter at <base>/files/<path>. */
export const PLOTLY_REL_PATH = 'node_modules/plotly.js-dist-min/plotly.min.js';

type Bundle = Record<string, any>;
type WriteDisplayData = (data: { data: Bundle; metadata: Record<string, any>; transient?: Record<string, any> }, update: boolean) => void;

/**
 * The kernel's display writer, or null outside a tslab kernel. tslab's public `display.raw` sends a
 * single MIME type per output; to send a MIME bundle we use the same hook it uses (jupyter.lastWriteDisplayData),
 * found in the already-loaded tslab module (never loaded here, so no zeromq outside a kernel).
 */
function kernelWriter(): WriteDisplayData | null {
  for (const key of Object.keys(require.cache)) {
    if (/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(key)) {
      const w = (require.cache[key]?.exports as any)?.lastWriteDisplayData;
      if (typeof w === 'function') return w;
    }
  }
  return null;
}

/** True when running inside a tslab kernel that can display rich output. */
export function inKernel(): boolean {
  return kernelWriter() !== null;
}

/** Sends a MIME bundle as display_data (or update_display_data for an existing `displayId`). */
export function displayBundle(bundle: Bundle, opts: { displayId?: string; update?: boolean; metadata?: Record<string, any> } = {}): boolean {
  const w = kernelWriter();
  if (!w) {
    const text = bundle['text/plain'];
    if (typeof text === 'string') console.log(text);
    return false;
  }
  w({ data: bundle, metadata: opts.metadata ?? {}, transient: opts.displayId ? { display_id: opts.displayId } : {} }, !!opts.update);
  return true;
}

let counter = 0;
function newId(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** JSON safe to put inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Escapes text for HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The loader shared by every figure on a page: resolves the notebook server's base URL and the
 * notebook's folder from the page, then tries <base>files/<dir>/node_modules/plotly.js-dist-min/plotly.min.js
 * for the server root and each ancestor folder of the notebook (project root first), once per page.
 */
const LOADER_JS = `
function bnnLoadPlotly(rel){
  var w=window; if(w.Plotly&&w.Plotly.newPlot) return Promise.resolve(w.Plotly);
  if(w.__bnnPlotly) return w.__bnnPlotly;
  var base='/';
  try{var b=document.body&&document.body.getAttribute('data-base-url'); if(b) base=b;}catch(e){}
  try{var c=document.getElementById('jupyter-config-data'); if(c){var j=JSON.parse(c.textContent); if(j.baseUrl) base=j.baseUrl;}}catch(e){}
  if(base.charAt(base.length-1)!=='/') base+='/';
  var p=decodeURIComponent(location.pathname), m=p.match(/\\/(?:notebooks|lab\\/tree|doc\\/tree|tree|files|edit|view)\\/(.*)$/);
  var dirs=[''];
  if(m){var parts=m[1].split('/'); parts.pop(); var acc=[]; for(var i=0;i<parts.length;i++){acc.push(parts[i]); dirs.push(acc.join('/'));}}
  var urls=dirs.map(function(d){return base+'files/'+(d?d.split('/').map(encodeURIComponent).join('/')+'/':'')+rel;});
  function one(url,k){return new Promise(function(ok,ko){
    if(typeof w.requirejs==='function'&&w.requirejs.config){
      var name='bnn-plotly-'+k, paths={}; paths[name]=url.replace(/\\.js$/,'');
      w.requirejs.config({paths:paths}); w.requirejs([name],function(P){ok(P||w.Plotly);},function(e){try{w.requirejs.undef(name);}catch(_){} ko(e);});
    } else {
      var s=document.createElement('script'); s.src=url; s.onload=function(){ok(w.Plotly);}; s.onerror=ko; document.head.appendChild(s);
    }
  });}
  w.__bnnPlotly=urls.reduce(function(pr,url,k){return pr.catch(function(){return one(url,k);});},Promise.reject(new Error('start')))
    .then(function(P){if(!P||!P.newPlot) throw new Error('plotly loaded but not usable'); w.Plotly=w.Plotly||P; return P;});
  w.__bnnPlotly.catch(function(){w.__bnnPlotly=null;});
  return w.__bnnPlotly;
}`;

/**
 * HTML (div + script) that draws `fig` with plotly.js loaded from the project's node_modules through the
 * notebook server (see LOADER_JS); on failure it writes a visible hint into the div.
 */
export function figureHtml(fig: Figure, opts: { id?: string; plotlyRelPath?: string } = {}): string {
  const id = opts.id ?? newId('bnn-plot');
  const w = fig.layout?.width;
  const h = fig.layout?.height;
  const style = `${w ? `width:${w}px;` : ''}${h ? `height:${h}px;` : ''}max-width:100%;overflow-x:auto;`;
  const spec = { data: fig.data, layout: fig.layout, config: { ...PLOT_CONFIG, ...(fig.config ?? {}) } };
  return (
    `<div id="${id}" class="bnn-plotly" style="${style}"></div>\n` +
    `<script type="text/javascript">(function(){${LOADER_JS}\n` +
    `var el=document.getElementById(${JSON.stringify(id)}); if(!el) return; var fig=${scriptJson(spec)};\n` +
    `bnnLoadPlotly(${JSON.stringify(opts.plotlyRelPath ?? PLOTLY_REL_PATH)}).then(function(P){P.newPlot(el,fig.data,fig.layout,fig.config);})` +
    `.catch(function(e){el.style.height='auto'; el.textContent='Could not load plotly.js from the project (node_modules/plotly.js-dist-min): start Jupyter with \`npm run lab\` (server root = project root) and run \`npm install\`. '+(e&&e.message?e.message:'');});` +
    `})();</script>`
  );
}

/** Text description of a figure (text/plain representation). */
export function figureText(fig: Figure): string {
  const t = fig.layout?.title;
  const title = typeof t === 'string' ? t : t?.text;
  const names = fig.data.filter((d) => d.showlegend !== false && d.name).map((d) => d.name);
  return `<Plotly figure${title ? ` "${title}"` : ''}: ${fig.data.length} traces${names.length ? ` (${[...new Set(names)].slice(0, 8).join(', ')})` : ''}>`;
}

/** The MIME bundle for a figure. */
export function figureBundle(fig: Figure, id?: string): Bundle {
  return {
    [PLOTLY_MIME]: { data: fig.data, layout: fig.layout, config: { ...PLOT_CONFIG, ...(fig.config ?? {}) } },
    'text/html': figureHtml(fig, { id }),
    'text/plain': figureText(fig),
  };
}

/**
 * Displays a Plotly figure spec in the notebook (see the file comment for how it renders). Outside a
 * kernel it prints the figure's one-line description. Returns nothing, so that a trailing
 * `showFigure(fig)` prints no value in tslab.
 */
export function showFigure(fig: Figure): void {
  displayBundle(figureBundle(fig));
}

/** Displays HTML (e.g. a table from tables.ts); `text` is the plain-text fallback. */
export function showHtml(html: string, text = '<HTML>'): void {
  displayBundle({ 'text/html': html, 'text/plain': text });
}

/** Displays Markdown. */
export function showMarkdown(md: string): void {
  displayBundle({ 'text/markdown': md, 'text/plain': md });
}

/** A display slot whose content is replaced in place (Jupyter update_display_data). */
export interface LiveChart {
  /** Replaces the chart with `fig` (cheap for small figures; call once per epoch). */
  update(fig: Figure): void;
  /** Replaces the chart with a text/HTML line (e.g. progress). */
  text(line: string): void;
  readonly id: string;
}

/**
 * A chart that is redrawn in place, e.g. once per epoch during training:
 *
 *   const chart = liveChart();
 *   onEpoch: (h) => chart.update(accuracyCurves([{ label: 'bop', histories: [h] }]))
 *
 * Outside a kernel each update prints one progress line (the figure's description) instead.
 */
export function liveChart(): LiveChart {
  const id = newId('bnn-live');
  let shown = false;
  const send = (bundle: Bundle) => {
    displayBundle(bundle, { displayId: id, update: shown });
    shown = true;
  };
  return {
    id,
    update(fig: Figure) {
      send(figureBundle(fig, `${id}-plot`));
    },
    text(line: string) {
      send({ 'text/html': `<pre>${escapeHtml(line)}</pre>`, 'text/plain': line });
    },
  };
}
