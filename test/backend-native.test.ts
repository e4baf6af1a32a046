// Native oneDNN kernels on the wasm heap (src/backend/native.ts, native/bnn_native.cc) against tfjs' pure-JS cpu
// backend: every kernel's value and gradients on the odd shapes the wasm kernels are tested on (rel. error < 1e-5),
// the same inputs on the pure-wasm path (native switched off in the same process; rel. < 1e-4 as in
// backend-grads.test.ts), one BinaryNet training step with and without the native kernels, and BNN_NATIVE=0.
// Without the addon (no compiler or no libdnnl: scripts/setup.sh could not build it) the native tests are skipped
// with the reason printed; the pure-wasm checks still run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend, describeBackend, backendInfo } from '../src/backend';
import {
  nativeCallCounts,
  nativeImplementations,
  nativeStatus,
  setNativeKernels,
  registerNativeKernels,
} from '../src/backend/native';
import { binaryNet } from '../src/models/binarynet';
import { modelVariables } from '../src/layers';
import { AdamOptimizer, BopOptimizer, CaseOptimizer } from '../src/optimizers';
import { categoricalCrossentropy } from '../src/train/tasks';
import { Rng } from '../src/random';
import { convRoundTripTwice } from './helpers/convRoundTrip';

const ROOT = path.resolve(__dirname, '..');
const TOL_NATIVE = 1e-5;
const TOL_WASM = 1e-4;
const rng = new Rng(4321);
function randn(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.next() + rng.next() + rng.next() - 1.5) * 2;
  return a;
}
type Arr = { data: Float32Array; shape: number[] };
const rand = (shape: number[]): Arr => ({ data: randn(shape.reduce((a, b) => a * b, 1)), shape });
const pm1 = (shape: number[]): Arr => ({ data: rand(shape).data.map((v) => (v < 0 ? -1 : 1)), shape });

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0,
    r = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    r = Math.max(r, Math.abs(b[i]));
  }
  return r === 0 ? m : m / r;
}

let native = false;
let skipReason = '';

before(async () => {
  const info = await initBackend({ backend: 'wasm' });
  assert.equal(info.name, 'wasm');
  native = info.path === 'wasm+onednn';
  skipReason = native ? '' : `native path not in use: ${info.native}`;
  console.log(`# ${describeBackend()}`);
  if (!native) console.log(`# SKIP native kernel tests: ${skipReason}`);
});
after(() => shutdownBackend());

/** Value and gradients of f (scalar after a fixed random projection) on a backend. */
const projCache = new Map<number, Float32Array>();
function projData(n: number): Float32Array {
  if (!projCache.has(n)) projCache.set(n, randn(n));
  return projCache.get(n)!;
}
async function valueAndGrads(
  backend: string,
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: Arr[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const xs = inputs.map((i) => tf.tensor(i.data, i.shape));
  let proj: tf.Tensor | null = null;
  const out = tf.tidy(() => {
    const y = f(...xs);
    proj = tf.keep(tf.tensor(projData(y.size), y.shape));
    const { value, grads } = tf.valueAndGrads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), proj!)))(xs);
    return [y, value, ...grads];
  });
  const res = out.map((t) => t.dataSync().slice() as Float32Array);
  tf.dispose([...out, ...xs, proj!]);
  return res;
}

/**
 * f on wasm with the native kernels (when built) and without, each against the cpu backend. `kernels`: the
 * kernel names that must have been served natively.
 */
async function compare(
  name: string,
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: Arr[],
  kernels: string[],
): Promise<void> {
  const ref = await valueAndGrads('cpu', f, inputs);
  const labels = ['output', 'loss', ...inputs.map((_, i) => `grad[${i}]`)];
  const check = (got: Float32Array[], tol: number, path: string) => {
    for (let i = 0; i < got.length; i++) {
      const e = relErr(got[i], ref[i]);
      // the loss is a Sum over the output (wasm's Sum vs cpu's, not a native kernel): summation order only
      const t = i === 1 ? Math.max(tol, TOL_WASM) : tol;
      assert.ok(e < t, `${name} (${path}): ${labels[i]} relative error ${e} >= ${t}`);
    }
  };
  if (native) {
    const before = nativeCallCounts();
    setNativeKernels(true);
    check(await valueAndGrads('wasm', f, inputs), TOL_NATIVE, 'wasm+onednn');
    const after = nativeCallCounts();
    for (const k of kernels) assert.ok((after[k] ?? 0) > (before[k] ?? 0), `${name}: ${k} did not run natively`);
  }
  setNativeKernels(false);
  try {
    check(await valueAndGrads('wasm', f, inputs), TOL_WASM, 'wasm');
  } finally {
    setNativeKernels(true);
  }
}

