/**
 * Cross-check of the TypeScript runs against the independent PyTorch implementation (reference/torch_bop.py): each
 * arm's resolved config (profile rules and calibration included, from src/experiments/registry through
 * `resolveConfig`) is trained by PyTorch for every seed, and its 3-seed mean final test accuracy, settled and raw
 * (src/train/settle), is set beside that of the TypeScript runs stored under results/. The two agree when the 95 %
 * Welch interval of the difference of the means (TypeScript − PyTorch, src/experiments/verdict) contains 0.
 *
 *   node --import tsx reference/crosscheck.ts [--profile quick] [--seeds 0,1,2]
 *        [--experiments cifar10-adam-baseline,cifar10-report-baseline,cifar10-bop] [--threads 1] [--python PATH] [--force]
 *
 * Needs PyTorch for `--python` (default /usr/bin/python3: Debian's `python3-torch`) and CIFAR-10 in data/
 * (`npm run data -- cifar10`). TypeScript runs are read, never started: run `npm run experiment -- <arm> --profile
 * <p> --seed <s>` (or `npm start`) first; a stored run whose config differs from the current resolved config (e.g.
 * trained before the calibration changed) is left out and named. Each PyTorch run is kept in
 * results/crosscheck/<profile>/torch/<arm>/seed-<n>.json and reused while its arguments and torch_bop.py are
 * unchanged (`--force` retrains). The table goes to results/crosscheck/<profile>.md and .json. PyTorch runs one
 * thread by default: on cores shared with other jobs its OpenMP threads wait on each other (a BinaryNet step at
 * width 1/8 took several times longer with 2 threads than with 1 on a loaded 2-core machine).
 */
import { spawn, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { parseArgs, parseIntegerOption } from '../src/cli/args';
import { resolveCifar10 } from '../src/data';
import type { DecaySchedule, ExperimentConfig } from '../src/experiments/config';
import { getExperiment, PROFILES, type Profile } from '../src/experiments/registry';
import { configHash, resolveConfig } from '../src/experiments/run';
import { welchInterval } from '../src/experiments/verdict';
import { loadRuns, mean, resultsRoot, sd } from '../src/results';
import { atomicWriteJson, atomicWrite } from '../src/util/fs';
import { repoRoot } from '../src/util/paths';

export const DEFAULT_EXPERIMENTS = ['cifar10-adam-baseline', 'cifar10-report-baseline', 'cifar10-bop'];
export const DEFAULT_PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(__dirname, 'torch_bop.py');
const INSTALL =
  "install Debian's python3-torch as root (`apt-get install -y python3-torch`) and run with /usr/bin/python3, or pass --python an interpreter that has torch and numpy";

/** Optimizer steps between decays of a schedule, as the TypeScript runner counts them (0: constant). */
export function decayEvery(s: DecaySchedule, stepsPerEpoch: number): number {
  if (s.decay === 1) return 0;
  if (s.everySteps != null) return s.everySteps;
  return s.everyEpochs === null ? 0 : Math.max(1, Math.round(s.everyEpochs * stepsPerEpoch));
}

/**
 * The torch_bop.py arguments of a resolved config: every field the PyTorch side trains with (sizes, optimizer,
 * γ and τ with their schedule, learning rate with its schedule, Xavier scaling, kernels, BN momentum, dropout and
 * its placement, augmentation, validation / held-out split, seed). Throws, naming the experiment and the field, for
 * what the reference does not implement (another dataset or model, another image size).
 */
export function torchArgs(c: ExperimentConfig, dataDir: string, threads = 1): string[] {
  const no = (what: string) => {
    throw new Error(`${c.experiment}: ${what}; the PyTorch reference covers BinaryNet on 32×32 CIFAR-10 only`);
  };
  if (c.dataset !== 'cifar10') no(`dataset '${c.dataset}'`);
  if (c.model !== 'binarynet') no(`model '${c.model}'`);
  if (c.imageSize !== 32) no(`imageSize ${c.imageSize}`);
  if (c.trainLimit != null || c.testLimit != null) no('trainLimit / testLimit are set');
  const trainPerClass = c.trainPerClass ?? 5000;
  const spe = Math.floor((trainPerClass * 10) / c.batchSize);
  const a = [
    '--data',
    dataDir,
    '--opt',
    c.optimizer,
    '--kernels',
    c.kernels === 'real-hidden' ? 'real-hidden' : 'binary',
    '--width',
    String(c.width),
    '--train-per-class',
    String(trainPerClass),
    '--test-per-class',
    String(c.testPerClass ?? 0),
    '--holdout-per-class',
    String(c.holdoutPerClass ?? 0),
    '--epochs',
    String(c.epochs),
    '--batch',
    String(c.batchSize),
    '--lr',
    String(c.lr.initial),
    '--lr-decay',
    String(c.lr.decay),
    '--lr-decay-steps',
    String(decayEvery(c.lr, spe)),
    '--bn-momentum',
    String(c.bnMomentum ?? 0.99),
    '--dropout',
    String(c.dropout),
    '--dropout-placement',
    c.dropoutPlacement ?? 'afterBn',
    '--seed',
    String(c.seed),
    '--threads',
    String(threads),
  ];
  if (c.optimizer === 'bop') {
    if (!c.gamma || c.threshold === null) no('a Bop config without γ or τ');
    a.push(
      '--gamma',
      String(c.gamma!.initial),
      '--gamma-decay',
      String(c.gamma!.decay),
      '--gamma-decay-steps',
      String(decayEvery(c.gamma!, spe)),
      '--tau',
      String(c.threshold),
    );
  }
  if (c.xavierLrScaling) a.push('--xavier');
  if (!c.augment) a.push('--no-augment');
  return a;
}

/** Whether `python` imports torch and numpy: its torch version, or a message that says what to install. */
export function torchStatus(python = DEFAULT_PYTHON): { ok: true; version: string } | { ok: false; message: string } {
  const p = spawnSync(python, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
  if (p.error)
    return {
      ok: false,
      message: `${python} could not be started (${(p.error as NodeJS.ErrnoException).code ?? p.error.message}): ${INSTALL}`,
    };
  if (p.status !== 0) {
    const why = (p.stderr.trim().split('\n').pop() ?? '').slice(0, 200);
    return { ok: false, message: `PyTorch is not available to ${python} (${why || `exit ${p.status}`}): ${INSTALL}` };
  }
  return { ok: true, version: p.stdout.trim() };
}

/** The FINAL record torch_bop.py prints. */
export interface TorchFinal {
  test_acc: number;
  test_acc_raw: number;
  val_acc: number;
  acc: number;
  test_n: number;
  settle_batches: number;
  seconds: number;
  [k: string]: unknown;
}

/** Runs torch_bop.py; calls `onEpoch` with each epoch's JSON record; resolves to the FINAL record. */
export function runTorch(
  python: string,
  args: string[],
  onEpoch: (rec: Record<string, number>) => void = () => {},
): Promise<{ final: TorchFinal; epochs: Record<string, number>[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn(python, [SCRIPT, ...args], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    const epochs: Record<string, number>[] = [];
    let final: TorchFinal | null = null;
    let stderr = '';
    p.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    readline.createInterface({ input: p.stdout }).on('line', (line) => {
      if (line.startsWith('FINAL ')) final = JSON.parse(line.slice(6));
      else if (line.startsWith('{')) {
        const rec = JSON.parse(line);
        epochs.push(rec);
        onEpoch(rec);
      }
    });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code === 0 && final) resolve({ final, epochs });
      else reject(new Error(`torch_bop.py ${args.join(' ')} failed (exit ${code}):\n${stderr.trim()}`));
    });
  });
}

