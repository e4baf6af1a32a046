/**
 * The history files of a run folder: history.json (the `EpochRecord[]` of src/train/history, as JSON) and
 * history.csv (one row per epoch: the fixed fields, then `flip_<layer>` and the extra metrics as columns).
 * Reading checks the schema; writing is atomic; `historyStaleness` compares them with the checkpoint's history
 * (the authority).
 */
import * as fs from 'fs';
import type { EpochRecord, History } from '../train/history';
import { atomicWrite, atomicWriteJson } from '../util/fs';
import { runPaths } from './paths';

const REQUIRED_NUMBERS: (keyof EpochRecord)[] = ['epoch', 'accuracy', 'valAccuracy'];

/**
 * The first number in `v` that is not finite (±Infinity: what `1e999` parses to; JSON holds no NaN), as the
 * path to it (`valAccuracy`, `extra.testAccuracy`, …) and its value, or null when every number is finite.
 */
export function firstNonFiniteField(v: unknown, at = ''): { field: string; value: number } | null {
  if (typeof v === 'number') return Number.isFinite(v) ? null : { field: at, value: v };
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = firstNonFiniteField(v[i], at ? `${at}[${i}]` : `[${i}]`);
      if (r) return r;
    }
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const r = firstNonFiniteField(x, at ? `${at}.${k}` : k);
      if (r) return r;
    }
  }
  return null;
}

/**
 * Parses and checks a history.json: an array of objects with numeric epoch/accuracy/valAccuracy and no
 * non-finite number anywhere (a `1e999` is damage, never a value); other fields are passed through; missing
 * flipRatio becomes {}, missing gamma/threshold null. Throws an error naming the file, the record and the
 * field; `fix` (a sentence naming the command that rewrites the file) is appended when given.
 */
export function parseHistory(text: string, file: string, fix?: string): History {
  const tail = fix ? ` ${fix}` : '';
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}).${tail || ' Re-run the experiment with --repair (or delete the file)'}`);
  }
  if (!Array.isArray(raw)) throw new Error(`${file}: expected a JSON array of epoch records (EpochRecord[]), got ${typeof raw}.${tail}`);
  return raw.map((r, i) => {
    if (r === null || typeof r !== 'object') throw new Error(`${file}: record ${i} is not an object.${tail}`);
    for (const k of REQUIRED_NUMBERS) {
      if (typeof (r as any)[k] !== 'number') {
        throw new Error(`${file}: record ${i} has no numeric "${String(k)}" (got ${JSON.stringify((r as any)[k])}); is this an EpochRecord[] history?${tail}`);
      }
    }
    const bad = firstNonFiniteField(r);
    if (bad) throw new Error(`${file}: record ${i} (epoch ${(r as any).epoch}) holds ${bad.value} in "${bad.field}"; a non-finite value is damage, not a result.${tail}`);
    const rec = r as EpochRecord;
    return { ...rec, flipRatio: rec.flipRatio ?? {}, gamma: rec.gamma ?? null, threshold: rec.threshold ?? null };
  });
}

/** Reads and checks a history file (see `parseHistory`); a missing file is an error naming it. */
export function readHistoryFile(file: string, fix?: string): History {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${file}: no such history file`);
    throw new Error(`${file}: cannot be read (${(e as Error).message})`);
  }
  return parseHistory(text, file, fix);
}

/** The history of run folder `dir` (checked), or null when it has no history.json yet. */
export function readRunHistory(dir: string, fix?: string): History | null {
  const file = runPaths(dir).historyJson;
  return fs.existsSync(file) ? readHistoryFile(file, fix) : null;
}

/** history.csv: one row per epoch; flip ratios (`flip_<layer>`) and extra metrics as columns; null as empty. */
export function historyCsv(history: History): string {
  const flipKeys = [...new Set(history.flatMap((r) => Object.keys(r.flipRatio ?? {})))];
  const extraKeys = [...new Set(history.flatMap((r) => Object.keys(r.extra ?? {})))];
  const head = ['epoch', 'step', 'loss', 'accuracy', 'valLoss', 'valAccuracy', 'gamma', 'threshold', 'lr', 'seconds', ...flipKeys.map((k) => `flip_${k}`), ...extraKeys];
  const rows = history.map((r) =>
    [r.epoch, r.step, r.loss, r.accuracy, r.valLoss, r.valAccuracy, r.gamma ?? '', r.threshold ?? '', r.lr, r.seconds, ...flipKeys.map((k) => r.flipRatio?.[k] ?? ''), ...extraKeys.map((k) => r.extra?.[k] ?? '')].join(','),
  );
  return [head.join(','), ...rows].join('\n') + '\n';
}

