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
      if (prev && !(spec.repeatable ?? []).includes(k)) throw new Error(`--${k} is given twice (${prev[0]}, ${v}); give it once`);
      out.values.set(k, [...(prev ?? []), v]);
    } else {
      throw new Error(`unknown option --${k}. Allowed: ${allowed()}`);
    }
  }
  return out;
}

/**
 * A non-negative integer option written in plain decimal digits ("7", not "", "1e3", "0x10", "7.0", " 7"),
 * at most `max`. Throws `--<name> <raw>: …`.
 */
export function parseIntegerOption(name: string, raw: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^[0-9]+$/.test(raw)) throw new Error(`--${name} ${raw === '' || /\s/.test(raw) ? JSON.stringify(raw) : raw}: must be an integer ≥ 0 written in decimal digits`);
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v > max) throw new Error(`--${name} ${raw}: must be an integer from 0 to ${max}`);
  return v;
}

/** Seeds are 32-bit (src/random.ts seeds its generator with the low 32 bits). */
export const MAX_SEED = 0xffffffff;

/** Prints a one-line error and exits non-zero. */
export function fail(message: string, code = 2): never {
  console.error(`error: ${message}`);
  process.exit(code);
}
