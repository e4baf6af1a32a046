/**
 * Training-step benchmark: the project's BinaryNet (src/models/binarynet.ts, Bop on binary kernels + Adam on BN
 * betas, as the paper's CIFAR-10 run), batch 50, random CIFAR-shaped data. One child process per configuration
 * (backend × path × threads × width; wasm's thread count is fixed per process), then PyTorch with 2 threads on
 * the same model (bench/torch_binarynet.py, only if /usr/bin/python3 can `import torch`). On wasm both paths run:
 * 'wasm+onednn' (native oneDNN kernels, src/backend/native.ts; when the addon is built) and 'wasm' (BNN_NATIVE=0).
 *
 *   npm run bench:train                       # both wasm paths at the default threads, widths 1, 0.5, 0.25
 *   npm run bench:train -- --quick            # fewer steps
 *   npm run bench:train -- --backends=wasm,cpu --widths=0.25 --threads=2,1 --repeat=2
 *   npm run bench:train -- --widths=0.25,1 --baseline   # also the wasm kernels before the fused/XNOR work
 *   npm run bench:train -- --binary=float     # native path, ±1 × ±1 forward convs in float (or xnor; default int8)
 *   npm run bench:train -- --kernels          # per-kernel microbenchmark of the SIMD training kernels (kernels/train.ts)
 *   npm run bench:train -- --kernels --compare=DIR   # … against DIR's kernels (another checkout), alternating
 * Steps: 3 at width 1, 4 at 0.5, 6 at 0.25 (first is warm-up). The machine may be shared: each configuration and
 * PyTorch run alternately per width, and the final ratios use the best (minimum) step of each side.
 *
 * Prints per configuration ms/step, images/s, peak RSS, wasm heap and the top kernels by exclusive time
 * (every kernel of the backend wrapped with a timer for one extra profiled step), and last:
 *   vs-pytorch width1=<r> width0.25=<r> wasm-only width1=<r> width0.25=<r>
 * (ours / PyTorch images/s from best steps at the first thread count; fastest path first: the native path when
 * built, then the pure-wasm path; without the addon the first pair is the pure-wasm path too)
 */
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend, backendInfo } from '../src/backend';
import { binaryNet } from '../src/models/binarynet';
import { modelVariables } from '../src/layers';
import { AdamOptimizer, BopOptimizer, CaseOptimizer } from '../src/optimizers';
import { categoricalCrossentropy } from '../src/train/tasks';
import { trainKernelsFor } from '../src/wasm/trainKernels';
import type { TrainKernels } from '../src/wasm/trainKernels';

interface ChildCfg {
  backend: string;
  threads: number;
  width: number;
  steps: number;
  batch: number;
  profile: boolean;
  baseline?: boolean;
  /** wasm: false = BNN_NATIVE=0 (pure-wasm path). */
  native?: boolean;
  /** native path: forward conv of ±1 × ±1 (NativeKernelOptions.binaryConv). */
  binary?: 'int8' | 'float' | 'xnor';
}
interface ChildResult extends ChildCfg {
  desc: string;
  path: string;
  msPerStep: number;
  bestMs: number;
  firstStepMs: number;
  imagesPerSec: number;
  peakRssMiB: number;
  wasmHeapMiB: number | null;
  params: number;
  kernels: { name: string; ms: number; calls: number }[];
  loss: number;
}

function arg(name: string, def: string): string {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}

/** Wrap every kernel registered for `backendName` with a timer; exclusive times (nested kernels subtracted). */
function installKernelTimers(backendName: string) {
  const stats = new Map<string, { ms: number; calls: number }>();
  let on = false;
  const stack: number[] = [];
  for (const k of tf.getKernelsForBackend(backendName)) {
    const orig = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel({
      kernelName: k.kernelName,
      backendName,
      kernelFunc: (args) => {
        if (!on) return orig(args);
        stack.push(0);
        const t = performance.now();
        const r = orig(args);
        const dt = performance.now() - t;
        const child = stack.pop()!;
        if (stack.length) stack[stack.length - 1] += dt;
        const s = stats.get(k.kernelName) ?? { ms: 0, calls: 0 };
        s.ms += dt - child;
        s.calls++;
        stats.set(k.kernelName, s);
        return r;
      },
    });
  }
  return {
    stats,
    enable: (v: boolean) => {
      on = v;
    },
  };
}

