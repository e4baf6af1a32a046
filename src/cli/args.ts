/**
 * Strict argument parsing for the command-line tools: positional args, --flag, --key value / --key=value,
 * -h/--help. A value option given twice is an error unless it is declared repeatable (--set, --sbatch-arg); unknown
 * options, single-dash options other than -h, and missing values are errors.
 */
export interface ParsedArgs {
  positional: string[];
  flags: Set<string>;
  values: Map<string, string[]>;
}

export interface ArgSpec {
  flags: string[];
  values: string[];
  /** Value options that may be given more than once (each occurrence is kept); every other option once. */
  repeatable?: string[];
}

export function parseArgs(argv: string[], spec: ArgSpec): ParsedArgs {
  const out: ParsedArgs = { positional: [], flags: new Set(), values: new Map() };
  const allowed = () => [...spec.flags, ...spec.values].map((f) => `--${f}`).join(' ');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h') {
      if (!spec.flags.includes('help')) throw new Error(`unknown option -h. Allowed: ${allowed()}`);
      out.flags.add('help');
      continue;
    }
    if (a === '--') {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      if (a.startsWith('-') && a.length > 1) throw new Error(`unknown option ${a}. Allowed: ${allowed()}`);
      out.positional.push(a);
      continue;
    }
    const [k, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (spec.flags.includes(k)) {
      if (inline !== undefined) throw new Error(`--${k} takes no value`);
      if (out.flags.has(k)) throw new Error(`--${k} is given twice`);
      out.flags.add(k);
    } else if (spec.values.includes(k)) {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new Error(`--${k} needs a value`);
      const prev = out.values.get(k);
      if (prev && !(spec.repeatable ?? []).includes(k))
        throw new Error(`--${k} is given twice (${prev[0]}, ${v}); give it once`);
      out.values.set(k, [...(prev ?? []), v]);
    } else {
      throw new Error(`unknown option --${k}. Allowed: ${allowed()}`);
    }
  }
  return out;
}

/**
 * The syntax rules every option of the command-line tools parses by (one rule per type):
 *   integer  decimal digits only: "7", "007"; not "", "7.0", "1e3", "0x10", "+7", " 7"
 *   number   decimal or scientific notation: "1", "0.5", ".5", "3e-4", "-2"; not "0x10", "0b1", "Infinity", "1_000"
 *   enum     one of a listed set of words, exactly
 *   list     comma-separated items, none empty, each by its own rule
 */
export const INTEGER_SYNTAX = /^[0-9]+$/;
export const NUMBER_SYNTAX = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** A raw value as it appears in an error message (quoted when empty or holding blanks). */
export function showValue(raw: string): string {
  return raw === '' || /\s/.test(raw) ? JSON.stringify(raw) : raw;
}

/**
 * An integer option written in plain decimal digits ("7", not "", "1e3", "0x10", "7.0", " 7"), from `min` to
 * `max`. Throws `--<name> <raw>: …` naming what is allowed.
 */
export function parseIntegerOption(name: string, raw: string, max = Number.MAX_SAFE_INTEGER, min = 0): number {
  const allowed = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
  if (!INTEGER_SYNTAX.test(raw))
    throw new Error(
      `--${name} ${showValue(raw)}: must be an integer ≥ ${min} written in decimal digits${max === Number.MAX_SAFE_INTEGER ? '' : ` (at most ${max})`}`,
    );
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v > max || v < min) throw new Error(`--${name} ${raw}: must be ${allowed}`);
  return v;
}

/** Bounds of a number option; `*Exclusive` makes that bound open. */
export interface NumberRange {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

function describeRange(r: NumberRange): string {
  const lo = r.min === undefined ? null : `${r.minExclusive ? '>' : '≥'} ${r.min}`;
  const hi = r.max === undefined ? null : `${r.maxExclusive ? '<' : '≤'} ${r.max}`;
  return lo && hi ? `a number ${lo} and ${hi}` : lo || hi ? `a number ${lo ?? hi}` : 'a finite number';
}

/** A number option in decimal or scientific notation ("0.5", "3e-4"), within `range`. Throws `--<name> <raw>: …`. */
export function parseNumberOption(name: string, raw: string, range: NumberRange = {}): number {
  const allowed = describeRange(range);
  if (!NUMBER_SYNTAX.test(raw))
    throw new Error(
      `--${name} ${showValue(raw)}: must be ${allowed} in decimal or scientific notation (e.g. 30, 0.5, 3e-4)`,
    );
  const v = Number(raw);
  const tooLow = range.min !== undefined && (range.minExclusive ? v <= range.min : v < range.min);
  const tooHigh = range.max !== undefined && (range.maxExclusive ? v >= range.max : v > range.max);
  if (!Number.isFinite(v) || tooLow || tooHigh) throw new Error(`--${name} ${raw}: must be ${allowed}`);
  return v;
}

/** One of `allowed`, exactly. Throws `--<name> <raw>: allowed: a, b, c`. */
export function parseEnumOption<T extends string>(name: string, raw: string, allowed: readonly T[], more = ''): T {
  if (!(allowed as readonly string[]).includes(raw))
    throw new Error(`--${name} ${showValue(raw)}: allowed: ${allowed.join(', ')}${more}`);
  return raw as T;
}

/** A comma-separated list, each item trimmed and parsed by `item`; an empty list or an empty item is an error. */
export function parseListOption<T>(name: string, raw: string, item: (s: string) => T, what = 'items'): T[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.some((s) => s === ''))
    throw new Error(`--${name} ${showValue(raw)}: expected a comma-separated list of ${what}, without empty entries`);
  return parts.map(item);
}

/** Seeds are 32-bit (src/random.ts seeds its generator with the low 32 bits). */
export const MAX_SEED = 0xffffffff;

/** Prints a one-line error and exits non-zero. */
export function fail(message: string, code = 2): never {
  console.error(`error: ${message}`);
  process.exit(code);
}
