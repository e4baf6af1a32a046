/** Minimal argument parsing for the command-line tools: positional args, --flag, --key value, repeated --set. */
export interface ParsedArgs {
  positional: string[];
  flags: Set<string>;
  values: Map<string, string[]>;
}

export function parseArgs(argv: string[], spec: { flags: string[]; values: string[] }): ParsedArgs {
  const out: ParsedArgs = { positional: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      out.positional.push(a);
      continue;
    }
    const [k, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (spec.flags.includes(k)) {
      if (inline !== undefined) throw new Error(`--${k} takes no value`);
      out.flags.add(k);
    } else if (spec.values.includes(k)) {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new Error(`--${k} needs a value`);
      out.values.set(k, [...(out.values.get(k) ?? []), v]);
    } else {
      throw new Error(`unknown option --${k}. Allowed: ${[...spec.flags, ...spec.values].map((f) => `--${f}`).join(' ')}`);
    }
  }
  return out;
}

/** Prints a one-line error and exits non-zero. */
export function fail(message: string, code = 2): never {
  console.error(`error: ${message}`);
  process.exit(code);
}