/** One TypeScript seed of an arm as found under results/. */
export interface TsSeed {
  seed: number;
  /**
   * 'ok': finished and verified (src/results: `complete`) with the current config; 'stale': finished with another
   * config, or without both test scores; 'not final': running, interrupted or damaged (the note says which and
   * why); 'missing': no run folder.
   */
  status: 'ok' | 'stale' | 'not final' | 'missing';
  settled: number;
  raw: number;
  note?: string;
}

/** Top-level fields whose values differ between two configs (for the 'stale' note). */
function differingFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => k !== 'derivation' && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/**
 * The stored TypeScript runs of experiment `name` in `profile` for `seeds`: settled (`extra.testAccuracy`) and raw
 * (`extra.testAccuracyRaw`) final test accuracy of each finished run whose config hash is that of the current
 * resolved config (`resolve`, default the registry's `resolveConfig`); others are reported with their status.
 */
export function tsSeeds(
  name: string,
  profile: string,
  seeds: number[],
  root = resultsRoot(),
  resolve: (name: string, profile: string, seed: number) => ExperimentConfig = resolveConfig,
): TsSeed[] {
  const folder = getExperiment(name).sameAs ?? name;
  const runs = loadRuns(folder, profile, root);
  return seeds.map((seed) => {
    const r = runs.find((x) => x.seed === seed);
    if (!r) return { seed, status: 'missing', settled: NaN, raw: NaN };
    const want = resolve(folder, profile, seed);
    const last = r.history[r.history.length - 1]?.extra ?? {};
    const settled = typeof last.testAccuracy === 'number' ? last.testAccuracy : NaN;
    const raw = typeof last.testAccuracyRaw === 'number' ? last.testAccuracyRaw : NaN;
    if (!r.complete)
      return {
        seed,
        status: 'not final',
        settled: NaN,
        raw: NaN,
        note: `${r.status.kind}${r.status.why ? `: ${r.status.why}` : ''}`,
      };
    if (r.meta.configHash !== configHash(want)) {
      const diff = differingFields(
        r.config as unknown as Record<string, unknown>,
        want as unknown as Record<string, unknown>,
      );
      return {
        seed,
        status: 'stale',
        settled: NaN,
        raw: NaN,
        note: `stored config differs from the current one (${diff.join(', ') || 'derivation'})`,
      };
    }
    if (!Number.isFinite(settled) || !Number.isFinite(raw))
      return {
        seed,
        status: 'stale',
        settled: NaN,
        raw: NaN,
        note: 'no settled and raw test score in its last record',
      };
    return { seed, status: 'ok', settled, raw };
  });
}

