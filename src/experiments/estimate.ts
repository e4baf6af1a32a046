/**
 * Rough run-time estimates for `--list`: measures a few training steps of a small BinaryNet on the current
 * backend and scales by the model's multiply-accumulates per image (which grow with width²).
 */
import * as tf from '@tensorflow/tfjs';
import { binaryNet } from '../models/binarynet';
import { AdamOptimizer } from '../optimizers';
import { Rng } from '../random';
import { train } from '../train/loop';
import { ExperimentConfig } from './config';

/** Multiply-accumulates of one BinaryNet forward pass at this width (32×32×3 input). */
export function binaryNetMacs(width: number): number {
  const u = (n: number) => Math.max(1, Math.round(n * width));
  const c = [u(128), u(128), u(256), u(256), u(512), u(512)];
  const hw = [30 * 30, 30 * 30, 15 * 15, 15 * 15, 7 * 7, 7 * 7];
  let macs = 0;
  let cin = 3;
  c.forEach((co, i) => {
    macs += hw[i] * 9 * cin * co;
    cin = co;
  });
  return macs + 9 * cin * u(1024) + u(1024) * u(1024) + u(1024) * 10;
}

/** Measured training images/s at width 0.125 (batch 50) on the current backend. */
export async function calibrate(): Promise<{ imagesPerSecond: number; width: number }> {
  const width = 0.125;
  const n = 150;
  const split = {
    n,
    batch: (idx: Int32Array) => tf.tidy(() => ({ x: tf.randomUniform([idx.length, 32, 32, 3], -1, 1, 'float32', 1), y: tf.oneHot(tf.zeros([idx.length], 'int32'), 10) })),
  };
  const model = binaryNet({ width, seed: 0, kernels: 'latent' });
  const opt = new AdamOptimizer({ lr: 1e-3 });
  await train({ model, optimizer: opt, train: { n: 50, batch: split.batch }, val: { n: 10, batch: split.batch }, epochs: 1, batchSize: 50, rng: new Rng(0), log: null });
  const t0 = Date.now();
  await train({ model, optimizer: opt, train: split, val: { n: 10, batch: split.batch }, epochs: 1, batchSize: 50, rng: new Rng(0), log: null });
  const s = (Date.now() - t0) / 1000;
  opt.dispose();
  model.dispose();
  return { imagesPerSecond: n / s, width };
}

/** Estimated seconds for a config (training ≈ 3× a forward pass; evaluation ≈ 1×). */
export function estimateSeconds(c: ExperimentConfig, cal: { imagesPerSecond: number; width: number }, nTrain: number, nVal: number): number {
  if (c.model !== 'binarynet') return NaN;
  const perImage = (binaryNetMacs(c.width) / binaryNetMacs(cal.width)) / cal.imagesPerSecond;
  return c.epochs * (nTrain * perImage + (nVal * perImage) / 3);
}
