/**
 * The one spelling of `--set` overrides. A run's folder is named by the hash of its overrides as written
 * (src/results/paths.ts profileFolder), so two spellings of one setting (`width=0.5` and `width=5e-1`,
 * `gamma=1e-4` and `gamma.initial=0.0001`) would put the same config in two folders, and `--resume` with the
 * other spelling would start afresh. Callers that name folders pass the overrides through `canonicalOverrides`
 * first; the config itself holds the same JS number either way, so its hash (run.ts configHash) is equal already.
 */
import { applyOverrides, SETTABLE, type ExperimentConfig } from './config';
import { profileConfig } from './registry';

/**
 * A number in its shorter form of `String(v)` and `v.toExponential()` (ties: `String`), so the usual spellings
 * stay as they are: 4, 0.25, 3e-4, 1e-8; while 4.0 → 4, 0.0003 → 3e-4, 5e-1 → 0.5.
 */
export function canonicalNumber(v: number): string {
  const plain = String(v);
  const exp = v.toExponential().replace('e+', 'e');
  return exp.length < plain.length ? exp : plain;
}

/**
 * The overrides in canonical form: each `key=value` checked against `config` (applyOverrides: the value's syntax,
 * a repeated key, a key this run does not read: one-line errors), then written as `key=value` with the key's short
 * name (`gamma.initial` → `gamma`, `lr.initial` → `lr`) and the value in canonical form (integers in decimal
 * digits without leading zeros, other numbers by `canonicalNumber`, booleans and `null` as words). The order is kept (the folder hash sorts them).
 */
export function canonicalOverrides(config: ExperimentConfig, sets: readonly string[]): string[] {
  applyOverrides(config, [...sets]);
  return sets.map((s) => {
    const eq = s.indexOf('=');
    const key = s.slice(0, eq).trim();
    const raw = s.slice(eq + 1).trim();
    const kind = SETTABLE[key];
    const value =
      kind === 'bool' || raw === 'null'
        ? raw
        : kind === 'int' || kind === 'nullable-int'
          ? String(Number(raw))
          : canonicalNumber(Number(raw));
    return `${key.replace(/\.initial$/, '')}=${value}`;
  });
}

/** `canonicalOverrides` against the profile config of an experiment (seed 0: overrides do not depend on the seed). */
export function canonicalOverridesFor(experiment: string, profile: string, sets: readonly string[]): string[] {
  return canonicalOverrides(profileConfig(experiment, profile, 0), sets);
}
