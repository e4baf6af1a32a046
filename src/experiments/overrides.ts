/**
 * The one spelling of `--set` overrides. A run's folder is named by the hash of its overrides as written
 * (src/results/paths.ts profileFolder), so two spellings of one setting (`width=0.5` and `width=5e-1`,
 * `gamma=1e-4` and `gamma.initial=0.0001`) would put the same config in two folders, and `--resume` with the
 * other spelling would start afresh. Callers that name folders pass the overrides through `canonicalOverrides`
 * first; the config itself holds the same JS number either way, so its hash (run.ts configHash) is equal already.
 * `applyOverrides` applies them to a config: which keys a run reads follows from its dataset's entry in the
 * dataset table (./datasets), its model and its optimizer.
 */
import { SETTABLE, type DecaySchedule, type ExperimentConfig } from './config';
import { datasetEntry } from './datasets';
import { profileConfig } from './registry';

/** Integers in decimal digits only ("20", not "0x14", "2e1" or "20.0"). */
const INT = /^-?[0-9]+$/;
/** Numbers in decimal or scientific notation ("0.5", "3e-4", not "0x1", "Infinity"). */
const NUM = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/**
 * The settable keys that only some runs read: key → [whether this config's dataset, model and optimizer read it, why
 * not]. A key absent here is read by every run.
 */
function readersOf(config: ExperimentConfig): Record<string, [boolean, string]> {
  // the dataset table says how a dataset is sized: segmentation by image limits and size, classification per class
  const seg = datasetEntry(config.dataset).task === 'segmentation';
  return {
    imageSize: [
      seg,
      `only segmentation runs (the Oxford-IIIT Pet UNets) resize their images; ${config.dataset} images are 32×32`,
    ],
    trainLimit: [seg, `trainLimit sizes segmentation runs; ${config.dataset} takes trainPerClass`],
    testLimit: [seg, `testLimit sizes segmentation runs; ${config.dataset} takes testPerClass`],
    trainPerClass: [!seg, `trainPerClass sizes classification runs; ${config.dataset} takes trainLimit`],
    testPerClass: [!seg, `testPerClass sizes classification runs; ${config.dataset} takes testLimit`],
    holdoutPerClass: [
      config.dataset === 'cifar10',
      'the held-out split is CIFAR-10 only (SVHN validates on extra, the Pet runs on their test split)',
    ],
    dropout: [config.model === 'binarynet', 'the UNet has no dropout layers; dropout applies to BinaryNet'],
    threshold: [config.optimizer === 'bop', 'only Bop has a threshold τ'],
    xavierLrScaling: [
      config.optimizer === 'adam',
      "Xavier learning-rate scaling is the latent-weight baseline's (Adam on binary kernels); Bop does not read it",
    ],
  };
}

/** The value `raw` of `--set key` as a finite number (`NUM`); throws naming the key and what is allowed. */
function parseNumber(key: string, raw: string): number {
  if (!NUM.test(raw))
    throw new Error(
      `--set ${key}=${raw}: not a number; allowed: decimal or scientific notation, e.g. ${key}=0.5 or ${key}=3e-4`,
    );
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new Error(`--set ${key}=${raw}: out of range; allowed: a finite number`);
  return v;
}

/** The value `raw` of `--set key` as a safe integer (`INT`); throws naming the key and what is allowed. */
function parseInteger(key: string, raw: string): number {
  if (!INT.test(raw)) {
    if (NUM.test(raw))
      throw new Error(`--set ${key}=${raw}: must be an integer written in decimal digits, e.g. ${key}=20`);
    throw new Error(`--set ${key}=${raw}: not a number; allowed: an integer written in decimal digits, e.g. ${key}=20`);
  }
  const v = Number(raw);
  if (!Number.isSafeInteger(v))
    throw new Error(`--set ${key}=${raw}: out of range; allowed: an integer up to ${Number.MAX_SAFE_INTEGER}`);
  return v;
}

/** Sets `key` of `out` (a field, or a field of one of its schedules) to `raw` parsed as `kind`. */
function setValue(out: ExperimentConfig, key: string, raw: string, kind: (typeof SETTABLE)[string]): void {
  const num = () => parseNumber(key, raw);
  const int = () => parseInteger(key, raw);
  const [base, field] = key.split('.') as [keyof ExperimentConfig, string | undefined];
  const target = out as unknown as Record<string, unknown>;
  if (kind === 'bool') {
    if (raw !== 'true' && raw !== 'false') throw new Error(`--set ${key}=${raw}: must be true or false`);
    target[base] = raw === 'true';
  } else if (kind === 'nullable-int') {
    target[base] = raw === 'null' ? null : int();
  } else if (kind === 'int') {
    target[base] = int();
  } else if (kind === 'number' && !field) {
    target[base] = num();
  } else if (kind === 'schedule-initial' || kind === 'schedule-every' || kind === 'number') {
    const sched = out[base] as DecaySchedule | null;
    if (!sched) throw new Error(`--set ${key}: this experiment has no ${base} (its optimizer is ${out.optimizer})`);
    if (kind === 'schedule-initial') sched.initial = num();
    else if (kind === 'schedule-every') {
      sched.everyEpochs = raw === 'null' ? null : num();
      sched.everySteps = null;
    } else sched.decay = num();
  } else {
    throw new Error(
      `--set ${key}: no parser for values of kind '${kind as string}' (src/experiments/config.ts applyOverrides)`,
    );
  }
}

/** Applies `key=value` overrides; throws a one-line error naming the key or value and what is allowed. */
export function applyOverrides(config: ExperimentConfig, sets: string[]): ExperimentConfig {
  // Values: integers in decimal digits only (`INT`); numbers in decimal or scientific notation (`NUM`); booleans
  // true/false; `null` where the key allows it (the same rules as the command-line options, src/cli/args.ts). A key
  // given twice (gamma and gamma.initial are one key) and a key this run's dataset, model or optimizer does not read
  // are errors, so config.json never records a setting that changed nothing.
  const who = `${config.experiment} (${config.dataset}, ${config.model}, ${config.optimizer})`;
  const readBy = readersOf(config);
  const out: ExperimentConfig = JSON.parse(JSON.stringify(config));
  const seen = new Map<string, string>();
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new Error(`--set '${s}': expected key=value, e.g. --set epochs=20`);
    const key = s.slice(0, eq).trim();
    const raw = s.slice(eq + 1).trim();
    const kind = SETTABLE[key];
    if (!kind) throw new Error(`--set: unknown key '${key}'. Allowed: ${Object.keys(SETTABLE).join(', ')}`);
    const one = key.replace(/\.initial$/, '');
    if (seen.has(one))
      throw new Error(`--set ${key} is given twice (${seen.get(one)}, ${s.trim()}); give each key once`);
    seen.set(one, s.trim());
    const [applies, why] = readBy[key] ?? [true, ''];
    if (!applies) throw new Error(`--set ${key}=${raw}: ${who} does not read ${key} (${why}); leave it out`);
    setValue(out, key, raw, kind);
  }
  return out;
}

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
