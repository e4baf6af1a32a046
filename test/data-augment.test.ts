import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../src/random';
import { classificationBatch, defaultAugment, normalize, SCALE, segmentationBatch } from '../src/data/augment';
import { classificationSource, makeBatches } from '../src/data/batches';
import { ClassificationSplit } from '../src/data/types';

function randomSplit(n: number, seed: number): ClassificationSplit {
  const r = new Rng(seed);
  const images = new Uint8Array(n * 3072).map(() => r.int(256));
  return { images, labels: Uint8Array.from({ length: n }, (_, i) => i % 10), n };
}

/** Reference, written the slow obvious way: pad to 40×40 with 0, crop at (dy, dx), flip, then x/127.5 − 1. */
function reference(img: Uint8Array, dy: number, dx: number, flip: boolean): Float32Array {
  const padded = new Uint8Array(40 * 40 * 3);
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++)
      for (let c = 0; c < 3; c++) padded[((y + 4) * 40 + x + 4) * 3 + c] = img[(y * 32 + x) * 3 + c];
  const crop = new Uint8Array(3072);
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++)
      for (let c = 0; c < 3; c++) crop[(y * 32 + x) * 3 + c] = padded[((y + dy) * 40 + x + dx) * 3 + c];
  const out = new Float32Array(3072);
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++)
      for (let c = 0; c < 3; c++) out[(y * 32 + x) * 3 + c] = crop[(y * 32 + (flip ? 31 - x : x)) * 3 + c] / 127.5 - 1;
  return out;
}

test('normalization is x/127.5 − 1 onto [−1, 1]', () => {
  assert.equal(SCALE[0], -1);
  assert.equal(SCALE[255], 1);
  assert.ok(Math.abs(SCALE[128] - 0.00392157) < 1e-6);
  assert.deepEqual(Array.from(normalize(Uint8Array.from([0, 51, 255]))), [-1, Math.fround(51 / 127.5 - 1), 1]);
});

test('augmentation = pad 4 (raw 0 → −1), random 32×32 crop, random flip; matches a slow reference with the same draws', () => {
  const split = randomSplit(12, 1);
  const idx = Int32Array.from([3, 0, 11, 5, 5, 7]);
  const rng = new Rng(42);
  const draws = new Rng(42);
  const b = classificationBatch(split, idx, { augment: defaultAugment('cifar10'), rng });
  const seen = { flip: 0, dy: new Set<number>() };
  idx.forEach((i, k) => {
    const dy = draws.int(9);
    const dx = draws.int(9);
    const flip = draws.next() < 0.5;
    seen.flip += flip ? 1 : 0;
    seen.dy.add(dy);
    const ref = reference(split.images.subarray(i * 3072, (i + 1) * 3072), dy, dx, flip);
    assert.deepEqual(Array.from(b.x.subarray(k * 3072, (k + 1) * 3072)), Array.from(ref), `example ${k}`);
    assert.equal(b.y[k * 10 + (i % 10)], 1);
  });
  assert.deepEqual(rng.getState(), draws.getState(), 'exactly 3 draws per image');
  // SVHN: crop, no flip → 2 draws per image
  const r2 = new Rng(5);
  const s = classificationBatch(split, idx, { augment: defaultAugment('svhn'), rng: r2 });
  const d2 = new Rng(5);
  idx.forEach((i, k) => {
    const dy = d2.int(9);
    const dx = d2.int(9);
    assert.deepEqual(
      Array.from(s.x.subarray(k * 3072, (k + 1) * 3072)),
      Array.from(reference(split.images.subarray(i * 3072, (i + 1) * 3072), dy, dx, false)),
    );
  });
  // a fully shifted crop shows −1 padding
  let minusOnes = 0;
  for (let k = 0; k < 200; k++) {
    const r = classificationBatch(split, [0], { augment: { crop: true, flip: false }, rng: new Rng(k) });
    if (r.x[0] === -1) minusOnes++;
  }
  assert.ok(minusOnes > 50, 'top-left pixel falls in the padding for crops with dy<4 or dx<4');
});

test('augmentation is reproducible from a checkpointed Rng state; evaluation batches are only normalized', () => {
  const split = randomSplit(20, 2);
  const rng = new Rng(9);
  classificationBatch(split, [1, 2, 3], { augment: { crop: true, flip: true }, rng });
  const state = rng.getState();
  const a = classificationBatch(split, [4, 5, 6], { augment: { crop: true, flip: true }, rng });
  const resumed = new Rng(0);
  resumed.setState(state);
  const b = classificationBatch(split, [4, 5, 6], { augment: { crop: true, flip: true }, rng: resumed });
  assert.deepEqual(a.x, b.x);
  const plain = classificationBatch(split, [4], {});
  assert.deepEqual(Array.from(plain.x), Array.from(normalize(split.images.subarray(4 * 3072, 5 * 3072))));
});

test('makeBatches / classificationSource give float32 NHWC tensors in [−1, 1] and one-hot labels, nothing leaked', async () => {
  await tf.setBackend('cpu');
  const split = randomSplit(23, 3);
  const before = tf.memory().numTensors;
  let count = 0;
  let seen = 0;
  for (const { x, y, indices } of makeBatches(split, {
    batchSize: 10,
    rng: new Rng(1),
    augment: { crop: true, flip: true },
  })) {
    assert.equal(x.dtype, 'float32');
    assert.deepEqual(x.shape, [indices.length, 32, 32, 3]);
    assert.deepEqual(y.shape, [indices.length, 10]);
    const yv = y.arraySync();
    indices.forEach((i, k) => assert.equal(yv[k].indexOf(1), split.labels[i]));
    const [mx, mn] = tf.tidy(() => [x.max().dataSync()[0], x.min().dataSync()[0]]);
    assert.ok(mx <= 1 && mn >= -1);
    seen += indices.length;
    count++;
    tf.dispose([x, y]);
  }
  assert.equal(count, 3);
  assert.equal(seen, 23);
  const src = classificationSource(split, { augment: defaultAugment('cifar10') });
  tf.tidy(() => {
    const { x, y } = src.batch(Int32Array.from([0, 1]), null);
    assert.deepEqual(x.shape, [2, 32, 32, 3]);
    assert.deepEqual(y.shape, [2, 10]);
  });
  assert.equal(tf.memory().numTensors, before);
});

test('segmentation batches: image and mask flip together; masks one-hot over 3 classes', () => {
  const size = 4;
  const split = {
    images: Uint8Array.from({ length: 2 * 16 * 3 }, (_, i) => i % 256),
    masks: Uint8Array.from({ length: 32 }, (_, i) => i % 3),
    names: ['a', 'b'],
    n: 2,
  };
  let flipped = 0;
  for (let s = 0; s < 20; s++) {
    const b = segmentationBatch(split, [1], size, { flip: true, rng: new Rng(s) });
    const f = b.x[0] !== SCALE[split.images[16 * 3]];
    if (f) {
      flipped++;
    }
    for (let r = 0; r < size; r++)
      for (let c = 0; c < size; c++) {
        const sc = f ? size - 1 - c : c;
        {
          assert.equal(b.masks[r * size + c], split.masks[16 + r * size + sc]);
          assert.equal(b.x[(r * size + c) * 3], SCALE[split.images[(16 + r * size + sc) * 3]]);
        }
      }
    for (let p = 0; p < 16; p++) assert.equal(b.y[p * 3 + b.masks[p]], 1);
  }
  assert.ok(flipped > 0 && flipped < 20);
});
