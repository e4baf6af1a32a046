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
 * Parses and checks a history.json: an array of objects with numeric epoch/accuracy/valAccuracy
 * (other fields are passed through; missing flipRatio becomes {}, missing gamma/threshold null). Throws an
 * error naming the file.
 */
export function parseHistory(text: string, file: string): History {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); re-run the experiment or delete the file`);
  }
  if (!Array.isArray(raw)) throw new Error(`${file}: expected a JSON array of epoch records (EpochRecord[]), got ${typeof raw}`);
  return raw.map((r, i) => {
    if (r === null || typeof r !== 'object') throw new Error(`${file}: record ${i} is not an object`);
    for (const k of REQUIRED_NUMBERS) {
      if (typeof (r as any)[k] !== 'number') {
        throw new Error(`${file}: record ${i} has no numeric "${String(k)}" (got ${JSON.stringify((r as any)[k])}); is this an EpochRecord[] history?`);
      }
    }
    const rec = r as EpochRecord;
    return { ...rec, flipRatio: rec.flipRatio ?? {}, gamma: rec.gamma ?? null, threshold: rec.threshold ?? null };
  });
}

/** Reads and checks a history file (see `parseHistory`); a missing file is an error naming it. */
export function readHistoryFile(file: string): History {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${file}: no such history file`);
    throw e;
  }
  return parseHistory(text, file);
}

/** The history of run folder `dir` (checked), or null when it has no history.json yet. */
export function readRunHistory(dir: string): History | null {
  const file = runPaths(dir).historyJson;
  return fs.existsSync(file) ? readHistoryFile(file) : null;
}

/** history.csv: one row per epoch; flip ratios (`flip_<layer>`) and extra metrics as columns; null as empty. */
export function historyCsv(history: History): string {
  const flipKeys = [...new Set(history.flatMap((r) => Object.keys(r.flipRatio)))];
  const extraKeys = [...new Set(history.flatMap((r) => Object.keys(r.extra ?? {})))];
  const head = ['epoch', 'step', 'loss', 'accuracy', 'valLoss', 'valAccuracy', 'gamma', 'threshold', 'lr', 'seconds', ...flipKeys.map((k) => `flip_${k}`), ...extraKeys];
  const rows = history.map((r) =>
    [r.epoch, r.step, r.loss, r.accuracy, r.valLoss, r.valAccuracy, r.gamma ?? '', r.threshold ?? '', r.lr, r.seconds, ...flipKeys.map((k) => r.flipRatio[k] ?? ''), ...extraKeys.map((k) => r.extra?.[k] ?? '')].join(','),
  );
  return [head.join(','), ...rows].join('\n') + '\n';
}

/** Writes history.json and history.csv of run folder `dir`, each atomically. */
export function writeHistoryFiles(dir: string, history: History): void {
  const p = runPaths(dir);
  atomicWriteJson(p.historyJson, history);
  atomicWrite(p.historyCsv, historyCsv(history));
}

/**
 * Why history.json/history.csv of run folder `dir` do not match `history` (the checkpoint's): missing,
 * damaged, a different number of epochs or different records; null when they match.
 */
export function historyStaleness(dir: string, history: History): string | null {
  const { historyJson: hf, historyCsv: cf } = runPaths(dir);
  let text: string;
  try {
    text = fs.readFileSync(hf, 'utf8');
  } catch {
    return `${hf} is missing`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `${hf} is not valid JSON (truncated or damaged)`;
  }
  if (!Array.isArray(parsed)) return `${hf} is not an array of epoch records`;
  if (parsed.length !== history.length) return `${hf} has ${parsed.length} epochs, the checkpoint ${history.length}`;
  if (JSON.stringify(parsed) !== JSON.stringify(history)) return `${hf} differs from the history in the checkpoint`;
  try {
    const lines = fs.readFileSync(cf, 'utf8').split('\n').filter((l) => l.length);
    if (lines.length !== history.length + 1) return `${cf} has ${lines.length - 1} rows, the checkpoint ${history.length} epochs`;
  } catch {
    return `${cf} is missing`;
  }
  return null;
}