async function runChild(cfg: ChildCfg): Promise<ChildResult> {
  await initBackend({
    backend: cfg.backend as 'wasm' | 'cpu' | 'tensorflow',
    threads: cfg.threads,
    // --baseline: the wasm kernels before the XNOR and fused-kernel speed-ups (XNNPACK float convs for the forward, tf-op
    // quantizers / batch norm / optimizers / maxPoolGrad / dW padding, direct dx), for a same-run comparison
    ...(cfg.baseline ? { kernels: { binaryConv: false, fused: false } } : {}),
    ...(cfg.binary ? { native: { binaryConv: cfg.binary } } : {}),
  });
  const model = binaryNet({ width: cfg.width, kernels: 'bop', seed: 1 });
  const vars = modelVariables(model);
  const tfVars = vars.map((v) => v.variable);
  const opt = new CaseOptimizer(
    [{ name: 'bop', claims: (v) => v.binary, optimizer: new BopOptimizer({ gamma: 1e-4, threshold: 1e-8 }) }],
    { name: 'adam', optimizer: new AdamOptimizer({ lr: 0.01 }) },
  );
  const B = cfg.batch;
  const x = tf.randomNormal([B, 32, 32, 3], 0, 1, 'float32', 1);
  const y = tf.tidy(() => tf.oneHot(tf.randomUniform([B], 0, 10, 'int32', 2), 10).toFloat());
  const step = () => {
    const l = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor),
        tfVars,
      );
      opt.apply(
        vars,
        vars.map((v) => grads[v.variable.name]),
      );
      return value;
    });
    const v = l.dataSync()[0];
    l.dispose();
    return v;
  };
  const times: number[] = [];
  let loss = NaN;
  for (let s = 0; s < cfg.steps; s++) {
    const t = performance.now();
    loss = step();
    times.push(performance.now() - t);
  }
  const steady = times.length > 1 ? times.slice(1) : times;
  const ms = steady.reduce((a, b) => a + b, 0) / steady.length;
  let kernels: ChildResult['kernels'] = [];
  if (cfg.profile) {
    const timers = installKernelTimers(tf.getBackend());
    timers.enable(true);
    step();
    timers.enable(false);
    kernels = [...timers.stats].map(([name, s]) => ({ name, ms: s.ms, calls: s.calls })).sort((a, b) => b.ms - a.ms);
  }
  const mod = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
  return {
    ...cfg,
    desc: describeBackend(),
    path: backendInfo()?.path ?? cfg.backend,
    msPerStep: ms,
    bestMs: Math.min(...steady),
    firstStepMs: times[0],
    imagesPerSec: B / (ms / 1000),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    wasmHeapMiB: mod ? mod.HEAPU8.length / 2 ** 20 : null,
    params: tfVars.reduce((a, v) => a + v.size, 0),
    kernels,
    loss,
  };
}

function spawnChild(cfg: ChildCfg): ChildResult | null {
  const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, `--child=${JSON.stringify(cfg)}`], {
    encoding: 'utf8',
    env: { ...process.env, BNN_BACKEND: '', BNN_THREADS: '', BNN_NATIVE: cfg.native === false ? '0' : '' },
    maxBuffer: 1 << 26,
  });
  const m = /^RESULT (.*)$/m.exec(r.stdout ?? '');
  if (r.status !== 0 || !m) {
    console.log(
      `  ${label(cfg)} threads=${cfg.threads} width=${cfg.width}: FAILED (exit ${r.status})\n${(r.stderr ?? '').split('\n').slice(-8).join('\n')}`,
    );
    return null;
  }
  return JSON.parse(m[1]) as ChildResult;
}

function torchRun(
  width: number,
  steps: number,
  batch: number,
  threads: number,
): { imagesPerSec: number; msPerStep: number; bestMs: number; line: string } | null {
  const py = '/usr/bin/python3';
  const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return null;
  const r = spawnSync(
    py,
    [path.join(__dirname, 'torch_binarynet.py'), String(width), String(batch), String(steps), String(threads)],
    { encoding: 'utf8' },
  );
  const m = /^RESULT (.*)$/m.exec(r.stdout ?? '');
  if (r.status !== 0 || !m) {
    console.log(`  pytorch width=${width}: FAILED ${r.stderr?.slice(-400)}`);
    return null;
  }
  const ips = Number(/img\/s=([\d.]+)/.exec(m[1])![1]);
  const ms = Number(/step=([\d.]+)ms/.exec(m[1])![1]);
  const best = Number(/best=([\d.]+)ms/.exec(m[1])![1]);
  return { imagesPerSec: ips, msPerStep: ms, bestMs: best, line: m[1] };
}

