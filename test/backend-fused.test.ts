// Fast training kernels of the wasm backend (src/backend/binaryConv.ts, src/backend/fused.ts) against the
// straightforward computation: the composite tf ops on tfjs' pure-JS cpu backend (and wasm's own float kernels).
// Integer-valued results (binary conv, signs, Bop) must be bit-exact; float ones within rel. error 1e-4 (Adam: exact).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../src/backend';
import { registerWasmTrainingKernels } from '../src/backend/wasmKernels';
import { binaryConvStats } from '../src/backend/binaryConv';
import { fusedActive, padTransposeCHWNFused, simd, winogradConv3x3Fused } from '../src/backend/fused';
import type { HeapBackend } from '../src/backend/fused';
import { trainKernelsFor } from '../src/wasm/trainKernels';
import { larqSign, steSign } from '../src/quantizers';
import { BatchNorm } from '../src/layers';
import { bopUpdate } from '../src/optimizers/bop';
import { AdamOptimizer } from '../src/optimizers';
import type { ModelVariable } from '../src/layers';
import { Rng } from '../src/random';

const rng = new Rng(99);
const randn = (n: number) => Float32Array.from({ length: n }, () => (rng.next() + rng.next() + rng.next() - 1.5) * 2);
const pm1 = (n: number) => Float32Array.from({ length: n }, () => (rng.next() < 0.5 ? -1 : 1));
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

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
function assertSame(a: ArrayLike<number>, b: ArrayLike<number>, what: string) {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!(Object.is(a[i], b[i]) || a[i] === b[i])) assert.fail(`${what}: element ${i}: ${a[i]} !== ${b[i]}`);
  }
}

/** Run f on a backend with fresh tensors from the arrays; returns the outputs' data. */
async function on(
  backend: string,
  f: (...xs: tf.Tensor[]) => tf.Tensor[],
  inputs: { data: Float32Array; shape: number[] }[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const xs = inputs.map((i) => tf.tensor(i.data, i.shape));
  const outs = f(...xs);
  const res = outs.map((t) => t.dataSync().slice() as Float32Array);
  tf.dispose([...outs, ...xs]);
  return res;
}

before(async () => {
  const info = await initBackend({ backend: 'wasm' });
  assert.equal(info.name, 'wasm');
});
after(() => shutdownBackend());

const binCases: { x: number[]; k: number[]; s: number; pad: 'same' | 'valid' }[] = [
  { x: [2, 6, 5, 32], k: [3, 3, 32, 8], s: 1, pad: 'same' },
  { x: [3, 5, 5, 40], k: [3, 3, 40, 6], s: 1, pad: 'same' }, // Ci not a multiple of 32, Co not of 4, odd pixels
  { x: [2, 7, 6, 64], k: [3, 3, 64, 12], s: 1, pad: 'valid' },
  { x: [2, 7, 7, 16], k: [3, 3, 16, 4], s: 2, pad: 'same' },
  { x: [1, 8, 7, 9], k: [2, 3, 9, 5], s: 2, pad: 'valid' },
  { x: [2, 4, 4, 96], k: [1, 1, 96, 7], s: 1, pad: 'same' },
];

test('binary conv (XNOR-popcount) equals the float conv bit for bit, on wasm and cpu', async () => {
  // these shapes are below the default size threshold (binaryConvMinPixels): take the XNOR path for every size
  registerWasmTrainingKernels({ binaryConvMinPixels: 0 });
  for (const c of binCases) {
    const inputs = [
      { data: pm1(prod(c.x)), shape: c.x },
      { data: pm1(prod(c.k)), shape: c.k },
    ];
    const conv = (x: tf.Tensor, w: tf.Tensor) => [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad)];
    const before = binaryConvStats.binary;
    const [fast] = await on('wasm', conv, inputs);
    assert.equal(binaryConvStats.binary, before + 1, `binary path taken for ${JSON.stringify(c)}`);
    registerWasmTrainingKernels({ binaryConv: false });
    const [xnn] = await on('wasm', conv, inputs);
    registerWasmTrainingKernels({ binaryConvMinPixels: 0 });
    const [cpu] = await on('cpu', conv, inputs);
    assertSame(fast, cpu, `binary vs cpu ${JSON.stringify(c)}`);
    assertSame(fast, xnn, `binary vs xnnpack ${JSON.stringify(c)}`);
  }
  // default threshold: a conv with fewer output pixels (2·6·5 = 60 < 512) uses the float conv, same result
  registerWasmTrainingKernels({});
  const c = binCases[0];
  const inputs = [
    { data: pm1(prod(c.x)), shape: c.x },
    { data: pm1(prod(c.k)), shape: c.k },
  ];
  const conv = (x: tf.Tensor, w: tf.Tensor) => [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad)];
  const before = binaryConvStats.binary;
  const [small] = await on('wasm', conv, inputs);
  assert.equal(binaryConvStats.binary, before, 'small conv kept on the float path');
  assertSame(small, (await on('cpu', conv, inputs))[0], 'float path vs cpu');
});

