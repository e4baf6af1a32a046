import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { ModelVariable } from '../src/layers';
import {
  AdamOptimizer,
  BopOptimizer,
  CaseOptimizer,
  bopUpdate,
  countFlips,
  logFlipRatio,
  scheduleValue,
  staircase,
  validateSchedule,
  xavierLrMultipliers,
} from '../src/optimizers';

before(async () => {
  await tf.setBackend('cpu');
});

const mv = (
  layer: string,
  name: string,
  values: number[] | tf.Tensor,
  binary: boolean,
  clip = false,
): ModelVariable => ({
  layer,
  name,
  binary,
  clip,
  variable: tf.variable(values instanceof tf.Tensor ? values : tf.tensor1d(values)),
});
const arr = (t: tf.Tensor) => Array.from(t.dataSync());
const close = (a: number[], b: number[], tol = 1e-6) =>
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `${a} vs ${b} at ${i}`));

test('Bop over several steps matches hand-computed values (m from 0, strict w·m > τ, w·m = τ gives +1, γ changes mid-run)', () => {
  // gamma schedule: 0.5 for steps 0,1 then 0.05 (staircase ×0.1 every 2 steps); tau = 0.25
  const bop = new BopOptimizer({ gamma: staircase(0.5, 0.1, 2), threshold: 0.25 });
  const w = mv('l', 'kernel', [1, 1, -1, -1, 1], true);
  const m = [0, 0, 0, 0, 0];
  const wHand = [1, 1, -1, -1, 1];
  const gs = [
    [1, 0.5, -1, 0.2, -3],
    [0.2, 0.5, -0.2, 2, 0],
    [2, 10, 1, 1, 1],
  ];
  const gammas = [0.5, 0.5, 0.05];
  gs.forEach((g, t) => {
    assert.equal(bop.hyper().gamma, gammas[t]);
    bop.apply([w], [tf.tensor1d(g)]);
    for (let i = 0; i < 5; i++) {
      m[i] = (1 - gammas[t]) * m[i] + gammas[t] * g[i];
      const wm = wHand[i] * m[i];
      wHand[i] = wm > 0.25 ? -wHand[i] : wm === 0.25 ? 1 : wHand[i];
    }
    close(arr(w.variable), wHand);
  });
  // step 1: m = [0.5, 0.25, -0.5, 0.1, -1.5]; w·m = [0.5, 0.25(=τ, no flip), 0.5, -0.1, -1.5] → [-1, 1, 1, -1, 1]
  const bop2 = new BopOptimizer({ gamma: 0.5, threshold: 0.25 });
  const w2 = mv('l', 'kernel', [1, 1, -1, -1, 1], true);
  bop2.apply([w2], [tf.tensor1d([1, 0.5, -1, 0.2, -3])]);
  assert.deepEqual(arr(w2.variable), [-1, 1, 1, -1, 1]);
  assert.equal(bop2.iterations, 1);
});

test('bopUpdate: at w·m = τ exactly the original sets the weight to +1 (tf.sign(0) = 0, Larq sign(0) = +1)', () => {
  // m = γ·g with γ = 1: w·m = [0.5, 0.5] = τ for both weights
  const [w, m] = bopUpdate(tf.tensor1d([-1, 1]), tf.tensor1d([0, 0]), tf.tensor1d([-0.5, 0.5]), 1, 0.5);
  assert.deepEqual(arr(m), [-0.5, 0.5]);
  assert.deepEqual(arr(w), [1, 1]);
  // just above τ flips, just below keeps
  const [w2] = bopUpdate(
    tf.tensor1d([-1, 1, -1, 1]),
    tf.tensor1d([0, 0, 0, 0]),
    tf.tensor1d([-0.75, 0.75, -0.25, 0.25]),
    1,
    0.5,
  );
  assert.deepEqual(arr(w2), [1, -1, -1, 1]);
});

test('Bop binarizes real-valued initial kernels on the first step and keeps ±1', () => {
  const bop = new BopOptimizer({ gamma: 1e-4, threshold: 1e-8 });
  const w = mv('l', 'kernel', [0.3, -0.2, 0, -0.0001], true);
  bop.apply([w], [tf.tensor1d([0, 0, 0, 0])]);
  assert.deepEqual(arr(w.variable), [1, -1, 1, -1]);
  for (let i = 0; i < 5; i++) bop.apply([w], [tf.randomNormal([4])]);
  for (const x of arr(w.variable)) assert.ok(x === 1 || x === -1);
});

test('Bop refuses non-binary variables', () => {
  const bop = new BopOptimizer({ gamma: 1e-4, threshold: 1e-8 });
  assert.throws(() => bop.apply([mv('bn', 'beta', [0], false)], [tf.tensor1d([1])]), /non-binary variable bn\/beta/);
});

