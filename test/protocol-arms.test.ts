// The arms of the protocol against hand-written expectations: the report-code baseline's layers, where dropout sits,
// the settled final score, the calibration plans and their selection rule, and the derivation every config records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { binaryNet } from '../src/models/binarynet';
import { BatchNorm, modelVariables, SeededDropout, dropoutLayers } from '../src/layers';
import { settleBatchNorm } from '../src/train/settle';
import type { SplitSource } from '../src/train/loop';
import { choose, planFor, planJobs, planPoints, PLANS, type GridResultPoint } from '../src/experiments/calibrate';
import { getExperiment, profileConfig, stepsPerEpochOf } from '../src/experiments/registry';
import { resolveConfig } from '../src/experiments/run';
import { MODELS } from '../src/experiments/components';
import { petsTrainCount } from '../src/data/pets';

const close = (a: number, b: number, rel = 1e-6) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(1e-12, Math.abs(b)), `${a} ≠ ${b}`);

test('the report-code baseline: ste_sign inputs, the first kernel latent and clipped, every later kernel real-valued, BN momentum 0.999', () => {
  const c = profileConfig('cifar10-report-baseline', 'quick', 0);
  assert.equal(c.kernels, 'real-hidden');
  assert.equal(c.bnMomentum, 0.999);
  assert.equal(c.xavierLrScaling, false);
  assert.equal(c.optimizer, 'adam');
  const m = MODELS.binarynet.build(c, { inputShape: [32, 32, 3], numClasses: 10 } as never);
  // hand-written expectation, layer by layer (cifar.ipynb cell 7)
  const expected: Record<
    string,
    { input: string | null; kernel: string | null; binary: boolean; constraint: string | null }
  > = {
    quant_conv2d_1: { input: null, kernel: 'ste_sign', binary: true, constraint: 'weight_clip' },
    quant_conv2d_2: { input: 'ste_sign', kernel: null, binary: false, constraint: null },
    quant_conv2d_3: { input: 'ste_sign', kernel: null, binary: false, constraint: null },
    quant_conv2d_4: { input: 'ste_sign', kernel: null, binary: false, constraint: null },
    quant_conv2d_5: { input: 'ste_sign', kernel: null, binary: false, constraint: null },
    quant_conv2d_6: { input: 'ste_sign', kernel: null, binary: false, constraint: null },
    quant_dense_7: { input: 'ste_sign', kernel: null, binary: false, constraint: null },
    quant_dense_8: { input: 'ste_sign', kernel: null, binary: false, constraint: null },
    quant_dense_9: { input: 'ste_sign', kernel: null, binary: false, constraint: null },
  };
  for (const [name, want] of Object.entries(expected)) {
    const cfg = m.getLayer(name).getConfig() as Record<string, unknown>;
    assert.equal(cfg.inputQuantizer ?? null, want.input, `${name} input quantizer`);
    assert.equal(cfg.kernelQuantizer ?? null, want.kernel, `${name} kernel quantizer`);
    assert.equal(cfg.binaryKernel, want.binary, `${name} binary kernel`);
    assert.equal(cfg.kernelConstraint ?? null, want.constraint, `${name} constraint`);
  }
  const bns = m.layers.filter((l) => l instanceof BatchNorm) as BatchNorm[];
  assert.equal(bns.length, 9);
  for (const b of bns) assert.equal(b.momentum, 0.999);
  const vars = modelVariables(m);
  assert.deepEqual(
    vars.filter((v) => v.binary).map((v) => v.layer),
    ['quant_conv2d_1'],
  );
  assert.deepEqual(
    vars.filter((v) => v.clip).map((v) => v.layer),
    ['quant_conv2d_1'],
  );
  // the binary baseline keeps every kernel binary, and Bop's arm too
  const latent = MODELS.binarynet.build(profileConfig('cifar10-adam-baseline', 'quick', 0), {
    inputShape: [32, 32, 3],
    numClasses: 10,
  } as never);
  assert.equal(modelVariables(latent).filter((v) => v.binary).length, 9);
  m.dispose();
  latent.dispose();
});