test('binary conv falls back to the float conv when an input is not ±1 (and its gradient is unchanged)', async () => {
  const x = { data: pm1(2 * 5 * 5 * 32), shape: [2, 5, 5, 32] },
    k = { data: pm1(3 * 3 * 32 * 4), shape: [3, 3, 32, 4] };
  x.data[17] = 0.5;
  registerWasmTrainingKernels({ binaryConvMinPixels: 0 }); // so that only the 0.5 can send it to the float conv
  const f = (a: tf.Tensor, b: tf.Tensor) => {
    const { value, grads } = tf.valueAndGrads((p: tf.Tensor, q: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 1, 'same'))),
    )([a, b]);
    return [value, ...grads];
  };
  const fb = binaryConvStats.fallback;
  const w = await on('wasm', f, [x, k]);
  assert.ok(binaryConvStats.fallback > fb, 'fell back');
  const c = await on('cpu', f, [x, k]);
  w.forEach((a, i) => assert.ok(relErr(a, c[i]) < 1e-4, `output ${i}: ${relErr(a, c[i])}`));
  registerWasmTrainingKernels({});
});

const edge = new Float32Array([
  0,
  -0,
  NaN,
  1e-8,
  -1e-8,
  1e-30,
  -1e-30,
  1.1e-7,
  -1.1e-7,
  3,
  -3,
  Infinity,
  -Infinity,
  1,
  -1,
]);

test('fused Sign, larqSign and ste_sign gradient equal the cpu composite exactly (incl. |x| < 1.2e-7)', async () => {
  await tf.setBackend('wasm');
  assert.ok(fusedActive(), 'fused kernels active on wasm');
  const x = { data: Float32Array.from([...edge, ...randn(1000)]), shape: [edge.length + 1000] };
  const dyv = { data: randn(x.data.length), shape: x.shape };
  const f = (a: tf.Tensor, dy: tf.Tensor) => {
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(steSign(t), dy)))(a);
    return [tf.sign(a), larqSign(a), steSign(a), g];
  };
  const w = await on('wasm', f, [x, dyv]);
  const c = await on('cpu', f, [x, dyv]);
  ['sign', 'larqSign', 'steSign', 'steSign grad'].forEach((n, i) => assertSame(w[i], c[i], n));
  // Larq semantics: sign(0) = +1, tiny negatives are −1
  assert.deepEqual(Array.from(w[1].slice(0, 7)), [1, 1, 1, 1, -1, 1, -1]);
});

