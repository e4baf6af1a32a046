import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../src/backend';
import { binaryNet } from '../src/models/binarynet';
import { modelVariables } from '../src/layers';
import { AdamOptimizer, BopOptimizer, CaseOptimizer } from '../src/optimizers';
import { train } from '../src/train/loop';
import { Rng } from '../src/random';
import { tinySplit } from './helpers/tinyData';

before(async () => {
  await initBackend({ backend: 'wasm' });
});
after(() => shutdownBackend());

const bopOptimizer = () =>
  new CaseOptimizer(
    [{ name: 'bop', claims: (v) => v.binary, optimizer: new BopOptimizer({ gamma: 1e-3, threshold: 1e-6 }) }],
    { name: 'adam', optimizer: new AdamOptimizer({ lr: 0.01 }) },
  );

async function run(seed: number, epochs: number, onEpoch?: () => void) {
  const model = binaryNet({ width: 1 / 16, seed, dropout: 0.1 });
  const h = await train({
    model,
    optimizer: bopOptimizer(),
    train: tinySplit(100, 1),
    val: tinySplit(40, 2),
    epochs,
    batchSize: 20,
    rng: new Rng(seed),
    log: null,
    onEpoch,
  });
  return { model, h };
}

test('same seed, same history on the same backend (dropout, shuffling, Bop, Adam)', async () => {
  const a = await run(3, 2);
  const b = await run(3, 2);
  const strip = (h: typeof a.h) => h.map(({ seconds, ...r }) => r);
  assert.deepEqual(strip(a.h), strip(b.h));
  const c = await run(4, 1);
  assert.notDeepEqual(strip(c.h)[0], strip(a.h)[0]);
  // Bop kernels are exactly ±1 after training
  for (const v of modelVariables(a.model).filter((v) => v.binary))
    assert.ok(Array.from(v.variable.dataSync()).every((w) => w === 1 || w === -1));
  [a, b, c].forEach((r) => r.model.dispose());
});

test('history records every field; flip ratio per binary layer', async () => {
  const { model, h } = await run(5, 1);
  const r = h[0];
  assert.equal(r.epoch, 1);
  assert.equal(r.step, 5);
  assert.equal(r.gamma, 1e-3);
  assert.equal(r.threshold, 1e-6);
  assert.equal(r.lr, 0.01);
  assert.deepEqual(Object.keys(r.flipRatio).length, 9);
  for (const f of Object.values(r.flipRatio)) assert.ok(f >= 0 && f <= 1);
  assert.ok(r.seconds > 0 && Number.isFinite(r.loss) && r.accuracy >= 0 && r.accuracy <= 1 && r.valAccuracy >= 0);
  model.dispose();
});

test('no tensor leak: tensor count after epoch 2 equals that after epoch 5', async () => {
  const counts: number[] = [];
  const { model } = await run(6, 5, () => counts.push(tf.memory().numTensors));
  assert.equal(counts.length, 5);
  assert.equal(counts[4], counts[1]);
  model.dispose();
});

test('a NaN loss stops the run with a message naming the step', async () => {
  const model = binaryNet({ width: 1 / 16, seed: 1 });
  await assert.rejects(
    train({
      model,
      optimizer: bopOptimizer(),
      train: tinySplit(20, 1, { nan: true }),
      val: tinySplit(20, 2),
      epochs: 1,
      batchSize: 20,
      rng: new Rng(1),
      log: null,
    }),
    /Loss became NaN at epoch 1, step 1/,
  );
  model.dispose();
});

test('latent-weight baseline: Adam on ste_sign kernels, clipped to [-1, 1] after every step', async () => {
  const model = binaryNet({ width: 1 / 16, seed: 2, kernels: 'latent' });
  const opt = new AdamOptimizer({ lr: 0.5 }); // large lr so that clipping matters
  const h = await train({
    model,
    optimizer: opt,
    train: tinySplit(40, 1),
    val: tinySplit(20, 2),
    epochs: 1,
    batchSize: 20,
    rng: new Rng(1),
    log: null,
  });
  const kernels = modelVariables(model).filter((v) => v.binary);
  const all = kernels.flatMap((v) => Array.from(v.variable.dataSync()));
  assert.ok(all.every((w) => w >= -1 && w <= 1));
  assert.ok(
    all.some((w) => w === 1 || w === -1),
    'some latent weights hit the clip',
  );
  assert.ok(
    all.some((w) => w !== 1 && w !== -1),
    'latent weights are real-valued',
  );
  assert.equal(h[0].gamma, null);
  model.dispose();
});

test('Bop training lowers the loss and beats chance on a learnable problem', async () => {
  const model = binaryNet({ width: 1 / 8, seed: 1 });
  const h = await train({
    model,
    optimizer: bopOptimizer(),
    train: tinySplit(200, 1),
    val: tinySplit(100, 2),
    epochs: 4,
    batchSize: 20,
    rng: new Rng(1),
    log: null,
  });
  assert.ok(h[3].loss < h[0].loss, `loss ${h.map((r) => r.loss)}`);
  assert.ok(h[3].accuracy > 0.3, `accuracy ${h[3].accuracy}`);
  model.dispose();
});

test("each record's γ and lr are the values its epoch trained with; the test split is scored after the last epoch only", async () => {
  // γ and lr decay ×0.1 exactly at the epoch boundary (5 steps per epoch): epoch 1 trains with the initial values.
  const opt = new CaseOptimizer(
    [
      {
        name: 'bop',
        claims: (v) => v.binary,
        optimizer: new BopOptimizer({
          gamma: { kind: 'staircase', initial: 1e-3, decayRate: 0.1, decaySteps: 5 },
          threshold: 1e-6,
        }),
      },
    ],
    {
      name: 'adam',
      optimizer: new AdamOptimizer({ lr: { kind: 'staircase', initial: 0.01, decayRate: 0.1, decaySteps: 5 } }),
    },
  );
  const model = binaryNet({ width: 1 / 16, seed: 1 });
  const h = await train({
    model,
    optimizer: opt,
    train: tinySplit(100, 1),
    val: tinySplit(40, 2),
    test: tinySplit(30, 3),
    epochs: 2,
    batchSize: 20,
    rng: new Rng(1),
    log: null,
  });
  assert.equal(h[0].gamma, 1e-3);
  assert.equal(h[0].lr, 0.01);
  assert.ok(Math.abs(h[1].gamma! - 1e-4) < 1e-18);
  assert.ok(Math.abs(h[1].lr - 1e-3) < 1e-15);
  assert.equal(h[0].extra?.testAccuracy, undefined);
  assert.equal(h[1].extra?.testN, 30);
  assert.ok(h[1].extra!.testAccuracy >= 0 && h[1].extra!.testAccuracy <= 1);
  model.dispose();
});