test("dropout sits directly after each quantized layer (the report's text) or after each block's BN (the variant)", () => {
  const order = (placement: 'afterLayer' | 'afterBn') => {
    const m = binaryNet({ width: 0.0625, dropout: 0.25, dropoutPlacement: placement });
    const names = m.layers.map((l) => l.name);
    m.dispose();
    return names;
  };
  const after = order('afterLayer');
  assert.deepEqual(after.slice(0, 7), [
    'quant_conv2d_1',
    'dropout_1',
    'bn_1',
    'quant_conv2d_2',
    'dropout_2',
    'max_pool_2',
    'bn_2',
  ]);
  assert.deepEqual(after.slice(-6), ['quant_dense_8', 'dropout_8', 'bn_8', 'quant_dense_9', 'bn_9', 'softmax']);
  assert.ok(!after.includes('dropout_9'), 'no dropout on the 10-way output');
  const bn = order('afterBn');
  assert.deepEqual(bn.slice(0, 6), ['quant_conv2d_1', 'bn_1', 'dropout_1', 'quant_conv2d_2', 'max_pool_2', 'bn_2']);
  assert.equal(after.filter((n) => n.startsWith('dropout')).length, 8);
  assert.equal(bn.filter((n) => n.startsWith('dropout')).length, 8);
  assert.equal(profileConfig('cifar10-bop-dropout', 'quick', 0).dropoutPlacement, 'afterLayer');
  assert.equal(profileConfig('cifar10-bop-dropout-after-bn', 'quick', 0).dropoutPlacement, 'afterBn');
});