for (const [shape, scale] of [
  [[4, 5, 6, 8], false],
  [[4, 5, 6, 8], true],
  [[12, 7], false],
  [[3, 2, 2, 3], true],
  [[3, 15, 13, 12], false],
  [[300, 16], true],
] as [number[], boolean][]) {
  test(`fused batch norm (training) shape ${shape} scale=${scale}: output, moving stats, grads vs cpu`, async () => {
    const xd = { data: randn(prod(shape)).map((v) => v * 3 + 1), shape };
    const proj = { data: randn(prod(shape)), shape };
    const run = async (be: string) => {
      await tf.setBackend(be);
      const layer = new BatchNorm({ scale, center: true, momentum: 0.9 });
      layer.build(shape);
      const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
      // non-trivial beta/gamma
      vars.forEach((v, i) => v.assign(tf.add(v, tf.mul(tf.range(0, v.shape[0]), 0.1 * (i + 1)))));
      const x = tf.tensor(xd.data, shape),
        p = tf.tensor(proj.data, shape);
      const loss = () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, p)) as tf.Scalar;
      const y = layer.apply(x, { training: true }) as tf.Tensor;
      const { grads } = tf.variableGrads(loss, vars);
      const gx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t, { training: true }) as tf.Tensor, p)))(x);
      const w = layer.getWeights();
      const out = [y, gx, ...vars.map((v) => grads[v.name]), ...w.filter((_, i) => i >= vars.length)].map(
        (t) => t.dataSync().slice() as Float32Array,
      );
      tf.dispose([x, p, y, gx, ...Object.values(grads)]);
      layer.weights.forEach((w) => w.dispose());
      return out;
    };
    const a = await run('wasm');
    const b = await run('cpu');
    assert.equal(a.length, b.length);
    a.forEach((v, i) => assert.ok(relErr(v, b[i]) < 1e-4, `output ${i}: rel err ${relErr(v, b[i])}`));
  });
}

test('fused Bop equals the cpu composite bit for bit, incl. the tie w·m = τ → +1 and |w·m − τ| < 1.2e-7', async () => {
  const n = 4000;
  const tau = 1e-8,
    gamma = 1e-4;
  const w = pm1(n),
    m = randn(n).map((v) => v * 1e-6),
    g = randn(n).map((v) => v * 1e-3);
  // ties: gamma = 0 keeps m, so set m = τ·w  (w·m = τ exactly)
  const tieW = Float32Array.from([1, -1, 1, -1]),
    tieM = Float32Array.from([tau, -tau, -tau, tau]),
    tieG = new Float32Array(4);
  const f = (gm: number) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => bopUpdate(a, b, c, gm, tau);
  const r1 = await on('wasm', f(gamma), [
    { data: w, shape: [n] },
    { data: m, shape: [n] },
    { data: g, shape: [n] },
  ]);
  const c1 = await on('cpu', f(gamma), [
    { data: w, shape: [n] },
    { data: m, shape: [n] },
    { data: g, shape: [n] },
  ]);
  assertSame(r1[0], c1[0], 'w');
  assertSame(r1[1], c1[1], 'm');
  const flips = r1[0].reduce((s, v, i) => s + (v !== w[i] ? 1 : 0), 0);
  assert.ok(flips > 0 && flips < n, `some weights flip (${flips})`);
  const r2 = await on('wasm', f(0), [
    { data: tieW, shape: [4] },
    { data: tieM, shape: [4] },
    { data: tieG, shape: [4] },
  ]);
  // w·m = τ for the first two: set to +1; w·m = −τ for the others: no flip
  assert.deepEqual(Array.from(r2[0]), [1, 1, 1, -1]);
  const c2 = await on('cpu', f(0), [
    { data: tieW, shape: [4] },
    { data: tieM, shape: [4] },
    { data: tieG, shape: [4] },
  ]);
  assertSame(r2[0], c2[0], 'tie w');
});

