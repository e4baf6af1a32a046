import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../src/backend';
import { BatchNorm, modelVariables, QuantConv2D } from '../src/layers';
import { modelSizeBits, parameterCounts, unet } from '../src/models/unet';
import {
  confusionMatrix,
  meanIoU,
  pixelAccuracy,
  predictMasks,
  segmentation,
  segmentationMetrics,
} from '../src/train/segmentation';
import { train, SplitSource } from '../src/train/loop';
import { Rng } from '../src/random';
import { buildOptimizer, runExperiment } from '../src/experiments/run';
import { MODELS } from '../src/experiments/components';
import { DATASETS } from '../src/experiments/datasets';
import { getExperiment, profileConfig } from '../src/experiments/registry';
import { writeUnetPredictions } from '../src/experiments/unet';
import { resolvePetsDir } from '../src/data';

before(async () => {
  await initBackend({ backend: 'wasm' });
});
after(() => shutdownBackend());

/**
 * Parameter counts of the UNet worked out independently from the notebook's architecture:
 * kernels 3·3·cin·cout per conv, skips concatenated before each up block, 1×1 output conv.
 */
function expectedCounts(width: number, binary: boolean) {
  const u = (n: number) => Math.max(1, Math.round(n * width));
  const convs: [number, number, number][] = []; // [k, cin, cout]
  if (binary) convs.push([3, 3, u(32)]);
  else convs.push([3, 3, u(32)], [3, u(32), u(32)]);
  let cin = u(32);
  const skips = [u(32)];
  for (const f of [64, 128, 256, 512]) {
    convs.push([3, cin, u(f)], [3, u(f), u(f)]);
    cin = u(f);
    skips.push(u(f));
  }
  [256, 128, 64, 32].forEach((f, j) => {
    const c = cin + skips[3 - j];
    convs.push([3, c, u(f)], [3, u(f), u(f)]);
    cin = u(f);
  });
  const hidden = convs.reduce((s, [k, a, b]) => s + k * k * a * b, 0);
  const out = cin * 3;
  const bnChannels = convs.reduce((s, [, , b]) => s + b, 0);
  if (binary)
    return { binary: hidden + out, realTrainable: bnChannels, nonTrainable: 2 * bnChannels, convs: convs.length + 1 };
  const biases = bnChannels + 3;
  return {
    binary: 0,
    realTrainable: hidden + out + biases + 2 * bnChannels,
    nonTrainable: 2 * bnChannels,
    convs: convs.length + 1,
  };
}

test('UNet builder: parameter counts of both variants at full width (hand-computed) and model size in bits', () => {
  const bin = unet({ binary: true, width: 1, imageSize: 128, kernels: 'bop' });
  const fp = unet({ binary: false, width: 1, imageSize: 128 });
  const cb = parameterCounts(bin);
  const cf = parameterCounts(fp);
  // Binary kernels 7,834,560 (the notebook's QuantConv2D kernels), 2,912 BN betas, 5,824 moving statistics.
  assert.deepEqual(cb, { binary: 7834560, realTrainable: 2912, nonTrainable: 5824, total: 7843296 });
  const eb = expectedCounts(1, true);
  assert.equal(cb.binary, eb.binary);
  assert.equal(cb.realTrainable, eb.realTrainable);
  assert.equal(cb.nonTrainable, eb.nonTrainable);
  const ef = expectedCounts(1, false);
  assert.deepEqual(cf, {
    binary: 0,
    realTrainable: ef.realTrainable,
    nonTrainable: ef.nonTrainable,
    total: ef.realTrainable + ef.nonTrainable,
  });
  assert.equal(cf.realTrainable, 7852611);
  assert.equal(modelSizeBits(bin), 7834560 + 32 * (2912 + 5824));
  assert.equal(modelSizeBits(fp), 32 * (7852611 + 5888));
  assert.ok(modelSizeBits(fp) / modelSizeBits(bin) > 30);
  // tfjs' own count agrees (every weight counted once)
  assert.equal(bin.countParams(), cb.total);
  assert.equal(fp.countParams(), cf.total);
  bin.dispose();
  fp.dispose();
});