const CONV = ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput'];

test('the backend reports its path (wasm+onednn or wasm, with the reason) in BackendInfo and describeBackend', () => {
  const info = backendInfo()!;
  assert.ok(info.path === 'wasm+onednn' || info.path === 'wasm', String(info.path));
  assert.ok(info.native && info.native.length > 0, 'native detail or skip reason');
  assert.match(describeBackend(), new RegExp(`path=${info.path.replace('+', '\\+')} \\(`));
  assert.equal(nativeStatus().path, info.path);
});

// the odd shapes of test/backend-grads.test.ts: strides, asymmetric 'same', unused trailing rows, explicit pads
const convCases: { k: number[]; s: number | [number, number]; pad: any; x: number[] }[] = [
  { k: [3, 3, 3, 5], s: 1, pad: 'same', x: [2, 7, 6, 3] },
  { k: [3, 3, 3, 5], s: 1, pad: 'valid', x: [2, 7, 6, 3] },
  { k: [1, 1, 4, 3], s: 1, pad: 'same', x: [2, 5, 5, 4] },
  { k: [2, 2, 3, 4], s: 2, pad: 'valid', x: [2, 8, 8, 3] },
  { k: [3, 3, 2, 4], s: 2, pad: 'same', x: [2, 8, 7, 2] },
  { k: [3, 3, 2, 4], s: 2, pad: 'valid', x: [1, 9, 8, 2] },
  { k: [3, 2, 2, 3], s: [2, 1], pad: 'same', x: [2, 7, 6, 2] },
  {
    k: [3, 3, 2, 3],
    s: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
    x: [2, 6, 6, 2],
  },
  { k: [5, 5, 2, 3], s: 1, pad: 'same', x: [1, 6, 6, 2] },
  { k: [3, 3, 19, 21], s: 1, pad: 'same', x: [3, 9, 7, 19] }, // channel counts off every SIMD block
];
for (const c of convCases) {
  test(`conv2d value and grads k=${c.k} s=${c.s} pad=${JSON.stringify(c.pad)}`, async () => {
    await compare(
      'conv2d',
      (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad),
      [rand(c.x), rand(c.k)],
      CONV,
    );
  });
}

const tCases: { k: number[]; s: number; pad: 'same' | 'valid'; x: number[] }[] = [
  { k: [2, 2, 3, 4], s: 2, pad: 'same', x: [2, 4, 5, 4] },
  { k: [3, 3, 3, 4], s: 2, pad: 'same', x: [2, 4, 4, 4] },
  { k: [2, 2, 3, 4], s: 2, pad: 'valid', x: [2, 3, 4, 4] },
  { k: [3, 3, 3, 4], s: 1, pad: 'same', x: [2, 5, 5, 4] },
  { k: [3, 3, 2, 3], s: 2, pad: 'valid', x: [1, 3, 3, 3] },
];
for (const c of tCases) {
  test(`conv2dTranspose value and grads k=${c.k} s=${c.s} pad=${c.pad}`, async () => {
    const [N, H, W] = c.x;
    const outH = c.pad === 'same' ? H * c.s : (H - 1) * c.s + c.k[0];
    const outW = c.pad === 'same' ? W * c.s : (W - 1) * c.s + c.k[1];
    await compare(
      'conv2dTranspose',
      (x, w) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [N, outH, outW, c.k[2]], c.s, c.pad),
      [rand(c.x), rand(c.k)],
      CONV,
    );
  });
}