const label = (c: ChildCfg & { path?: string }) =>
  c.baseline
    ? 'wasm-baseline'
    : c.backend !== 'wasm'
      ? c.backend
      : c.native === false
        ? 'wasm (BNN_NATIVE=0)'
        : (c.path ?? 'wasm') + (c.binary ? `/${c.binary}` : '');
const fmt = (r: ChildResult) =>
  `${label(r)} threads=${r.threads} width=${r.width} batch=${r.batch}: ${r.msPerStep.toFixed(0)} ms/step ` +
  `(first ${r.firstStepMs.toFixed(0)}, best ${r.bestMs.toFixed(0)}), ${r.imagesPerSec.toFixed(1)} img/s (best ${((r.batch / r.bestMs) * 1000).toFixed(1)}), params=${r.params}, peakRSS=${r.peakRssMiB.toFixed(0)}MiB` +
  (r.wasmHeapMiB != null ? `, wasmHeap=${r.wasmHeapMiB.toFixed(0)}MiB` : '') +
  ` [${r.desc}]`;

/**
 * Per-kernel microbenchmark of the SIMD training kernels at BinaryNet width-1, batch-50 sizes, on one shared
 * WebAssembly.Memory (as tfjs' threaded heap). With `compareDir`, the same kernels of another checkout
 * (DIR/src/wasm/trainKernels.ts, e.g. a `git worktree` of an older commit) run on the same inputs, alternating call by
 * call; their outputs are compared byte for byte. Prints the best of `rounds` calls per kernel and side (after 5
 * untimed warm-up rounds).
 */