export interface Side {
  n: number;
  mean: number;
  sd: number;
}

export interface Agreement {
  torch: Side;
  ts: Side;
  /** 95 % Welch interval of mean(TypeScript) − mean(PyTorch); null with fewer than two values on a side. */
  interval: [number, number] | null;
  /** true: the interval contains 0; false: it does not; null: no interval. */
  agree: boolean | null;
}

/** The comparison of one metric of one arm (values are fractions; NaN entries are dropped). */
export function agreement(torch: number[], ts: number[]): Agreement {
  const t = torch.filter(Number.isFinite);
  const s = ts.filter(Number.isFinite);
  const side = (x: number[]): Side => ({ n: x.length, mean: mean(x), sd: sd(x) });
  const interval = welchInterval(s, t);
  return { torch: side(t), ts: side(s), interval, agree: interval ? interval[0] <= 0 && 0 <= interval[1] : null };
}

export interface ArmReport {
  experiment: string;
  seeds: number[];
  torch: { seed: number; settled: number; raw: number; seconds: number; reused: boolean }[];
  ts: TsSeed[];
  settled: Agreement;
  raw: Agreement;
  /** The resolved config of the first seed (what both sides trained with). */
  config: ExperimentConfig;
}

const pct = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(2) : '–');
const side = (s: Side) => (s.n === 0 ? '–' : `${pct(s.mean)} ± ${s.n > 1 ? (s.sd * 100).toFixed(2) : '–'} (n=${s.n})`);
const interval = (a: Agreement) =>
  a.interval ? `[${(a.interval[0] * 100).toFixed(2)}, ${(a.interval[1] * 100).toFixed(2)}]` : '–';
const verdict = (a: Agreement) =>
  a.agree === null ? (a.ts.n === 0 ? 'no TypeScript runs' : 'needs ≥ 2 seeds a side') : a.agree ? 'agree' : 'differ';

/** The Markdown table of a cross-check: one row per arm and metric, then the per-seed values and notes. */
export function renderMarkdown(profile: string, arms: ArmReport[]): string {
  const lines = [
    `| arm (${profile}) | score | PyTorch % (mean ± sd) | TypeScript % (mean ± sd) | TS − PyTorch, 95 % Welch (pp) | means |`,
    '|---|---|---:|---:|---:|---|',
  ];
  for (const a of arms) {
    lines.push(
      `| ${a.experiment} | settled | ${side(a.settled.torch)} | ${side(a.settled.ts)} | ${interval(a.settled)} | ${verdict(a.settled)} |`,
    );
    lines.push(
      `| ${a.experiment} | raw | ${side(a.raw.torch)} | ${side(a.raw.ts)} | ${interval(a.raw)} | ${verdict(a.raw)} |`,
    );
  }
  lines.push('', '| arm | seed | PyTorch settled / raw % | TypeScript settled / raw % |', '|---|---:|---:|---:|');
  for (const a of arms) {
    for (const seed of a.seeds) {
      const t = a.torch.find((x) => x.seed === seed);
      const s = a.ts.find((x) => x.seed === seed)!;
      const tsCell =
        s.status === 'ok' ? `${pct(s.settled)} / ${pct(s.raw)}` : `– (${s.status}${s.note ? `: ${s.note}` : ''})`;
      lines.push(`| ${a.experiment} | ${seed} | ${t ? `${pct(t.settled)} / ${pct(t.raw)}` : '–'} | ${tsCell} |`);
    }
  }
  return lines.join('\n') + '\n';
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);
}

/** The arguments that decide a PyTorch run's result (the data folder and thread count do not). */
function cacheKey(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--data' || args[i] === '--threads') i++;
    else out.push(args[i]);
  }
  return out;
}

