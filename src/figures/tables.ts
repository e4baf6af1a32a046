/**
 * Summary tables of final accuracies: plain rows → danfojs DataFrame, CSV, Markdown and HTML; and the list of
 * runs the summary left out (interrupted, unfinalized, damaged: why, and the command that fixes each).
 *
 * danfojs is loaded lazily with require(): its package.json only has an `exports` map (no main/types),
 * which TypeScript's node10 resolution (tsconfig and tslab) ignores, so types come from the dist path
 * and the runtime module from Node's own resolution. Loading it takes ~1.5 s (it loads tfjs).
 */
import type { DataFrame } from 'danfojs/dist/danfojs-browser/src/index';
import { stats } from './aggregate';
import type { SummaryRow } from './summary';
import { escapeHtml } from './display';
import type { LeftOutRun } from './load';

type Danfo = typeof import('danfojs/dist/danfojs-browser/src/index');
let danfo: Danfo | null = null;
/** The danfojs module (`import * as dfd from 'danfojs'` equivalent that also type-checks under node10). */
export function dfd(): Danfo {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- danfojs is large: loaded on first use
  if (!danfo) danfo = require('danfojs') as Danfo;
  return danfo;
}

/** One line of the summary table (accuracies in percent, rounded to 2 decimals). */
export interface SummaryTableRow {
  run: string;
  optimizer: string;
  seeds: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  reported: number | null;
  /** mean − reported, in percentage points. */
  delta: number | null;
  source: string;
}

const pct = (v: number) => Math.round(v * 10000) / 100;

/** Summary rows (fractions) → table rows (percent). */
export function summaryTable(rows: SummaryRow[]): SummaryTableRow[] {
  return rows.map((r) => {
    const s = stats(r.values);
    const ok = s.n > 0;
    const rep = r.reported === null || r.reported === undefined ? null : pct(r.reported);
    const mean = ok ? pct(s.mean) : null;
    return {
      run: r.label,
      optimizer: r.optimizer ?? '',
      seeds: s.n,
      mean,
      min: ok ? pct(s.min) : null,
      max: ok ? pct(s.max) : null,
      reported: rep,
      delta: mean !== null && rep !== null ? Math.round((mean - rep) * 100) / 100 : null,
      source: r.reportedSource ?? '',
    };
  });
}

const HEADERS: [keyof SummaryTableRow, string][] = [
  ['run', 'Run'],
  ['optimizer', 'Optimizer'],
  ['seeds', 'Seeds'],
  ['mean', 'Mean acc. (%)'],
  ['min', 'Min (%)'],
  ['max', 'Max (%)'],
  ['reported', 'Reported (%)'],
  ['delta', 'Δ (pp)'],
  ['source', 'Source'],
];

/** Percentages with two decimals everywhere (a column mixing "-57" and "-62.30" reads as a typo); counts as integers. */
const cell = (v: unknown, key?: keyof SummaryTableRow) =>
  v === null || v === undefined ? '' : typeof v === 'number' ? (key === 'seeds' ? String(v) : v.toFixed(2)) : String(v);

/** A danfojs DataFrame of the table (for further analysis in notebooks). */
export function toDataFrame(rows: SummaryTableRow[]): DataFrame {
  const d = dfd();
  return new d.DataFrame(rows.map((r) => ({ ...r, mean: r.mean ?? NaN, min: r.min ?? NaN, max: r.max ?? NaN, reported: r.reported ?? NaN, delta: r.delta ?? NaN })));
}

/**
 * RFC 4180 CSV (header = field names, empty cell for missing numbers). Written here rather than with
 * `dfd.toCSV`, which does not quote fields containing commas or quotes.
 */
export function toCsv(rows: SummaryTableRow[]): string {
  const q = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const keys = HEADERS.map(([k]) => k);
  return [keys.join(','), ...rows.map((r) => keys.map((k) => q(r[k])).join(','))].join('\n') + '\n';
}

/** GitHub-flavoured Markdown table. */
export function toMarkdown(rows: SummaryTableRow[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [`| ${HEADERS.map(([, h]) => h).join(' | ')} |`, `|${HEADERS.map(([k]) => (k === 'run' || k === 'optimizer' || k === 'source' ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of rows) lines.push(`| ${HEADERS.map(([k]) => esc(cell(r[k], k))).join(' | ')} |`);
  return lines.join('\n') + '\n';
}

/** HTML table (for showHtml in notebooks). */
export function toHtml(rows: SummaryTableRow[], caption?: string): string {
  const th = HEADERS.map(([, h]) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${HEADERS.map(([k]) => `<td style="text-align:${typeof r[k] === 'number' ? 'right' : 'left'}">${escapeHtml(cell(r[k], k))}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table class="bnn-summary">${caption ? `<caption>${escapeHtml(caption)}</caption>` : ''}<thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const LEFT_HEADERS: [keyof LeftOutRun, string][] = [
  ['experiment', 'Experiment'],
  ['profile', 'Profile'],
  ['seed', 'Seed'],
  ['kind', 'State'],
  ['why', 'Why'],
  ['fix', 'Fix'],
];

/** The runs left out as RFC 4180 CSV (header = field names; the `dir` column last). */
export function leftOutCsv(rows: LeftOutRun[]): string {
  const q = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const keys = [...LEFT_HEADERS.map(([k]) => k), 'dir' as const];
  return [keys.join(','), ...rows.map((r) => keys.map((k) => q(r[k])).join(','))].join('\n') + '\n';
}

/** The runs left out as a Markdown section ("Runs left out"), or a line saying none was. */
export function leftOutMarkdown(rows: LeftOutRun[], profile: string): string {
  const title = `## Runs left out (${profile} profile)\n\n`;
  if (!rows.length) return `${title}None: every stored run is finished and agrees with its checkpoint.\n`;
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    'No number of these runs is in the table above or in a verdict:',
    '',
    `| ${LEFT_HEADERS.map(([, h]) => h).join(' | ')} |`,
    `|${LEFT_HEADERS.map(([k]) => (k === 'seed' ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map((r) => `| ${LEFT_HEADERS.map(([k]) => (k === 'fix' && r.fix ? `\`${esc(r.fix)}\`` : esc(String(r[k] ?? '')))).join(' | ')} |`),
  ];
  return title + lines.join('\n') + '\n';
}