function kernelBench(compareDir: string | null, rounds: number): void {
  const mem = new WebAssembly.Memory({ initial: 8192, maximum: 16384, shared: true });
  const sides: { name: string; k: TrainKernels }[] = [{ name: 'this', k: trainKernelsFor(mem)! }];
  if (compareDir) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- another checkout's module, its path known at run time
    const other = require(path.resolve(compareDir, 'src', 'wasm', 'trainKernels')) as {
      trainKernelsFor(m: object): TrainKernels | null;
    };
    sides.unshift({ name: path.basename(path.resolve(compareDir)), k: other.trainKernelsFor(mem)! });
  }
  const f32 = () => new Float32Array(mem.buffer),
    u32 = () => new Uint32Array(mem.buffer);
  let top = 1 << 16;
  const alloc = (floats: number) => {
    const p = top;
    top += (floats * 4 + 63) & ~63;
    if (top > mem.buffer.byteLength) throw new Error('kernel bench: memory');
    return p;
  };
  let seed = 1;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed / 2 ** 32) * 2 - 1;
  };
  const fill = (p: number, n: number, scale = 1) => {
    const a = f32();
    for (let i = 0; i < n; i++) a[p / 4 + i] = rnd() * scale;
  };
  // sizes: Bop / Adam / signs on the largest kernel (3×3×512×512); batch norm and max pool on a 50×32×32×128 activation;
  // Winograd transforms on 3 200 tiles × 128 channels; the pad-transpose on 50×30×30×128 padded to 32×32
  const n = 3 * 3 * 512 * 512,
    rows = 50 * 32 * 32,
    C = 128,
    T = 3200,
    H = 32,
    N = 50;
  const x = alloc(n),
    y = alloc(n),
    dy = alloc(n),
    w = alloc(n),
    m = alloc(n),
    g = alloc(n),
    mn = alloc(n),
    va = alloc(n),
    vn = alloc(n);
  fill(x, n);
  fill(dy, n);
  fill(m, n, 1e-6);
  fill(g, n);
  {
    const a = f32();
    for (let i = 0; i < n; i++) {
      a[w / 4 + i] = rnd() < 0 ? -1 : 1;
      a[va / 4 + i] = rnd() ** 2 * 1e-3;
    }
  }
  const X = alloc(rows * C),
    D = alloc(rows * C),
    Y = alloc(rows * C),
    v = [0, 1, 2, 3, 4].map(() => alloc(C));
  fill(X, rows * C);
  fill(D, rows * C);
  v.forEach((p) => fill(p, C));
  const img = alloc(T * C),
    tab = alloc(16 * T),
    obase = alloc(16),
    V = alloc(16 * T * C),
    dtab = alloc(4 * T),
    Yw = alloc(4 * T * C);
  fill(img, T * C);
  for (let i = 0; i < 16 * T; i++) u32()[tab / 4 + i] = img + Math.floor(((rnd() + 1) / 2) * T) * C * 4;
  for (let k = 0; k < 16; k++) u32()[obase / 4 + k] = V + k * T * C * 4;
  for (let i = 0; i < 4 * T; i++) u32()[dtab / 4 + i] = Yw + i * C * 4;
  const ptab = alloc((N * H) / 2);
  for (let r = 0; r < (N * H) / 2; r++) u32()[ptab / 4 + r] = r * 2 * H * C * 4;
  const c4 = C / 4,
    rowB = H * C * 4;
  const cases: { name: string; out: [number, number][]; run: (k: TrainKernels) => void }[] = [
    { name: 'larqSign', out: [[y, n]], run: (k) => k.larqSign(x, y, n / 4) },
    { name: 'sign', out: [[y, n]], run: (k) => k.sign(x, y, n / 4) },
    { name: 'steGrad', out: [[y, n]], run: (k) => k.steGrad(dy, x, y, n / 4, 1) },
    {
      name: 'bop',
      out: [
        [y, n],
        [mn, n],
      ],
      run: (k) => k.bop(w, m, g, y, mn, n / 4, 1 - 1e-4, 1e-4, 1e-8),
    },
    {
      name: 'adam',
      out: [
        [y, n],
        [mn, n],
        [vn, n],
      ],
      run: (k) => k.adam(x, m, va, g, y, mn, vn, n / 4, 0.9, 0.1, 0.999, 0.001, 1e-7, 1e-3),
    },
    {
      name: 'colSum',
      out: [[v[3], C]],
      run: (k) => {
        f32().fill(0, v[3] / 4, v[3] / 4 + C);
        k.colSum(X, rows, c4, v[3]);
      },
    },
    {
      name: 'colSqDev',
      out: [[v[3], C]],
      run: (k) => {
        f32().fill(0, v[3] / 4, v[3] / 4 + C);
        k.colSqDev(X, rows, c4, v[0], v[3]);
      },
    },
    { name: 'bnApply', out: [[Y, rows * C]], run: (k) => k.bnApply(X, Y, rows, c4, v[0], v[1], v[2]) },
    {
      name: 'bnGradSums',
      out: [
        [v[3], C],
        [v[4], C],
      ],
      run: (k) => {
        f32().fill(0, v[3] / 4, v[4] / 4 + C);
        k.bnGradSums(D, X, rows, c4, v[0], v[3], v[4]);
      },
    },
    { name: 'bnGradApply', out: [[Y, rows * C]], run: (k) => k.bnGradApply(D, X, Y, rows, c4, v[0], v[1], v[2], v[3]) },
    { name: 'winoIn', out: [[V, 16 * T * C]], run: (k) => k.winoIn(tab, T, c4, obase) },
    { name: 'winoOut', out: [[Yw, 4 * T * C]], run: (k) => k.winoOut(obase, T, c4, dtab) },
    {
      name: 'padTransposeCHWN',
      out: [[Y, rows * C]],
      run: (k) => k.padTransposeCHWN(X, Y, N, H - 2, H - 2, c4, H, H, 1, 1),
    },
    {
      name: 'maxPoolGrad2',
      out: [[Y, rows * C]],
      run: (k) => k.maxPoolGrad2(ptab, (N * H) / 2, H / 2, c4, rowB, X, D, Y),
    },
  ];
  const best = cases.map(() => sides.map(() => Infinity));
  let identical = true;
  const warm = 5; // untimed rounds first: V8 runs a wasm function in its baseline tier until it is hot
  for (let r = 0; r < warm + rounds; r++) {
    cases.forEach((c, ci) => {
      const outs: Uint8Array[][] = [];
      const order = r % 2 ? [...sides.keys()].reverse() : [...sides.keys()];
      if (sides.some((sd) => typeof (sd.k as unknown as Record<string, unknown>)[c.name] !== 'function')) return; // not in the other checkout
      for (const si of order) {
        const t = performance.now();
        c.run(sides[si].k);
        if (r >= warm) best[ci][si] = Math.min(best[ci][si], performance.now() - t);
        if (r === 0) outs[si] = c.out.map(([p, len]) => new Uint8Array(mem.buffer, p, len * 4).slice());
      }
      if (r === 0 && sides.length === 2 && !outs[0].every((o, i) => Buffer.compare(o, outs[1][i]) === 0)) {
        identical = false;
        console.log(`  ${c.name}: outputs differ`);
      }
    });
  }
  console.log(
    `kernel microbenchmark: best of ${rounds} calls, ms${sides.length === 2 ? `; ${sides[0].name} vs this checkout, alternating` : ''}`,
  );
  console.log(
    `  ${'kernel'.padEnd(16)} ${sides.map((s) => s.name.slice(0, 10).padStart(10)).join(' ')}${sides.length === 2 ? '    ratio' : ''}`,
  );
  cases.forEach((c, ci) => {
    const t = best[ci];
    if (!t.every(Number.isFinite)) {
      console.log(`  ${c.name.padEnd(16)} (not in ${sides[0].name})`);
      return;
    }
    console.log(
      `  ${c.name.padEnd(16)} ${t.map((v) => v.toFixed(3).padStart(10)).join(' ')}${sides.length === 2 ? `    ${(t[1] / t[0]).toFixed(3)}` : ''}`,
    );
  });
  if (sides.length === 2) {
    const both = best.filter((t) => t.every(Number.isFinite));
    const tot = sides.map((_, si) => both.reduce((a, b) => a + b[si], 0));
    console.log(
      `  ${'total'.padEnd(16)} ${tot.map((v) => v.toFixed(3).padStart(10)).join(' ')}    ${(tot[1] / tot[0]).toFixed(3)}`,
    );
    console.log(identical ? '  outputs identical byte for byte' : '  OUTPUTS DIFFER');
  }
}

