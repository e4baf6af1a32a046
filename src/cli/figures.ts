/**
 * npm run figures -- [name…] [--format png,svg,pdf,html] [--profile quick] [--out figures] [--results DIR] [--list]
 *
 * Builds every registry figure (src/experiments/figures.ts, from the catalog) from stored results
 * (results/<experiment>/<profile>/seed-<n>/history.json) and exports it with headless Chromium into
 * figures/<name>.<format>; the summary table is also written as figures/summary.csv and summary.md.
 * Figures whose experiments have no results for the profile are skipped with a message (an error when
 * named explicitly).
 */
import { sectionVerdicts, verdictMarkdown } from '../experiments/report';
import * as fs from 'fs';
import * as path from 'path';
import { EXPORT_FORMATS, type ExportFormat, writeHtml } from '../figures/export';
import { CHROMIUM_HELP, FigureExporter, findChromium } from '../lab/export';
import { repoRoot } from '../util/paths';
import { DEFAULT_PROFILE, envProfile } from '../util/env';
import { parseArgs, showValue, parseListOption, type ParsedArgs } from './args';
import { PROFILES } from '../experiments/registry';
import { REPORT_FIGURES, buildReportFigure, getReportFigure } from '../experiments/figures';
import { leftOutCsv, leftOutMarkdown, toCsv, toMarkdown } from '../figures/tables';
import { leftOutRuns } from '../figures/load';

const USAGE =
  'usage: npm run figures -- [name…] [--format png,svg,pdf,html] [--profile smoke|quick|paper|<profile>-<hash>] [--out DIR] [--results DIR] [--list]';

export interface FiguresArgs {
  names: string[];
  formats: ExportFormat[];
  profile: string;
  outDir: string;
  results?: string;
  list: boolean;
}

/** Parses the command line (throws with the usage on bad input; `--help` throws the usage). */
export function parseFiguresArgs(argv: string[], root = repoRoot()): FiguresArgs {
  let p: ParsedArgs;
  try {
    p = parseArgs(argv, { flags: ['list', 'help'], values: ['format', 'formats', 'profile', 'out', 'results'] });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE}`);
  }
  if (p.flags.has('help')) throw new Error(USAGE);
  const one = (k: string) => p.values.get(k)?.[0];
  if (p.values.has('format') && p.values.has('formats'))
    throw new Error(`--format and --formats are the same option; give it once\n${USAGE}`);
  try {
    const a: FiguresArgs = {
      names: p.positional,
      formats: ['png', 'svg', 'pdf'],
      profile:
        one('profile') !== undefined
          ? parseProfileFolder('--profile ', one('profile')!)
          : parseProfileFolder('BNN_PROFILE=', envProfile() ?? DEFAULT_PROFILE),
      outDir: path.join(root, 'figures'),
      list: p.flags.has('list'),
    };
    const formatKey = p.values.has('format') ? 'format' : 'formats';
    const formats = one(formatKey);
    if (formats !== undefined)
      a.formats = [
        ...new Set(
          parseListOption(
            formatKey,
            formats.toLowerCase(),
            (f) => exportFormat(formatKey, f),
            `formats (${EXPORT_FORMATS.join(', ')})`,
          ),
        ),
      ];
    for (const k of ['out', 'results']) if (one(k) === '') throw new Error(`--${k} "": needs a folder`);
    if (one('out') !== undefined) a.outDir = path.resolve(one('out')!);
    if (one('results') !== undefined) a.results = path.resolve(one('results')!);
    for (const n of a.names) getReportFigure(n); // throws listing the known names
    return a;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE}`);
  }
}

/** One export format of --format (`key` names the option as given). */
function exportFormat(key: string, raw: string): ExportFormat {
  if (!EXPORT_FORMATS.includes(raw as ExportFormat))
    throw new Error(`unknown format ${JSON.stringify(raw)} (--${key}; allowed: ${EXPORT_FORMATS.join(', ')})`);
  return raw as ExportFormat;
}

/**
 * A profile folder name (`what` names where it came from: '--profile ' or 'BNN_PROFILE='): a profile (smoke, quick, paper), or the folder of runs made with `--set` overrides,
 * `<profile>-<8 hex digits>` (src/results/paths.ts profileFolder). BNN_PROFILE is checked by the same rule.
 */
export function parseProfileFolder(what: string, raw: string): string {
  const m = /^([a-z]+)(?:-[0-9a-f]{8})?$/.exec(raw);
  if (!m || !(PROFILES as readonly string[]).includes(m[1])) {
    throw new Error(
      `${what}${showValue(raw)}: allowed: ${PROFILES.join(', ')}, or the folder of --set runs such as quick-1a2b3c4d`,
    );
  }
  return raw;
}