test('UNet builder: layer list, shapes, skips, quantizers and binary-ness of both variants', () => {
  for (const width of [0.25, 1 / 16]) {
    const e = expectedCounts(width, true);
    const m = unet({ binary: true, width, imageSize: 32, kernels: 'bop' });
    assert.equal(parameterCounts(m).binary, e.binary, `width ${width}`);
    m.dispose();
  }
  const m = unet({ binary: true, width: 0.25, imageSize: 64, kernels: 'latent', seed: 3 });
  const convs = m.layers.filter((l): l is QuantConv2D => l instanceof QuantConv2D);
  assert.equal(convs.length, 18);
  assert.equal(m.layers.filter((l) => l instanceof BatchNorm).length, 17); // none after the output conv
  assert.deepEqual(
    convs.map((c) => c.filters),
    [8, 16, 16, 32, 32, 64, 64, 128, 128, 64, 64, 32, 32, 16, 16, 8, 8, 3],
  );
  assert.equal(convs[0].inputQuantizer, null, 'first conv: real-valued input');
  assert.ok(
    convs.slice(1).every((c) => c.inputQuantizer === 'ste_sign'),
    'every other conv binarizes its input',
  );
  assert.ok(
    convs.every(
      (c) => c.binaryKernel && c.kernelQuantizer === 'ste_sign' && c.kernelConstraint === 'weight_clip' && !c.useBias,
    ),
  );
  assert.equal(convs[17].kernelSize, 1);
  assert.ok(
    m.layers.filter((l) => l instanceof BatchNorm).every((b) => !(b as BatchNorm).scale && (b as BatchNorm).center),
  );
  const shape = (name: string) => m.getLayer(name).outputShape;
  assert.deepEqual(shape('down4_pool'), [null, 4, 4, 128]);
  assert.deepEqual(shape('up1_concat'), [null, 8, 8, 128 + 64]);
  assert.deepEqual(shape('up4_concat'), [null, 64, 64, 16 + 8]);
  assert.deepEqual(m.outputs[0].shape, [null, 64, 64, 3]);
  // the skip of up_j is the pooled output of down_(4−j), and of up4 the entry BN
  const inbound = (name: string) =>
    (
      m.getLayer(name) as unknown as { inboundNodes: { inboundLayers: tf.layers.Layer[] }[] }
    ).inboundNodes[0].inboundLayers.map((l) => l.name);
  assert.deepEqual(inbound('up1_concat'), ['up1_upsample', 'down3_pool']);
  assert.deepEqual(inbound('up3_concat'), ['up3_upsample', 'down1_pool']);
  assert.deepEqual(inbound('up4_concat'), ['up4_upsample', 'bn_1']);
  const vars = modelVariables(m);
  assert.equal(vars.filter((v) => v.binary).length, 18);
  assert.ok(vars.filter((v) => v.binary).every((v) => v.clip));
  m.dispose();

  const bop = unet({ binary: true, width: 0.25, imageSize: 32, kernels: 'bop' });
  assert.ok(
    bop.layers
      .filter((l): l is QuantConv2D => l instanceof QuantConv2D)
      .every((c) => c.binaryKernel && c.kernelQuantizer === null && c.kernelConstraint === null),
  );
  bop.dispose();

  const fp = unet({ binary: false, width: 0.25, imageSize: 32 });
  assert.equal(fp.layers.filter((l) => l.getClassName() === 'Conv2D').length, 19);
  assert.equal(fp.layers.filter((l) => l instanceof QuantConv2D).length, 0);
  assert.ok(
    modelVariables(fp).every((v) => !v.binary && !v.clip),
    'a full-precision UNet has no binary kernel',
  );
  assert.ok(fp.layers.filter((l) => l instanceof BatchNorm).every((b) => (b as BatchNorm).scale));
  fp.dispose();

  assert.throws(() => unet({ binary: true, imageSize: 40 }), /imageSize must be a multiple of 16/);
  assert.throws(() => unet({ binary: true, kernels: 'x' as 'bop' }), /kernels must be 'bop' or 'latent'/);
});