async function main() {
  if (process.argv.includes('--kernels')) {
    const cmp = arg('compare', '');
    kernelBench(cmp || null, Number(arg('rounds', '15')));
    return;
  }
  const childArg = process.argv.find((s) => s.startsWith('--child='));
  if (childArg) {
    const res = await runChild(JSON.parse(childArg.slice(8)));
    console.log(`RESULT ${JSON.stringify(res)}`);
    return;
  }
  const quick = process.argv.includes('--quick');
  const batch = Number(arg('batch', '50'));
  const widths = arg('widths', '1,0.5,0.25').split(',').map(Number);
  const backends = arg('backends', 'wasm').split(',');
  const defThreads = Math.min(8, os.cpus().length);
  const threadList = arg('threads', String(defThreads)).split(',').map(Number);
  const binaryArg = arg('binary', '');
  const binary = (['int8', 'float', 'xnor'] as const).find((m) => m === binaryArg);
  const stepsFor = (w: number) => (quick ? 2 : w >= 1 ? 3 : w >= 0.5 ? 4 : 6);
  console.log(
    `bench:train — BinaryNet (project model, Bop+Adam), batch ${batch}, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0].model})`,
  );
  const repeat = Number(arg('repeat', '1'));
  // best ms/step at the first thread count, over repeats: 'fast' = the first backend's default path (native when
  // built), 'wasm' = the pure-wasm path (BNN_NATIVE=0)
  const ours = { fast: new Map<number, number>(), wasm: new Map<number, number>() };
  let fastPath = '';
  const torch = new Map<number, number>();
  const baseline = process.argv.includes('--baseline');
  const base = new Map<number, number>();
  const setMin = (m: Map<number, number>, w: number, v: number) => m.set(w, Math.min(m.get(w) ?? Infinity, v));
  let torchOk = true;
  // interleave ours and PyTorch per width (and repeat) so both see similar machine load; ratios use best steps
  for (let rep = 0; rep < repeat; rep++) {
    for (const width of widths) {
      for (const backend of backends) {
        for (const threads of backend === 'wasm' ? threadList : [1]) {
          // wasm: the default path (native when built), then the pure-wasm path, unless the first already was
          let paths: (boolean | undefined)[] = backend === 'wasm' ? [undefined, false] : [undefined];
          for (const native of paths) {
            const r = spawnChild({
              backend,
              threads,
              width,
              steps: stepsFor(width),
              batch,
              profile: rep === 0 && threads === threadList[0],
              ...(native === false ? { native } : {}),
              ...(binary && native !== false ? { binary } : {}),
            });
            if (!r) continue;
            console.log(fmt(r));
            if (r.kernels.length) {
              const tot = r.kernels.reduce((a, k) => a + k.ms, 0);
              console.log(
                `    top kernels (exclusive ms in one profiled step, total ${tot.toFixed(0)}): ` +
                  r.kernels
                    .slice(0, 12)
                    .map((k) => `${k.name} ${k.ms.toFixed(0)} (${k.calls}×)`)
                    .join(', '),
              );
            }
            if (backend !== backends[0] || threads !== threadList[0]) continue;
            if (native !== false) {
              setMin(ours.fast, width, r.bestMs);
              fastPath = r.path;
              if (r.path !== 'wasm+onednn') {
                setMin(ours.wasm, width, r.bestMs);
                paths = [undefined];
                break;
              }
            } else setMin(ours.wasm, width, r.bestMs);
          }
        }
      }
      if (baseline && backends.includes('wasm')) {
        const r = spawnChild({
          backend: 'wasm',
          threads: threadList[0],
          width,
          steps: stepsFor(width),
          batch,
          profile: false,
          baseline: true,
          native: false,
        });
        if (r) {
          console.log(fmt(r));
          setMin(base, width, r.bestMs);
        }
      }
      if (!torchOk) continue;
      const t = torchRun(width, quick ? 3 : width >= 1 ? 3 : width >= 0.5 ? 4 : 6, batch, 2);
      if (!t) {
        torchOk = false;
        console.log('pytorch: unavailable (/usr/bin/python3 cannot import torch)');
        continue;
      }
      console.log(
        `pytorch threads=2 width=${width} batch=${batch}: ${t.msPerStep.toFixed(0)} ms/step (best ${t.bestMs.toFixed(0)}), ${t.imagesPerSec.toFixed(1)} img/s  [${t.line}]`,
      );
      setMin(torch, width, t.bestMs);
    }
  }
  const img = (ms: number) => ((batch / ms) * 1000).toFixed(1);
  for (const w of widths) {
    const parts: string[] = [];
    if (ours.fast.has(w))
      parts.push(`${fastPath || 'ours'} ${ours.fast.get(w)!.toFixed(0)} ms (${img(ours.fast.get(w)!)} img/s)`);
    if (fastPath === 'wasm+onednn' && ours.wasm.has(w))
      parts.push(`wasm-only ${ours.wasm.get(w)!.toFixed(0)} ms (${img(ours.wasm.get(w)!)} img/s)`);
    if (torch.has(w)) parts.push(`pytorch ${torch.get(w)!.toFixed(0)} ms (${img(torch.get(w)!)} img/s)`);
    if (parts.length) console.log(`best steps width=${w}: ${parts.join(', ')}`);
    if (ours.fast.has(w) && ours.wasm.has(w) && fastPath === 'wasm+onednn') {
      console.log(
        `speed-up of the native kernels width=${w}: ${ours.wasm.get(w)!.toFixed(0)} -> ${ours.fast.get(w)!.toFixed(0)} ms (x${(ours.wasm.get(w)! / ours.fast.get(w)!).toFixed(2)})`,
      );
    }
  }
  for (const w of widths) {
    if (base.has(w) && ours.wasm.has(w)) {
      console.log(
        `speed-up vs baseline kernels (pure wasm) width=${w}: ${base.get(w)!.toFixed(0)} -> ${ours.wasm.get(w)!.toFixed(0)} ms (x${(base.get(w)! / ours.wasm.get(w)!).toFixed(2)})`,
      );
    }
  }
  // images/s ratio = pytorch ms / ours ms (same batch), from the best steps
  const ratio = (m: Map<number, number>, w: number) =>
    m.has(w) && torch.has(w) ? (torch.get(w)! / m.get(w)!).toFixed(2) : 'n/a';
  console.log(
    `vs-pytorch width1=${ratio(ours.fast, 1)} width0.25=${ratio(ours.fast, 0.25)} wasm-only width1=${ratio(ours.wasm, 1)} width0.25=${ratio(ours.wasm, 0.25)}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