test('binary conv (±1 × ±1, odd shapes): oneDNN int8, oneDNN float and XNOR-popcount give the exact integers', async (t) => {
  if (!native) {
    t.skip(skipReason);
    return;
  }
  await tf.setBackend('wasm');
  for (const [xs, ks, s, pad] of [
    [[4, 8, 8, 16], [3, 3, 16, 32], 1, 'same'],
    [[3, 9, 7, 19], [3, 3, 19, 21], 1, 'same'],
    [[2, 9, 8, 13], [3, 3, 13, 5], 2, 'valid'],
    [[2, 8, 7, 40], [3, 2, 40, 7], 2, 'same'],
  ] as const) {
    await binaryCase([...xs], [...ks], s, pad);
  }
  // a single non-±1 value (e.g. 0.5) must make the int8 path decline and give the float result
  const xA = pm1([2, 6, 6, 9]);
  xA.data[100] = 0.5;
  await compare(
    'int8 declines on a non-±1 input',
    (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
    [xA, pm1([3, 3, 9, 4])],
    CONV,
  );
});

async function binaryCase(xs: number[], ks: number[], s: number, pad: 'same' | 'valid') {
  const xA = pm1(xs),
    wA = pm1(ks);
  const run = (mode: 'int8' | 'float' | 'xnor') => {
    registerNativeKernels(backendInfo()!.threads, { binaryConv: mode });
    const x: tf.Tensor4D = tf.tensor4d(xA.data, xA.shape as [number, number, number, number]);
    const w: tf.Tensor4D = tf.tensor4d(wA.data, wA.shape as [number, number, number, number]);
    const y = tf.conv2d(x, w, s, pad);
    const d = y.dataSync().slice();
    tf.dispose([x, w, y]);
    return d;
  };
  const a = run('int8'),
    b = run('float'),
    c = run('xnor');
  registerNativeKernels(backendInfo()!.threads);
  assert.deepEqual(Array.from(a), Array.from(b), `int8 vs float ${xs} ${ks}`);
  assert.deepEqual(Array.from(a), Array.from(c), `int8 vs xnor ${xs} ${ks}`);
  assert.ok(a.every((v) => Number.isInteger(v)));
  await compare(
    `binary conv ${xs} ${ks}`,
    (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad),
    [xA, wA],
    CONV,
  );
}

test('matMul / BatchMatMul: transposes, batches, broadcast batch, dense layer grads', async () => {
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    await compare(
      `matMul ${ta} ${tb}`,
      (x, y) => tf.matMul(x, y, ta, tb),
      [rand(ta ? [2, 5, 3] : [2, 3, 5]), rand(tb ? [2, 4, 5] : [2, 5, 4])],
      ['BatchMatMul'],
    );
  }
  await compare(
    'dense',
    (x, w, bias) => tf.relu(tf.add(tf.matMul(x, w), bias)),
    [rand([6, 7]), rand([7, 3]), rand([3])],
    ['BatchMatMul'],
  );
  await compare(
    'matMul small A, big B^T',
    (x, y) => tf.matMul(x, y, false, true),
    [rand([3, 9]), rand([40, 9])],
    ['BatchMatMul'],
  );
  // broadcast batch: B is a constant (tfjs' own BatchMatMul gradient does not reduce a broadcast batch)
  const bB = rand([1, 5, 6]);
  await compare(
    'matMul broadcast batch',
    (x) => tf.matMul(x, tf.tensor(bB.data, bB.shape)),
    [rand([3, 4, 5])],
    ['BatchMatMul'],
  );
  await compare(
    'matMul rank 4',
    (x, y) => tf.matMul(x, y, false, true),
    [rand([2, 3, 4, 5]), rand([2, 3, 6, 5])],
    ['BatchMatMul'],
  );
  await compare('dense wide', (x, w) => tf.matMul(x, w), [rand([4, 37]), rand([37, 130])], ['BatchMatMul']);
});

test('maxPool: valid, same, odd sizes (cropped), overlapping windows, ties', async () => {
  const mp = (k: number, s: number, pad: 'valid' | 'same') => (x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, k, s, pad);
  await compare('maxPool 2x2/2 valid', mp(2, 2, 'valid'), [rand([2, 6, 6, 3])], ['MaxPool']);
  await compare('maxPool 2x2/2 valid odd size', mp(2, 2, 'valid'), [rand([2, 5, 7, 3])], ['MaxPool']);
  await compare('maxPool 2x2/2 same odd size', mp(2, 2, 'same'), [rand([2, 5, 7, 3])], ['MaxPool']);
  await compare('maxPool 3x3/2 same', mp(3, 2, 'same'), [rand([2, 7, 7, 2])], ['MaxPool']);
  await compare('maxPool 3x3/2 valid', mp(3, 2, 'valid'), [rand([2, 8, 7, 2])], ['MaxPool']);
  const ints = rand([2, 6, 6, 17]);
  ints.data = ints.data.map((v) => Math.round(v));
  await compare('maxPool ties', mp(2, 2, 'valid'), [ints], ['MaxPool']);
});

/** One Bop + Adam training step of a small BinaryNet (batch 8, width 1/16) from fixed weights: loss, grads, loss after. */
async function trainingStep(useNative: boolean): Promise<{ loss: number; grads: Float32Array[]; after: number }> {
  await tf.setBackend('wasm');
  setNativeKernels(useNative);
  try {
    const model = binaryNet({ width: 1 / 16, kernels: 'bop', seed: 3 });
    const vars = modelVariables(model);
    const tfVars = vars.map((v) => v.variable);
    const opt = new CaseOptimizer(
      [{ name: 'bop', claims: (v) => v.binary, optimizer: new BopOptimizer({ gamma: 1e-3, threshold: 1e-8 }) }],
      { name: 'adam', optimizer: new AdamOptimizer({ lr: 0.01 }) },
    );
    const r = new Rng(77);
    const x = tf.tensor4d(
      Float32Array.from({ length: 8 * 32 * 32 * 3 }, () => r.next() * 2 - 1),
      [8, 32, 32, 3],
    );
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10).toFloat();
    const lossFn = () => categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
    const { value, grads } = tf.variableGrads(lossFn, tfVars);
    const loss = value.dataSync()[0];
    const g = vars.map((v) => grads[v.variable.name].dataSync().slice() as Float32Array);
    opt.apply(
      vars,
      vars.map((v) => grads[v.variable.name]),
    );
    const l2 = tf.tidy(lossFn);
    const after = l2.dataSync()[0];
    tf.dispose([value, l2, x, y, ...Object.values(grads)]);
    model.dispose();
    return { loss, grads: g, after };
  } finally {
    setNativeKernels(true);
  }
}