test('Adam follows the Keras TF2.0 update', () => {
  const adam = new AdamOptimizer({ lr: 0.1 });
  const v = mv('l', 'beta', [1, -2], false);
  const g = [
    [0.5, -1],
    [0.1, 0.3],
  ];
  let m = [0, 0],
    s = [0, 0],
    w = [1, -2];
  g.forEach((gt, i) => {
    adam.apply([v], [tf.tensor1d(gt)]);
    const t = i + 1;
    const lrT = (0.1 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
    m = m.map((x, j) => 0.9 * x + 0.1 * gt[j]);
    s = s.map((x, j) => 0.999 * x + 0.001 * gt[j] ** 2);
    w = w.map((x, j) => x - (lrT * m[j]) / (Math.sqrt(s[j]) + 1e-7));
    close(arr(v.variable), w, 1e-5);
  });
});

test('schedules: staircase in steps, validation of negative values', () => {
  const s = staircase(1e-4, 0.1, 100000);
  assert.equal(scheduleValue(s, 0), 1e-4);
  assert.equal(scheduleValue(s, 99999), 1e-4);
  assert.ok(Math.abs(scheduleValue(s, 100000) - 1e-5) < 1e-20);
  assert.ok(Math.abs(scheduleValue(s, 450000) - 1e-8) < 1e-22);
  assert.throws(() => validateSchedule(-1, 'Bop gamma'), /Bop gamma: must be a finite number ≥ 0, got -1/);
  assert.throws(() => new BopOptimizer({ gamma: 1e-4, threshold: -1 }), /threshold/);
  assert.throws(
    () => new AdamOptimizer({ lr: { kind: 'staircase', initial: 1, decayRate: 0.1, decaySteps: 0 } }),
    /decaySteps must be > 0/,
  );
});

test('CaseOptimizer routes binary kernels to Bop and the rest to Adam; refuses double claims and idle optimizers', () => {
  const vars = [mv('c1', 'kernel', [0.5, -0.5], true), mv('bn1', 'beta', [0, 0], false)];
  const opt = new CaseOptimizer(
    [{ name: 'bop', claims: (v) => v.binary, optimizer: new BopOptimizer({ gamma: 0.5, threshold: 0 }) }],
    { name: 'adam', optimizer: new AdamOptimizer({ lr: 0.01 }) },
  );
  assert.deepEqual(opt.assign(vars), { bop: ['c1/kernel'], adam: ['bn1/beta'] });
  opt.apply(vars, [tf.tensor1d([1, 1]), tf.tensor1d([1, 1])]);
  assert.deepEqual(arr(vars[0].variable), [-1, -1]);
  close(arr(vars[1].variable), [-0.01, -0.01], 1e-4);
  assert.deepEqual(opt.hyper(), { gamma: 0.5, threshold: 0, lr: 0.01 });

  const twice = new CaseOptimizer(
    [
      { name: 'bop', claims: (v) => v.binary, optimizer: new BopOptimizer({ gamma: 0.5, threshold: 0 }) },
      { name: 'adam-all', claims: () => true, optimizer: new AdamOptimizer({ lr: 0.01 }) },
    ],
    null,
  );
  assert.throws(() => twice.assign(vars), /c1\/kernel is claimed by several optimizers \(bop, adam-all\)/);
  const idle = new CaseOptimizer(
    [{ name: 'bop', claims: () => false, optimizer: new BopOptimizer({ gamma: 0.5, threshold: 0 }) }],
    { name: 'adam', optimizer: new AdamOptimizer({ lr: 0.01 }) },
  );
  assert.throws(() => idle.assign(vars), /Optimizer 'bop' claims no variable/);
});

test('optimizer state round trip restores the exact trajectory', () => {
  const make = () =>
    new CaseOptimizer(
      [
        {
          name: 'bop',
          claims: (v) => v.binary,
          optimizer: new BopOptimizer({ gamma: staircase(0.3, 0.1, 3), threshold: 0.01 }),
        },
      ],
      { name: 'adam', optimizer: new AdamOptimizer({ lr: staircase(0.1, 0.5, 2) }) },
    );
  const grads = Array.from({ length: 6 }, (_, i) => [
    tf.randomNormal([4], 0, 1, 'float32', i),
    tf.randomNormal([3], 0, 1, 'float32', 100 + i),
  ]);
  const varsA = [mv('c', 'kernel', [0.1, -0.2, 0.3, -0.4], true), mv('bn', 'beta', [0, 0.1, 0.2], false)];
  const a = make();
  grads.forEach((g) => a.apply(varsA, g));

  const varsB = [mv('c', 'kernel', [0.1, -0.2, 0.3, -0.4], true), mv('bn', 'beta', [0, 0.1, 0.2], false)];
  const b = make();
  grads.slice(0, 3).forEach((g) => b.apply(varsB, g));
  const state = b.getState();
  const json = JSON.parse(JSON.stringify(state.meta));
  const varsC = [mv('c', 'kernel', arr(varsB[0].variable), true), mv('bn', 'beta', arr(varsB[1].variable), false)];
  const c = make();
  c.setState({ meta: json, tensors: state.tensors });
  assert.equal(c.iterations, 3);
  assert.deepEqual(c.hyper(), b.hyper());
  grads.slice(3).forEach((g) => c.apply(varsC, g));
  assert.deepEqual(arr(varsC[0].variable), arr(varsA[0].variable));
  assert.deepEqual(arr(varsC[1].variable), arr(varsA[1].variable));
});

test("flip counting and the paper's log flip ratio", () => {
  assert.equal(countFlips(tf.tensor1d([1, -1, 0, 0.5]), tf.tensor1d([-1, -1, -0.1, 0])).dataSync()[0], 2);
  assert.ok(Math.abs(logFlipRatio(0) + 9) < 1e-12);
  assert.ok(Math.abs(logFlipRatio(0.01) - Math.log(0.01 + Math.exp(-9))) < 1e-12);
});

test('Xavier lr multipliers are 1/glorot limit per binary kernel', () => {
  const k = mv('c', 'kernel', tf.zeros([3, 3, 4, 8]), true);
  const beta = mv('bn', 'beta', [0], false);
  const mult = xavierLrMultipliers([k, beta]);
  assert.deepEqual(Object.keys(mult), ['c/kernel']);
  assert.ok(Math.abs(mult['c/kernel'] - 1 / Math.sqrt(1.5 / (36 + 72))) < 1e-12);
});