test('pixel accuracy and IoU against hand-computed masks', () => {
  // 0 pet, 1 background, 2 border
  const t = [0, 0, 0, 1, 1, 1, 2, 2];
  const p = [0, 0, 1, 1, 1, 0, 2, 1];
  // cm rows true, cols pred: [[2,1,0],[1,2,0],[0,1,1]]
  assert.deepEqual(Array.from(confusionMatrix(t, p)), [2, 1, 0, 1, 2, 0, 0, 1, 1]);
  assert.equal(pixelAccuracy(t, p), 5 / 8);
  // IoU pet = 2/(3+3−2) = 1/2; background = 2/(3+4−2) = 2/5; border = 1/(2+1−1) = 1/2
  const m = segmentationMetrics(confusionMatrix(t, p));
  assert.deepEqual(
    m.iou.map((x) => +x.toFixed(12)),
    [0.5, 0.4, 0.5],
  );
  assert.ok(Math.abs(meanIoU(t, p) - (0.5 + 0.4 + 0.5) / 3) < 1e-12);
  // perfect prediction; a class absent from both masks is left out of the mean (tf.keras MeanIoU)
  assert.equal(meanIoU([0, 1, 1], [0, 1, 1]), 1);
  assert.equal(pixelAccuracy([0, 1, 1], [0, 1, 1]), 1);
  // all wrong
  assert.equal(meanIoU([0, 0], [1, 1]), 0);
  assert.throws(() => confusionMatrix([0, 1], [0]), /differ in length/);
  assert.throws(() => confusionMatrix([0, 3], [0, 1]), /out of range 0..2 at pixel 1/);
});

test('segmentation task: batchStats is the confusion matrix of the argmaxes; loss is the per-pixel mean cross-entropy', () => {
  const rng = new Rng(5);
  const n = 2 * 4 * 4;
  const t = Array.from({ length: n }, () => rng.int(3));
  const probs = Array.from({ length: n * 3 }, () => rng.next() + 0.01);
  const yTrue = tf.oneHot(tf.tensor1d(t, 'int32'), 3).reshape([2, 4, 4, 3]);
  const yPred = tf.tensor4d(probs, [2, 4, 4, 3]).div(tf.tensor4d(probs, [2, 4, 4, 3]).sum(-1, true));
  const pred = Array.from(tf.argMax(yPred, -1).dataSync());
  const stats = segmentation.batchStats(yTrue, yPred).dataSync();
  assert.deepEqual(Array.from(stats), Array.from(confusionMatrix(t, pred)));
  const s = segmentation.summarize(Float64Array.from(stats), 2);
  assert.equal(s.accuracy, pixelAccuracy(t, pred));
  assert.ok(Math.abs(s.extra!.miou - meanIoU(t, pred)) < 1e-12);
  assert.deepEqual(Object.keys(s.extra!), ['miou', 'iou_pet', 'iou_background', 'iou_border']);
  const pv = yPred.dataSync();
  let ce = 0;
  for (let i = 0; i < n; i++) ce -= Math.log(pv[i * 3 + t[i]]);
  assert.ok(Math.abs(segmentation.loss(yTrue, yPred).dataSync()[0] - ce / n) < 1e-5);
  tf.dispose([yTrue, yPred]);
});

/** Random images with a learnable mask: class by brightness of the first channel. */
function synthSegSplit(n: number, size: number, seed: number): SplitSource {
  const r = new Rng(seed);
  const px = size * size;
  const X = new Float32Array(n * px * 3);
  const M = new Int32Array(n * px);
  for (let i = 0; i < n * px; i++) {
    const c = r.int(3);
    M[i] = c;
    X[i * 3] = c - 1 + 0.2 * (r.next() - 0.5);
    X[i * 3 + 1] = r.next() * 2 - 1;
    X[i * 3 + 2] = r.next() * 2 - 1;
  }
  return {
    n,
    batch(idx) {
      const x = new Float32Array(idx.length * px * 3);
      const m = new Int32Array(idx.length * px);
      idx.forEach((j, k) => {
        x.set(X.subarray(j * px * 3, (j + 1) * px * 3), k * px * 3);
        m.set(M.subarray(j * px, (j + 1) * px), k * px);
      });
      return tf.tidy(() => ({
        x: tf.tensor4d(x, [idx.length, size, size, 3]),
        y: tf.oneHot(tf.tensor1d(m, 'int32'), 3).reshape([idx.length, size, size, 3]),
      }));
    },
  };
}