/**
 * `history` as it reads back from JSON (NaN and ±Infinity become null): what the checkpoint stores, so both
 * history files are written from exactly what a rebuild from the checkpoint would write.
 */
export function asStored(history: History): History {
  return JSON.parse(JSON.stringify(history)) as History;
}

/** Writes history.json and history.csv of run folder `dir`, each atomically, from the history as stored (`asStored`). */
export function writeHistoryFiles(dir: string, history: History): void {
  const p = runPaths(dir);
  const h = asStored(history);
  atomicWriteJson(p.historyJson, h);
  atomicWrite(p.historyCsv, historyCsv(h));
}

/** Deep equality of JSON values, object keys in any order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => sameJson(x, (b as unknown[])[i]));
  const ka = Object.keys(a).filter((k) => (a as any)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as any)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameJson((a as any)[k], (b as any)[k]));
}

/** One derived file of a run folder that does not match its checkpoint: the file and why (one line). */
export interface FileProblem {
  file: string;
  why: string;
}

/** The text of `file`, or why it cannot be had: missing, or unreadable (the error). */
function readOrWhy(file: string): { text: string } | { why: string } {
  try {
    return { text: fs.readFileSync(file, 'utf8') };
  } catch (e) {
    return { why: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be read (${(e as Error).message})` };
  }
}

/**
 * What is wrong with history.json and history.csv of run folder `dir` against `history` (the checkpoint's):
 * missing, not JSON, a non-finite value, a different number of epochs, a record or a CSV row that differs. [] when
 * both equal what `writeHistoryFiles(dir, history)` writes.
 */
export function historyProblems(dir: string, history: History): FileProblem[] {
  const { historyJson: hf, historyCsv: cf } = runPaths(dir);
  const stored = asStored(history);
  const out: FileProblem[] = [];
  const json = ((): string | null => {
    const r = readOrWhy(hf);
    if ('why' in r) return r.why;
    const text = r.text;
    let parsed: any;
    try {
      parsed = JSON.parse(text);
    } catch {
      return 'is not valid JSON (truncated or damaged)';
    }
    if (!Array.isArray(parsed)) return 'is not an array of epoch records';
    const bad = firstNonFiniteField(parsed);
    if (bad) return `holds ${bad.value} at ${bad.field} (a non-finite value is damage)`;
    if (parsed.length !== stored.length) return `has ${parsed.length} epochs, the checkpoint ${stored.length}`;
    const i = parsed.findIndex((r, k) => !sameJson(r, stored[k]));
    if (i >= 0) {
      const key = Object.keys({ ...stored[i], ...(parsed[i] as object) }).find((k) => !sameJson((parsed[i] as any)?.[k], (stored[i] as any)[k]));
      return `differs from the history in the checkpoint at epoch ${stored[i].epoch}${key ? ` ("${key}")` : ''}`;
    }
    return null;
  })();
  if (json) out.push({ file: hf, why: `${hf} ${json}` });
  const csv = ((): string | null => {
    const r = readOrWhy(cf);
    if ('why' in r) return r.why;
    const text = r.text;
    const want = historyCsv(stored);
    if (text === want) return null;
    const got = text.split('\n');
    const exp = want.split('\n');
    const rows = got.filter((l) => l.length).length - 1;
    if (rows !== stored.length) return `has ${rows} rows, the checkpoint ${stored.length} epochs`;
    const k = exp.findIndex((l, j) => l !== got[j]);
    return k === 0 ? 'has another header than the checkpoint\'s history gives' : `row ${k} (epoch ${stored[k - 1]?.epoch ?? '?'}) differs from the checkpoint's history`;
  })();
  if (csv) out.push({ file: cf, why: `${cf} ${csv}` });
  return out;
}

/**
 * Why history.json/history.csv of run folder `dir` do not match `history` (the checkpoint's): missing,
 * damaged, a different number of epochs or different records (see `historyProblems`); null when they match.
 */
export function historyStaleness(dir: string, history: History): string | null {
  const p = historyProblems(dir, history);
  return p.length ? p.map((x) => x.why).join('; ') : null;
}