const USAGE = `usage: node --import tsx reference/crosscheck.ts [--profile quick|smoke|paper] [--seeds 0,1,2]
       [--experiments ${DEFAULT_EXPERIMENTS.join(',')}] [--threads 1] [--python ${DEFAULT_PYTHON}] [--force]`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), {
    flags: ['help', 'force'],
    values: ['profile', 'seeds', 'experiments', 'threads', 'python'],
  });
  if (args.flags.has('help')) {
    console.log(USAGE);
    return;
  }
  if (args.positional.length) throw new Error(`unexpected argument '${args.positional[0]}'\n${USAGE}`);
  const val = (k: string) => args.values.get(k)?.[0];
  const profile = val('profile') ?? 'quick';
  if (!PROFILES.includes(profile as Profile)) throw new Error(`--profile ${profile}: allowed ${PROFILES.join(', ')}`);
  const names = (val('experiments') ?? DEFAULT_EXPERIMENTS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!names.length) throw new Error('--experiments: give at least one experiment');
  const seedsOpt = val('seeds');
  const seedList = seedsOpt?.split(',').map((s) => parseIntegerOption('seeds', s.trim()));
  const threads = val('threads') ? parseIntegerOption('threads', val('threads')!) : 1;
  if (threads < 1) throw new Error('--threads must be ≥ 1');
  const python = val('python') ?? DEFAULT_PYTHON;
  const force = args.flags.has('force');

  // every config first: a bad experiment name or an arm the reference cannot train fails before anything runs
  const plan = names.map((name) => {
    const seeds = seedList ?? getExperiment(name).seeds[profile as Profile] ?? [0];
    return { name, seeds, configs: seeds.map((s) => resolveConfig(name, profile, s)) };
  });
  for (const p of plan) for (const c of p.configs) torchArgs(c, '.', threads);
  const torch = torchStatus(python);
  if (!torch.ok) throw new Error(torch.message);
  const r = resolveCifar10();
  if (r.kind !== 'bin')
    throw new Error(
      `CIFAR-10 is present only as ${r.source}; the PyTorch reference reads the decoded .bin files: run \`npm run data -- cifar10\``,
    );
  console.log(`PyTorch ${torch.version} (${python}); CIFAR-10 from ${r.source}`);

  const root = resultsRoot();
  const outDir = path.join(root, 'crosscheck');
  const scriptSha = sha256(SCRIPT);
  const arms: ArmReport[] = [];
  for (const { name, seeds, configs } of plan) {
    const torchRows: ArmReport['torch'] = [];
    for (const c of configs) {
      const a = torchArgs(c, r.dir, threads);
      const file = path.join(outDir, profile, 'torch', name, `seed-${c.seed}.json`);
      const key = cacheKey(a);
      let stored: { key: string[]; scriptSha: string; final: TorchFinal } | null = null;
      if (!force && fs.existsSync(file)) {
        try {
          stored = JSON.parse(fs.readFileSync(file, 'utf8'));
        } catch {
          stored = null; // a damaged cache entry is retrained and rewritten
        }
      }
      const reusable = stored && stored.scriptSha === scriptSha && JSON.stringify(stored.key) === JSON.stringify(key);
      let final: TorchFinal;
      if (reusable) {
        final = stored!.final;
        console.log(`${name} seed ${c.seed}: PyTorch run reused (${path.relative(root, file)})`);
      } else {
        console.log(`${name} seed ${c.seed}: PyTorch ${key.join(' ')}`);
        const run = await runTorch(python, a, (e) =>
          console.log(
            `  epoch ${e.epoch}/${c.epochs} loss ${e.loss.toFixed(4)} acc ${pct(e.acc)}% val_acc ${pct(e.val_acc)}% ${e.seconds}s`,
          ),
        );
        final = run.final;
        atomicWriteJson(file, { experiment: name, profile, seed: c.seed, key, scriptSha, final, epochs: run.epochs });
      }
      console.log(
        `${name} seed ${c.seed}: PyTorch test ${pct(final.test_acc)}% settled, ${pct(final.test_acc_raw)}% raw (${final.seconds} s)`,
      );
      torchRows.push({
        seed: c.seed,
        settled: final.test_acc,
        raw: final.test_acc_raw,
        seconds: final.seconds,
        reused: !!reusable,
      });
    }
    const ts = tsSeeds(name, profile, seeds, root);
    const ok = ts.filter((s) => s.status === 'ok');
    arms.push({
      experiment: name,
      seeds,
      torch: torchRows,
      ts,
      settled: agreement(
        torchRows.map((x) => x.settled),
        ok.map((x) => x.settled),
      ),
      raw: agreement(
        torchRows.map((x) => x.raw),
        ok.map((x) => x.raw),
      ),
      config: configs[0],
    });
  }
  const md = renderMarkdown(profile, arms);
  console.log(`\n${md}`);
  atomicWriteJson(path.join(outDir, `${profile}.json`), {
    profile,
    torch: torch.version,
    torchScript: scriptSha,
    arms,
  });
  atomicWrite(path.join(outDir, `${profile}.md`), md);
  console.log(`written: ${path.relative(repoRoot(), path.join(outDir, `${profile}.md`))} and .json`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  });
}