test('one BinaryNet training step: same loss, gradients and loss after the update with and without native kernels', async (t) => {
  if (!native) {
    t.skip(skipReason);
    return;
  }
  const before = nativeCallCounts();
  const a = await trainingStep(true);
  const after = nativeCallCounts();
  for (const k of [...CONV, 'BatchMatMul', 'MaxPool'])
    assert.ok((after[k] ?? 0) > (before[k] ?? 0), `${k} did not run natively`);
  const b = await trainingStep(false);
  assert.ok(Number.isFinite(a.loss) && a.loss > 0);
  assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.abs(b.loss), `loss ${a.loss} vs ${b.loss}`);
  for (let i = 0; i < a.grads.length; i++) {
    const e = relErr(a.grads[i], b.grads[i]);
    assert.ok(e < 1e-4, `grad ${i}: relative error ${e}`);
  }
  assert.ok(Math.abs(a.after - b.after) <= 1e-5 * Math.abs(b.after), `loss after the step ${a.after} vs ${b.after}`);
  const impls = nativeImplementations();
  assert.ok(impls.length > 0);
  console.log(`# oneDNN implementations: ${[...new Set(impls.map((s) => s.split(': ')[1]))].join(', ')}`);
});

test('native kernels do not leak tensors or free their inputs', async () => {
  await tf.setBackend('wasm');
  const x = tf.tensor(rand([2, 6, 6, 3]).data, [2, 6, 6, 3]) as tf.Tensor4D;
  const w = tf.tensor(rand([3, 3, 3, 4]).data, [3, 3, 3, 4]) as tf.Tensor4D;
  const { before, after, r1, r2 } = convRoundTripTwice(x, w);
  assert.equal(after, before, 'tensor count grew');
  assert.equal(r1, r2, 'repeated step differs');
  assert.ok(Number.isFinite(r1));
  tf.dispose([x, w]);
});

test('BNN_NATIVE=0 forces the pure-wasm path, says why, and trains the same', () => {
  const code = `const b = require('./src/backend'); const tf = require('@tensorflow/tfjs');
b.initBackend({ backend: 'wasm', threads: 1 }).then(() => {
  const x = tf.tensor4d(Array.from({length: 2*6*6*3}, (_, i) => Math.sin(i)), [2, 6, 6, 3]);
  const w = tf.tensor4d(Array.from({length: 3*3*3*4}, (_, i) => Math.cos(i)), [3, 3, 3, 4]);
  const g = tf.grad((w) => tf.sum(tf.square(tf.conv2d(x, w, 1, 'same'))))(w);
  console.log('DESC ' + b.describeBackend());
  console.log('INFO ' + JSON.stringify(b.backendInfo()));
  console.log('SUM ' + g.sum().dataSync()[0]);
});`;
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
      cwd: ROOT,
      env: { ...process.env, BNN_BACKEND: '', BNN_THREADS: '', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
  const off = run({ BNN_NATIVE: '0' });
  assert.equal(off.status, 0, off.stderr);
  const info = JSON.parse(/INFO (.*)/.exec(off.stdout)![1]);
  assert.equal(info.path, 'wasm');
  assert.match(info.native, /BNN_NATIVE=0/);
  assert.match(off.stdout, /DESC backend=wasm \(.*\) path=wasm \(native kernels disabled/);
  const on = run({ BNN_NATIVE: '' });
  assert.equal(on.status, 0, on.stderr);
  const infoOn = JSON.parse(/INFO (.*)/.exec(on.stdout)![1]);
  assert.equal(infoOn.path, native ? 'wasm+onednn' : 'wasm', infoOn.native);
  const sum = (o: string) => Number(/SUM (\S+)/.exec(o)![1]);
  assert.ok(
    Math.abs(sum(on.stdout) - sum(off.stdout)) <= 1e-5 * Math.abs(sum(off.stdout)),
    `${sum(on.stdout)} vs ${sum(off.stdout)}`,
  );
});