test('one training step of each UNet on wasm: finite loss, weights move, Bop kernels ±1, latent kernels clipped', async () => {
  for (const name of ['pets-unet-fp-adam', 'pets-unet-binary-adam', 'pets-unet-binary-bop']) {
    const c = { ...profileConfig(name, 'smoke', 0), imageSize: 16 };
    const data = {
      train: synthSegSplit(4, 16, 1),
      val: synthSegSplit(2, 16, 2),
      test: null,
      nTrain: 4,
      inputShape: [16, 16, 3] as [number, number, number],
      numClasses: 3,
      source: 'synthetic',
    };
    const model = MODELS.unet.build(c, data);
    const before = model.getWeights().map((w) => w.dataSync().slice());
    const opt = buildOptimizer(c, model, 1);
    const h = await train({
      model,
      optimizer: opt,
      train: data.train,
      val: data.val,
      epochs: 1,
      batchSize: 4,
      rng: new Rng(0),
      task: MODELS.unet.task,
      log: null,
    });
    assert.equal(h.length, 1);
    assert.ok(Number.isFinite(h[0].loss) && Number.isFinite(h[0].valLoss), `${name}: loss ${h[0].loss}`);
    assert.ok(
      h[0].extra && Number.isFinite(h[0].extra.valMiou) && h[0].extra.valMiou >= 0 && h[0].extra.valMiou <= 1,
      `${name}: valMiou`,
    );
    const after = model.getWeights().map((w) => w.dataSync());
    assert.ok(
      after.some((w, i) => w.some((v, j) => v !== before[i][j])),
      `${name}: some weight changed`,
    );
    const vars = modelVariables(model);
    if (name.endsWith('bop'))
      for (const v of vars.filter((v) => v.binary))
        assert.ok(
          Array.from(v.variable.dataSync()).every((w) => w === 1 || w === -1),
          `${name}: ${v.layer} ±1`,
        );
    if (name.endsWith('binary-adam'))
      for (const v of vars.filter((v) => v.binary))
        assert.ok(
          Array.from(v.variable.dataSync()).every((w) => Math.abs(w) <= 1),
          `${name}: ${v.layer} clipped`,
        );
    if (name.endsWith('fp-adam')) assert.equal(vars.filter((v) => v.binary).length, 0);
    const x = data.val.batch(Int32Array.from([0, 1]), null);
    const masks = predictMasks(model, x.x as tf.Tensor4D, 1);
    assert.equal(masks.length, 2 * 16 * 16);
    assert.ok(masks.every((v) => v <= 2));
    const direct = tf.tidy(() => tf.argMax(model.apply(x.x, { training: false }) as tf.Tensor, -1).dataSync());
    assert.deepEqual(Array.from(masks), Array.from(direct));
    tf.dispose([x.x, x.y]);
    opt.dispose();
    model.dispose();
  }
});

test('UNet gradients on wasm match the cpu backend (batch 1: upsampling, concat, pooling, BN, conv gradients)', async () => {
  // Batch 1 because tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad is wrong for batch > 1 (see the next test).
  const model = unet({ binary: false, width: 1 / 16, imageSize: 32, seed: 2 });
  const src = synthSegSplit(1, 32, 3);
  const vars = modelVariables(model).map((v) => v.variable);
  const grads = () =>
    tf.tidy(() => {
      const { x, y } = src.batch(Int32Array.from([0]), null);
      const { value, grads } = tf.variableGrads(
        () => segmentation.loss(y, model.apply(x, { training: true }) as tf.Tensor),
        vars,
      );
      return [value.dataSync()[0], ...vars.map((v) => Array.from(grads[v.name].dataSync()))] as [number, ...number[][]];
    });
  const weights = model.getWeights().map((w) => w.dataSync().slice());
  const [lw, ...gw] = grads();
  await tf.setBackend('cpu');
  try {
    model.setWeights(weights.map((w, i) => tf.tensor(w, model.weights[i].shape as number[])));
    const [lc, ...gc] = grads();
    assert.ok(Math.abs(lw - lc) < 1e-4, `loss wasm ${lw} vs cpu ${lc}`);
    gw.forEach((g, i) => {
      const scale = Math.max(1e-3, ...gc[i].map(Math.abs));
      const err = Math.max(...g.map((v, j) => Math.abs(v - gc[i][j])));
      assert.ok(err / scale < 2e-3, `${vars[i].name}: max |Δgrad| ${err} (scale ${scale})`);
    });
  } finally {
    await tf.setBackend('wasm');
  }
  model.dispose();
});