test('fused Adam equals the cpu composite (Keras Adam) bit for bit over 3 steps', async () => {
  const shape = [37];
  const w0 = randn(37),
    gs = [randn(37), randn(37).map((v) => v * 1e-3), randn(37)];
  const run = async (be: string) => {
    await tf.setBackend(be);
    const v = tf.variable(tf.tensor(w0, shape));
    const mv: ModelVariable = { layer: 'l', name: 'beta', variable: v, binary: false, clip: false };
    const opt = new AdamOptimizer({ lr: 0.01, lrMultipliers: { 'l/beta': 1.5 } });
    for (const g of gs) {
      const gt = tf.tensor(g, shape);
      opt.apply([mv], [gt]);
      gt.dispose();
    }
    const st = opt.getState();
    const out = [v.dataSync().slice(), ...Object.values(st.tensors).map((t) => t.dataSync().slice())] as Float32Array[];
    tf.dispose(Object.values(st.tensors));
    opt.dispose();
    v.dispose();
    return out;
  };
  const a = await run('wasm'),
    b = await run('cpu');
  a.forEach((v, i) => assertSame(v, b[i], `adam output ${i}`));
});

test('fused kernels leak no tensors in a training step', async () => {
  await tf.setBackend('wasm');
  const layer = new BatchNorm({ scale: false });
  layer.build([2, 3, 3, 4]);
  const x = tf.tensor(randn(72), [2, 3, 3, 4]);
  const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
  const step = () =>
    tf
      .tidy(() => {
        const { grads } = tf.variableGrads(
          () => tf.sum(steSign(layer.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
          vars,
        );
        return tf.add(grads[vars[0].name], 0);
      })
      .dispose();
  step();
  const n0 = tf.memory().numTensors;
  step();
  step();
  assert.equal(tf.memory().numTensors, n0);
  x.dispose();
  layer.weights.forEach((w) => w.dispose());
});

test('SIMD kernels on tfjs memory equal the JS loops (elementwise bit for bit, batch norm within 1e-6)', async () => {
  const shape = [3, 15, 13, 12];
  const xd = { data: randn(prod(shape)).map((v) => v * 2 + 0.5), shape },
    dd = { data: randn(prod(shape)), shape };
  const w = { data: pm1(1001), shape: [1001] },
    m = { data: randn(1001).map((v) => v * 1e-7), shape: [1001] },
    g = { data: randn(1001), shape: [1001] };
  const f = (x: tf.Tensor, dy: tf.Tensor, wt: tf.Tensor, mt: tf.Tensor, gt: tf.Tensor) => {
    const layer = new BatchNorm({ scale: true });
    layer.build(shape);
    const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, dy)) as tf.Scalar,
      vars,
    );
    const gx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(steSign(layer.apply(t, { training: true }) as tf.Tensor), dy)))(
      x,
    );
    const out = [
      tf.sign(x),
      larqSign(x),
      ...bopUpdate(wt, mt, gt, 1e-3, 1e-8),
      value,
      gx,
      ...vars.map((v) => grads[v.name]),
    ];
    layer.weights.forEach((v) => v.dispose());
    return out;
  };
  const a = await on('wasm', f, [xd, dd, w, m, g]);
  registerWasmTrainingKernels({ fusedSimd: false });
  const b = await on('wasm', f, [xd, dd, w, m, g]);
  registerWasmTrainingKernels({});
  for (let i = 0; i < 4; i++) assertSame(a[i], b[i], `elementwise output ${i}`);
  for (let i = 4; i < a.length; i++)
    assert.ok(relErr(a[i], b[i]) < 1e-6, `batch norm output ${i}: ${relErr(a[i], b[i])}`);
});