/** Exports the selected figures; returns the number of explicitly requested figures that could not be built. */
export async function exportFigures(
  a: FiguresArgs,
  log: (s: string) => void = console.log,
): Promise<{ written: string[]; skipped: string[]; failed: number }> {
  const names = a.names.length ? a.names : REPORT_FIGURES.map((f) => f.name);
  const ctx = { profile: a.profile, root: a.results };
  const built: { name: string; figure: any; table: any }[] = [];
  const skipped: string[] = [];
  let failed = 0;
  for (const name of names) {
    let r;
    try {
      r = buildReportFigure(name, ctx);
    } catch (e) {
      log(`✗ ${name}: ${(e as Error).message}`);
      failed++;
      continue;
    }
    if (!r.figure) {
      log(`– ${name}: skipped, no results for ${r.missing.join(', ')} (profile "${a.profile}")`);
      skipped.push(name);
      if (a.names.length) failed++;
      continue;
    }
    built.push({ name, figure: r.figure, table: r.table });
  }
  const written: string[] = [];
  fs.mkdirSync(a.outDir, { recursive: true });
  for (const b of built) {
    if (!b.table) continue;
    for (const [ext, text] of [
      ['csv', toCsv(b.table)],
      ['md', toMarkdown(b.table)],
    ] as const) {
      const file = path.join(a.outDir, `${b.name}.${ext}`);
      fs.writeFileSync(file, text);
      written.push(file);
    }
    if (b.name === 'summary') written.push(...writeVerdicts(a.outDir, a.profile, a.results));
  }
  if (names.includes('summary'))
    written.push(
      ...writeLeftOut(
        a,
        built.some((b) => b.name === 'summary'),
        log,
      ),
    );
  if (built.length && a.formats.length && a.formats.every((f) => f === 'html')) {
    for (const b of built) {
      written.push(writeHtml(b.figure, path.join(a.outDir, b.name)));
      log(`✓ ${b.name}: ${b.name}.html`);
    }
  } else if (built.length && a.formats.length) {
    if (!findChromium() && a.formats.some((f) => f !== 'html')) throw new Error(`Chromium not found. ${CHROMIUM_HELP}`);
    const exporter = await FigureExporter.launch();
    try {
      for (const b of built) {
        const files = await exporter.write(b.figure, path.join(a.outDir, b.name), a.formats);
        written.push(...files);
        log(`✓ ${b.name}: ${files.map((f) => path.basename(f)).join(', ')}`);
      }
    } finally {
      await exporter.close();
    }
  }
  return { written, skipped, failed };
}

/**
 * Lists the runs the summary left out (interrupted, unfinalized, damaged: why, and the command that fixes each)
 * in the log, in summary.md (appended; written when the summary had no run to show) and in summary-left-out.csv.
 */
function writeLeftOut(a: FiguresArgs, summaryWritten: boolean, log: (s: string) => void): string[] {
  const left = leftOutRuns(
    a.profile,
    a.results,
    getReportFigure('summary').runs.map((r) => r.experiment),
  );
  for (const r of left)
    log(
      `– summary leaves out ${r.experiment}/${r.profile}/seed-${r.seed}: ${r.kind}: ${r.why}${r.fix ? ` (fix: ${r.fix})` : ''}`,
    );
  if (!summaryWritten && !left.length) return [];
  const md = path.join(a.outDir, 'summary.md');
  if (summaryWritten) fs.appendFileSync(md, `\n\n${leftOutMarkdown(left, a.profile)}`);
  else
    fs.writeFileSync(
      md,
      `# Summary (${a.profile} profile)\n\nNo finished run to summarize.\n\n${leftOutMarkdown(left, a.profile)}`,
    );
  const csv = path.join(a.outDir, 'summary-left-out.csv');
  fs.writeFileSync(csv, leftOutCsv(left));
  return summaryWritten ? [csv] : [md, csv];
}

/** Appends the verdict per claim to summary.md and writes summary-verdicts.csv. */
function writeVerdicts(outDir: string, profile: string, root?: string): string[] {
  const verdicts = sectionVerdicts(profile, undefined, root ?? undefined);
  const md = path.join(outDir, 'summary.md');
  fs.appendFileSync(md, `\n\n## Verdicts per claim (${profile} profile)\n\n${verdictMarkdown(verdicts, profile)}\n`);
  const q = (x: string) => `"${x.replace(/"/g, '""')}"`;
  const csv = ['claim,section_claim,source,verdict,estimate,ci_low,ci_high,detail']
    .concat(
      verdicts.map((v) =>
        [
          v.claim.id,
          q(v.claim.text),
          q(`${v.claim.tag}: ${v.claim.source}`),
          v.verdict,
          v.estimate,
          v.interval?.[0] ?? '',
          v.interval?.[1] ?? '',
          q(v.detail),
        ].join(','),
      ),
    )
    .join('\n');
  const file = path.join(outDir, 'summary-verdicts.csv');
  fs.writeFileSync(file, csv + '\n');
  return [file];
}

async function main(): Promise<void> {
  const root = repoRoot();
  const a = parseFiguresArgs(process.argv.slice(2), root);
  if (a.list) {
    for (const f of REPORT_FIGURES)
      console.log(`${f.name.padEnd(24)} ${f.description}  [${f.runs.map((r) => r.experiment).join(', ')}]`);
    return;
  }
  const { written, skipped, failed } = await exportFigures(a);
  console.log(
    `${written.length} file(s) written to ${path.relative(root, a.outDir) || '.'}/; ${skipped.length} figure(s) skipped.`,
  );
  if (written.length === 0 && skipped.length)
    console.log('No stored results for this profile yet: run `npm run experiment` first, or pick another --profile.');
  if (failed) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 2;
  });
}