test('UpSampling2D gradient on wasm, batch 2: each input cell gets the sum of its 2×2 block of dy', () => {
  const [n, h, w, c] = [2, 2, 3, 2];
  const dyv = Array.from({ length: n * 4 * h * w * c }, (_, i) => (i % 7) - 3 + i / 10);
  const ref: number[] = [];
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let k = 0; k < c; k++) {
          let s = 0;
          for (const di of [0, 1])
            for (const dj of [0, 1]) s += dyv[((b * 2 * h + 2 * i + di) * 2 * w + 2 * j + dj) * c + k];
          ref.push(s);
        }
  const layer = tf.layers.upSampling2d({ size: [2, 2] });
  const g = tf.tidy(() => {
    const dy = tf.tensor4d(dyv, [n, 2 * h, 2 * w, c]);
    return Array.from(
      tf
        .grad((x: tf.Tensor) => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, dy)))(tf.zeros([n, h, w, c]))
        .dataSync(),
    );
  });
  g.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) < 1e-4, `dx[${i}] = ${v}, expected ${ref[i]}`));
});

test("registry: the three §4.5 runs with the notebooks' settings; smoke run on the real Pets sample", async () => {
  const fp = getExperiment('pets-unet-fp-adam');
  const ad = getExperiment('pets-unet-binary-adam');
  const bop = getExperiment('pets-unet-binary-bop');
  for (const e of [fp, ad, bop]) {
    assert.equal(e.section, '§4.5');
    assert.deepEqual(
      [e.paper.epochs, e.paper.batchSize, e.paper.imageSize, e.paper.width, e.paper.dataset, e.paper.model],
      [300, 64, 128, 1, 'pets', 'unet'],
    );
  }
  assert.equal(fp.paper.binary, false);
  assert.deepEqual([fp.paper.optimizer, fp.paper.lr], ['adam', { initial: 1e-3, decay: 1, everyEpochs: null }]);
  assert.deepEqual(getExperiment('pets-unet-fp-adam-lr0.1').paper.lr, { initial: 0.1, decay: 0.1, everyEpochs: 100 });
  assert.deepEqual(
    [ad.paper.binary, ad.paper.optimizer, ad.paper.lr],
    [true, 'adam', { initial: 1e-2, decay: 0.1, everyEpochs: 100 }],
  );
  assert.deepEqual(
    [bop.paper.optimizer, bop.paper.threshold, bop.paper.gamma, bop.paper.lr.initial, bop.paper.lr.decay],
    ['bop', 1e-8, { initial: 1e-4, decay: 0.1, everyEpochs: 100 }, 1e-2, 1],
  );
  assert.ok(
    typeof DATASETS.pets.load === 'function' &&
      typeof MODELS.unet.build === 'function' &&
      MODELS.unet.task.name === 'segmentation',
  );

  let petsDir: string | null = null;
  try {
    petsDir = resolvePetsDir();
  } catch {
    petsDir = null;
  }
  if (!petsDir) return; // no Pets copy on this machine: the synthetic tests above cover the code
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'unet-'));
  const r = await runExperiment({ experiment: 'pets-unet-binary-bop', profile: 'smoke', resultsRoot: tmp, log: null });
  assert.equal(r.history.length, 2);
  assert.ok(r.history.every((h) => Number.isFinite(h.loss) && h.extra && 'valMiou' in h.extra));
  assert.ok(fs.existsSync(path.join(r.dir, 'final', 'model.json')));
  const cfg = JSON.parse(fs.readFileSync(path.join(r.dir, 'config.json'), 'utf8'));
  assert.deepEqual([cfg.data.nTrain, cfg.data.nVal], [16, 8]);
  const file = await writeUnetPredictions(r.dir, undefined, 3);
  const pj = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(pj.classNames, ['pet', 'background', 'border']);
  assert.equal(pj.samples.length, 3);
  const s0 = pj.samples[0];
  assert.deepEqual(
    [s0.image.length, s0.image[0].length, s0.image[0][0].length, s0.truth.length, s0.prediction[0].length],
    [32, 32, 3, 32, 32],
  );
  assert.ok(s0.image.flat(2).every((v: number) => v >= 0 && v <= 1));
  assert.ok(
    s0.truth.flat().every((v: number) => v >= 0 && v <= 2) &&
      s0.prediction.flat().every((v: number) => v >= 0 && v <= 2),
  );
  fs.rmSync(tmp, { recursive: true, force: true });
});