test('Winograd F(2x2,3x3) conv (dx path) equals the direct conv within 1e-5 (SIMD and JS transforms, odd sizes)', async () => {
  for (const [x, w] of [
    [
      [2, 9, 8, 8],
      [3, 3, 8, 12],
    ],
    [
      [1, 6, 7, 5],
      [3, 3, 5, 3],
    ],
    [
      [3, 4, 4, 16],
      [3, 3, 16, 4],
    ],
  ]) {
    const inputs = [
      { data: randn(prod(x)), shape: x },
      { data: randn(prod(w)), shape: w },
    ];
    const f = (a: tf.Tensor, b: tf.Tensor) => [winogradConv3x3Fused(a as tf.Tensor4D, b as tf.Tensor4D)!];
    const got = await on('wasm', f, inputs);
    registerWasmTrainingKernels({ fusedSimd: false });
    const js = await on('wasm', f, inputs);
    registerWasmTrainingKernels({});
    const [ref] = await on('cpu', (a, b) => [tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid')], inputs);
    assert.ok(relErr(got[0], ref) < 1e-5, `simd ${x} ${w}: ${relErr(got[0], ref)}`);
    assert.ok(relErr(js[0], ref) < 1e-5, `js ${x} ${w}: ${relErr(js[0], ref)}`);
  }
});

test('pad + transpose NHWC → CHWN (SIMD 4×4 blocks, batch and channel remainders, crops) equals pad then transpose exactly', async () => {
  // [shape, top, bottom, left, right]: N = 6 and 50 leave a batch remainder; C = 5 takes the JS loop
  for (const [shape, t, b, l, r] of [
    [[6, 5, 4, 8], 1, 1, 1, 1],
    [[50, 3, 3, 12], 0, 2, 1, 0],
    [[4, 4, 5, 4], 0, 0, 0, 0],
    [[7, 6, 5, 8], -1, 1, 0, -1],
    [[3, 4, 4, 5], 2, 1, 1, 2],
  ] as [number[], number, number, number, number][]) {
    const inputs = [{ data: randn(prod(shape)), shape }];
    const [got] = await on('wasm', (x) => [padTransposeCHWNFused(x as tf.Tensor4D, t, b, l, r)!], inputs);
    const [want] = await on(
      'cpu',
      (x) => {
        const cropped = tf.slice(
          x,
          [0, Math.max(0, -t), Math.max(0, -l), 0],
          [-1, shape[1] - Math.max(0, -t) - Math.max(0, -b), shape[2] - Math.max(0, -l) - Math.max(0, -r), -1],
        );
        const padded = tf.pad(cropped, [
          [0, 0],
          [Math.max(0, t), Math.max(0, b)],
          [Math.max(0, l), Math.max(0, r)],
          [0, 0],
        ]);
        return [tf.transpose(padded, [3, 1, 2, 0])];
      },
      inputs,
    );
    assertSame(got, want, `padTranspose ${shape} ${[t, b, l, r]}`);
  }
});

test('MaxPoolGrad 2x2/2 (SIMD, first maximum on ties, cropped odd sizes) equals the cpu backend exactly', async () => {
  for (const shape of [
    [2, 6, 6, 8],
    [2, 7, 5, 12],
    [1, 15, 15, 4],
  ]) {
    const ints = randn(prod(shape)).map((v) => Math.round(v * 1.5)); // many ties
    for (const data of [ints, randn(prod(shape))]) {
      const inputs = [
        { data, shape },
        {
          data: randn(prod([shape[0], shape[1] >> 1, shape[2] >> 1, shape[3]])),
          shape: [shape[0], shape[1] >> 1, shape[2] >> 1, shape[3]],
        },
      ];
      const f = (x: tf.Tensor, dy: tf.Tensor) => [
        tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'), dy)))(x),
      ];
      const [a] = await on('wasm', f, inputs);
      const [b] = await on('cpu', f, inputs);
      assertSame(a, b, `maxPoolGrad ${shape}`);
    }
  }
});

// The compiled module (kernels/train.ts) against its documented math, step by step in float32 (fr after every
// operation), on fresh memories of both kinds (the module is built twice: shared and unshared import).
const fr = Math.fround;
/** Bit-for-bit equality of float32 arrays (any NaN equals any NaN: wasm leaves NaN payloads unspecified). */
function assertBits(got: Float32Array, want: ArrayLike<number>, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const ok = Number.isNaN(want[i]) ? Number.isNaN(got[i]) : Object.is(got[i], fr(want[i]));
    if (!ok) assert.fail(`${what}: element ${i}: ${got[i]} !== ${want[i]}`);
  }
}

test('SIMD kernels are active on the wasm backend (tfjs memory, shared when threaded)', async () => {
  await tf.setBackend('wasm');
  assert.ok(simd(tf.backend() as unknown as HeapBackend), 'kernels/train.ts instantiated on the tfjs heap');
});

for (const shared of [false, true]) {
  test(`compiled training kernels equal their float32 math bit for bit (edge values, ${shared ? 'shared' : 'unshared'} memory)`, () => {
    const mem = new WebAssembly.Memory(shared ? { initial: 2, maximum: 2, shared: true } : { initial: 2 });
    const k = trainKernelsFor(mem)!;
    assert.ok(k);
    let top = 64;
    const put = (a: ArrayLike<number>) => {
      const p = top;
      new Float32Array(mem.buffer, p, a.length).set(a);
      top += (a.length * 4 + 15) & ~15;
      return p;
    };
    const putU = (a: number[]) => {
      const p = top;
      new Uint32Array(mem.buffer, p, a.length).set(a);
      top += (a.length * 4 + 15) & ~15;
      return p;
    };
    const get = (p: number, n: number) => new Float32Array(mem.buffer, p, n).slice();
    const n = 4 * 19;
    const x = Float32Array.from({ length: n }, (_, i) => (i < edge.length ? edge[i] : randn(1)[0]));
    const dy = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? [Infinity, -3, 0][i % 3] : randn(1)[0]));
    const xp = put(x),
      dyp = put(dy),
      yp = put(new Float32Array(n)),
      y2 = put(new Float32Array(n));
    k.larqSign(xp, yp, n / 4);
    assertBits(
      get(yp, n),
      Array.from(x, (v) => (v < 0 ? -1 : 1)),
      'larqSign',
    );
    k.sign(xp, yp, n / 4);
    assertBits(
      get(yp, n),
      Array.from(x, (v) => (v > 0 ? 1 : v < 0 ? -1 : 0)),
      'sign',
    );
    k.steGrad(dyp, xp, yp, n / 4, 1);
    assertBits(
      get(yp, n),
      Array.from(x, (v, i) => dy[i] * (Math.abs(v) <= 1 ? 1 : 0)),
      'steGrad',
    );
    // Bop; then exact ties w·m' = τ (c1 = 1, c2 = 0 keep m): d = 0 → +1
    const tau = fr(1e-8),
      c1 = fr(1 - 1e-3),
      c2 = fr(1e-3);
    const w = pm1(n),
      m = Float32Array.from(randn(n), (v) => v * 1e-7),
      g = randn(n);
    const wp = put(w),
      mp = put(m),
      gp = put(g);
    k.bop(wp, mp, gp, yp, y2, n / 4, c1, c2, tau);
    const mn = Array.from(m, (v, i) => fr(fr(v * c1) + fr(g[i] * c2)));
    const d = mn.map((v, i) => fr(fr(w[i] * v) - tau));
    assertBits(get(y2, n), mn, 'bop m');
    assertBits(
      get(yp, n),
      d.map((v, i) => {
        const s = v > 0 ? 1 : v < 0 ? -1 : 0;
        return fr(-s * w[i]) < 0 ? -1 : 1;
      }),
      'bop w',
    );
    const tw = put([1, -1, 1, -1]),
      tm = put([tau, -tau, -tau, tau]),
      tg = put([5, 5, 5, 5]);
    k.bop(tw, tm, tg, yp, y2, 1, 1, 0, tau);
    assertBits(get(yp, 4), [1, 1, 1, -1], 'bop ties');
    // Adam (Keras), incl. g = 0 with v = 0 (√0 + ε) and large gradients
    const av = Float32Array.from(randn(n), (t) => t * t * 1e-3),
      ag = Float32Array.from(dy, (t, i) => (i % 5 === 0 ? 0 : Number.isFinite(t) ? t * 1e3 : 1));
    av[0] = 0;
    const [b1, b1c, b2, b2c, eps, lr] = [0.9, 1 - 0.9, 0.999, 1 - 0.999, 1e-7, 1e-3].map(fr);
    const avp = put(av),
      agp = put(ag),
      y3 = put(new Float32Array(n));
    k.adam(xp, mp, avp, agp, yp, y2, y3, n / 4, b1, b1c, b2, b2c, eps, lr);
    const am = Array.from(m, (t, i) => fr(fr(t * b1) + fr(ag[i] * b1c)));
    const avn = Array.from(av, (t, i) => fr(fr(t * b2) + fr(fr(ag[i] * ag[i]) * b2c)));
    assertBits(get(y2, n), am, 'adam m');
    assertBits(get(y3, n), avn, 'adam v');
    assertBits(
      get(yp, n),
      Array.from(x, (t, i) => fr(t - fr(fr(am[i] / fr(fr(Math.sqrt(avn[i])) + eps)) * lr))),
      'adam w',
    );
    // column kernels on a [rows, C] matrix
    const rows = 5,
      C = 12,
      c4 = C / 4;
    const X = randn(rows * C),
      D = randn(rows * C),
      mu = randn(C),
      sc = randn(C),
      be = randn(C),
      k2 = randn(C);
    const Xp = put(X),
      Dp = put(D),
      mup = put(mu),
      sp = put(sc),
      bp = put(be),
      k2p = put(k2),
      Yp = put(new Float32Array(rows * C));
    const a1 = put(new Float32Array(C)),
      a2 = put(new Float32Array(C));
    const cols = (f: (acc: number, r: number, c: number) => number) =>
      Array.from({ length: C }, (_, c) => {
        let a = 0;
        for (let r = 0; r < rows; r++) a = fr(f(a, r, c));
        return a;
      });
    k.colSum(Xp, rows, c4, a1);
    assertBits(
      get(a1, C),
      cols((a, r, c) => a + X[r * C + c]),
      'colSum',
    );
    new Float32Array(mem.buffer, a1, C).fill(0);
    k.colSqDev(Xp, rows, c4, mup, a1);
    assertBits(
      get(a1, C),
      cols((a, r, c) => {
        const v = fr(X[r * C + c] - mu[c]);
        return a + fr(v * v);
      }),
      'colSqDev',
    );
    new Float32Array(mem.buffer, a1, C).fill(0);
    k.bnGradSums(Dp, Xp, rows, c4, mup, a1, a2);
    assertBits(
      get(a1, C),
      cols((a, r, c) => a + D[r * C + c]),
      'bnGradSums a1',
    );
    assertBits(
      get(a2, C),
      cols((a, r, c) => a + fr(D[r * C + c] * fr(X[r * C + c] - mu[c]))),
      'bnGradSums a2',
    );
    k.bnApply(Xp, Yp, rows, c4, mup, sp, bp);
    assertBits(
      get(Yp, rows * C),
      Array.from(X, (v, i) => fr(fr(fr(v - mu[i % C]) * sc[i % C]) + be[i % C])),
      'bnApply',
    );
    k.bnGradApply(Dp, Xp, Yp, rows, c4, mup, sp, bp, k2p);
    assertBits(
      get(Yp, rows * C),
      Array.from(X, (v, i) => {
        const c = i % C;
        return fr(fr(fr(sc[c] * D[i]) - be[c]) - fr(k2[c] * fr(v - mu[c])));
      }),
      'bnGradApply',
    );
    // Winograd transforms: T tiles whose 16 pixels are random rows of a [P, C] image
    const T = 3,
      P = 10,
      img = randn(P * C),
      imgp = put(img);
    const pix = Array.from({ length: 16 * T }, () => Math.floor(Math.abs(randn(1)[0]) * 7) % P);
    const tab = putU(pix.map((q) => imgp + q * C * 4));
    const V = put(new Float32Array(16 * T * C)),
      obase = putU(Array.from({ length: 16 }, (_, q) => V + q * T * C * 4));
    k.winoIn(tab, T, c4, obase);
    const B = [
      [1, 0, -1, 0],
      [0, 1, 1, 0],
      [0, -1, 1, 0],
      [0, 1, 0, -1],
    ]; // Bᵀ
    const combine = (coef: number[], vals: number[]) => {
      // Σ coef·val in order, ±1 coefficients: adds and subtracts
      let acc: number | null = null;
      coef.forEach((cf, i) => {
        if (cf !== 0) acc = acc === null ? (cf > 0 ? vals[i] : -vals[i]) : fr(cf > 0 ? acc + vals[i] : acc - vals[i]);
      });
      return acc!;
    };
    const vRef = new Float32Array(16 * T * C);
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++) {
        const dd = (r: number, q: number) => img[pix[16 * t + 4 * r + q] * C + c];
        const u = B.map((row) =>
          [0, 1, 2, 3].map((q) =>
            combine(
              row,
              [0, 1, 2, 3].map((r) => dd(r, q)),
            ),
          ),
        );
        for (let i = 0; i < 4; i++)
          for (let q = 0; q < 4; q++) vRef[(4 * i + q) * T * C + t * C + c] = combine(B[q], u[i]);
      }
    assertBits(get(V, 16 * T * C), vRef, 'winoIn');
    const Yw = put(new Float32Array(4 * T * C)),
      dtab = putU(Array.from({ length: 4 * T }, (_, q) => Yw + q * C * 4));
    k.winoOut(obase, T, c4, dtab);
    const A = [
      [1, 1, 1, 0],
      [0, 1, -1, -1],
    ]; // Aᵀ
    const yRef = new Float32Array(4 * T * C);
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++) {
        const mm = (r: number, q: number) => vRef[(4 * r + q) * T * C + t * C + c];
        const s2 = A.map((row) =>
          [0, 1, 2, 3].map((q) =>
            combine(
              row,
              [0, 1, 2, 3].map((r) => mm(r, q)),
            ),
          ),
        );
        for (let a = 0; a < 2; a++)
          for (let b = 0; b < 2; b++) yRef[(4 * t + 2 * a + b) * C + c] = combine(A[b], s2[a]);
      }
    assertBits(get(Yw, 4 * T * C), yRef, 'winoOut');
    // max-pool gradient on a [1, 4, 6, C] image with ties: first maximum (row-major) of each window gets dy
    const H = 4,
      Wd = 6,
      pim = Float32Array.from(randn(H * Wd * C), (v) => Math.round(v)),
      pdy = randn((H / 2) * (Wd / 2) * C);
    const pxp = put(pim),
      pdyp = put(pdy),
      pdx = put(new Float32Array(H * Wd * C).fill(7));
    const ptab = putU([0, 2 * Wd * C * 4]);
    k.maxPoolGrad2(ptab, H / 2, Wd / 2, c4, Wd * C * 4, pxp, pdyp, pdx);
    const pRef = new Float32Array(H * Wd * C);
    for (let r = 0; r < H / 2; r++)
      for (let o = 0; o < Wd / 2; o++)
        for (let c = 0; c < C; c++) {
          const at = [0, 1, Wd, Wd + 1].map((q) => (2 * r * Wd + 2 * o + q) * C + c);
          let best = 0;
          for (let q = 1; q < 4; q++) if (pim[at[q]] > pim[at[best]]) best = q;
          at.forEach((p, q) => {
            pRef[p] = q === best ? pdy[(r * (Wd / 2) + o) * C + c] : 0;
          });
        }
    assertBits(get(pdx, H * Wd * C), pRef, 'maxPoolGrad2');
  });
}