test('settled score: BN moving statistics become the plain average of the batch statistics, with dropout off and its generator untouched', () => {
  const input = tf.input({ shape: [3] });
  const d = new SeededDropout({ rate: 0.5, seed: 7, name: 'drop' });
  const b = new BatchNorm({ momentum: 0.99, scale: false, name: 'bn' });
  const out = b.apply(d.apply(input)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  // 3 batches of 2 rows; the remainder (1 row) is dropped
  const rows = [
    [1, 2, 3],
    [3, 2, 1],
    [0, 0, 6],
    [2, 4, 0],
    [5, 1, 1],
    [1, 1, 1],
    [100, 100, 100],
  ];
  const split: SplitSource = {
    n: rows.length,
    batch(idx) {
      return { x: tf.tensor2d(Array.from(idx).map((i) => rows[i])), y: tf.zeros([idx.length, 1]) };
    },
  };
  const rngBefore = JSON.stringify(dropoutLayers(model)[0].rng.getState());
  assert.equal(settleBatchNorm(model, split, 2), 3);
  const [mu, v] = [b.getWeights()[1].dataSync(), b.getWeights()[2].dataSync()];
  for (let j = 0; j < 3; j++) {
    const means: number[] = [];
    const vars: number[] = [];
    for (let k = 0; k < 3; k++) {
      const a = rows[2 * k][j];
      const c = rows[2 * k + 1][j];
      const m = (a + c) / 2;
      means.push(m);
      vars.push(((a - m) ** 2 + (c - m) ** 2) / 2); // 2-D input: the biased batch variance, as Keras
    }
    close(mu[j], (means[0] + means[1] + means[2]) / 3, 1e-5);
    close(v[j], (vars[0] + vars[1] + vars[2]) / 3, 1e-5);
  }
  assert.equal(JSON.stringify(dropoutLayers(model)[0].rng.getState()), rngBefore, 'no random draw');
  assert.equal(d.suspended, false);
  assert.equal(b.momentumOverride, null);
  model.dispose();
});

test("equal tuning: Bop's γ × τ grid and the baseline's learning-rate grid have the same budget; the selection rule is fixed", () => {
  const runs = PLANS.map((p) => planJobs({ ...p, profile: 'quick' }).length);
  assert.deepEqual(runs, [18, 18], '9 points × 2 seeds for each arm');
  const base = planFor('cifar10-adam-baseline', 'quick');
  const derived = profileConfig('cifar10-adam-baseline', 'quick', 0, {}, {});
  const pts = planPoints(base);
  assert.equal(pts.length, 9);
  close(pts[0].values.lr!, derived.lr.initial * 0.1);
  close(pts[8].values.lr!, derived.lr.initial * 10);
  assert.ok(pts.every((p) => p.set.includes('holdoutPerClass=200') && !p.excluded));
  // a grid run's config holds the absolute value it ran with, whatever the calibration file says
  const c = resolveConfig('cifar10-adam-baseline', 'quick', 0, pts[2].set);
  close(c.lr.initial, derived.lr.initial * 0.316);
  const bop = planPoints(planFor('cifar10-bop', 'quick'));
  assert.equal(bop.filter((p) => p.excluded).length, 3, 'the τ = 0 column, disclosed');
  // the rule: best mean score among finished, non-excluded points; ties to the point nearest the derived values
  const pt = (factors: Record<string, number>, score: number, extra: Partial<GridResultPoint> = {}) =>
    ({
      factors,
      values: {},
      gammaFactor: NaN,
      tauFactor: NaN,
      gamma: NaN,
      tau: NaN,
      valAccuracy: [],
      flipRatio: [],
      seeds: [],
      complete: true,
      score,
      ...extra,
    }) as GridResultPoint;
  const grid = [
    pt({ gamma: 1, tau: 0 }, 0.6, { excluded: 'τ = 0' }),
    pt({ gamma: 3.16, tau: 1 }, 0.5),
    pt({ gamma: 1, tau: 1 }, 0.5),
    pt({ gamma: 0.316, tau: 10 }, 0.55, { complete: false }),
  ];
  assert.deepEqual(choose(grid)!.factors, { gamma: 1, tau: 1 });
  assert.deepEqual(choose(grid, true)!.factors, { gamma: 1, tau: 0 });
  assert.equal(choose([pt({ lr: 1 }, NaN, { complete: false })]), null);
});

test('every config records its derivation; --set re-derives γ·T; the UNets follow the dynamics rule on the Pets copy found', () => {
  const bop = profileConfig('cifar10-bop', 'quick', 0, {}, {});
  assert.deepEqual(
    bop.derivation!.gammaT.map((x) => Number(x.toPrecision(3))),
    [10, 1],
  );
  close(bop.derivation!.tauRelative!, 1);
  const over = resolveConfig('cifar10-bop', 'quick', 0, [`gamma=${bop.gamma!.initial / 2}`]);
  close(over.derivation!.gammaT[0], 5, 1e-5);
  close(over.derivation!.gammaT[0], over.gamma!.initial * over.gamma!.everySteps!);
  const u = profileConfig('pets-unet-binary-bop', 'quick', 0);
  const nTrain = petsTrainCount() ?? 3680;
  assert.equal(u.derivation!.stepsPerEpoch, Math.floor(nTrain / 8));
  assert.equal(
    stepsPerEpochOf(getExperiment('pets-unet-binary-bop'), getExperiment('pets-unet-binary-bop').quick),
    u.derivation!.stepsPerEpoch,
  );
  assert.equal(u.derivation!.paperStepsCovered, u.derivation!.paperStepsTotal, 'the whole report run');
  // γ·T per phase as in the report's UNet (1e-4 for 100 epochs of 57 steps = 0.57, then 0.057, 0.0057), up to the rounding of decay steps
  const g = u.derivation!.gammaT;
  assert.ok(
    g.length >= 3 && g.slice(3).every((x) => x < 0.001),
    'three phases (a last step or two may fall after the third decay by rounding)',
  );
  close(g[0], 0.57, 0.05);
  close(g[1], 0.057, 0.05);
  assert.ok(u.gamma!.everySteps! < u.derivation!.runSteps, 'the run reaches its γ decays');
  // τ: the Bop arm at the measured noise of m, the variant at the report's τ carried by rule 3 (≈ 1 % of that noise)
  close(u.derivation!.tauOverNoise!, 1);
  const r = profileConfig('pets-unet-binary-bop-report-tau', 'quick', 0);
  close(r.derivation!.tauRelative!, 1);
  assert.ok(r.derivation!.tauOverNoise! < 0.05, `report τ against the noise of m: ${r.derivation!.tauOverNoise}`);
  assert.deepEqual(r.gamma, u.gamma, 'the two UNet Bop arms differ in τ only');
});

test('constant γ holds the derived γ over the whole report run: γ·T 50, as the report; compared with its decayed, untuned twin', () => {
  const c = profileConfig('cifar10-bop-constant-gamma', 'quick', 0);
  const twin = profileConfig('cifar10-bop-untuned', 'quick', 0);
  close(
    c.derivation!.gammaT.reduce((a, b) => a + b, 0),
    50,
    1e-6,
  );
  assert.equal(c.derivation!.paperStepsCovered, c.derivation!.paperStepsTotal);
  assert.equal(c.gamma!.initial, twin.gamma!.initial);
  assert.equal(c.threshold, twin.threshold);
});
