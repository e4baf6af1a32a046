/**
 * npm run bench:data [-- --width 0.25 --steps 3]
 * Measures: full CIFAR-10 load (from the cache that `npm run data -- cifar10` writes), augmentation time per batch
 * of 50 (pad-crop-flip + normalize + one-hot, typed arrays), tensor creation, and, since src/models/binarynet.ts
 * exists, one BinaryNet training step (forward + backward, batch 50) on the selected backend for comparison.
 */
import * as tf from '@tensorflow/tfjs';
import { loadCifar10, classificationBatch, defaultAugment, classificationSource } from '../src/data';
import { Rng } from '../src/random';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

async function main() {
  const width = arg('width', 0.25);
  const steps = arg('steps', 3);
  let t = performance.now();
  const d = await loadCifar10();
  const loadS = (performance.now() - t) / 1000;
  console.log(`CIFAR-10 load: ${loadS.toFixed(2)} s for ${d.train.n + d.test.n} images (${d.source})`);

  const rng = new Rng(0);
  const aug = defaultAugment('cifar10');
  const reps = 500;
  const idx = new Int32Array(50);
  for (let w = 0; w < 20; w++) classificationBatch(d.train, rng.permutation(50), { augment: aug, rng });
  t = performance.now();
  for (let r = 0; r < reps; r++) {
    for (let j = 0; j < 50; j++) idx[j] = rng.int(d.train.n);
    classificationBatch(d.train, idx, { augment: aug, rng });
  }
  const augMs = (performance.now() - t) / reps;
  console.log(
    `augment (pad 4, crop 32, flip, normalize, one-hot) per batch of 50: ${augMs.toFixed(2)} ms (${((augMs / 50) * 1000).toFixed(0)} µs/image)`,
  );
  t = performance.now();
  for (let r = 0; r < reps; r++)
    classificationBatch(
      d.test,
      idx.map((i) => i % d.test.n),
      {},
    );
  console.log(`normalize only (evaluation) per batch of 50: ${((performance.now() - t) / reps).toFixed(2)} ms`);
  const epochS = (augMs * (d.train.n / 50)) / 1000;
  console.log(`augmentation for one epoch (1000 batches of 50): ${epochS.toFixed(1)} s`);

  let backend = 'cpu';
  try {
    const b = await import('../src/backend');
    const info = await b.initBackend();
    backend = b.describeBackend();
    void info;
  } catch {
    await tf.setBackend('cpu');
  }
  const src = classificationSource(d.train, { augment: aug });
  t = performance.now();
  for (let r = 0; r < 50; r++) tf.dispose(Object.values(src.batch(idx, rng)));
  console.log(
    `augment + tensors per batch of 50 on ${tf.getBackend()}: ${((performance.now() - t) / 50).toFixed(2)} ms`,
  );

  try {
    const { binaryNet } = await import('../src/models/binarynet');
    const model = binaryNet({ width, seed: 0 });
    const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
    const step = () =>
      tf.tidy(() => {
        const { x, y } = src.batch(idx, rng);
        const { value, grads } = tf.variableGrads(() => {
          const p = model.apply(x, { training: true }) as tf.Tensor;
          return tf.losses.softmaxCrossEntropy(y, p) as tf.Scalar;
        }, vars);
        value.dataSync();
        void grads;
      });
    step();
    t = performance.now();
    for (let s = 0; s < steps; s++) step();
    const stepMs = (performance.now() - t) / steps;
    console.log(
      `BinaryNet width ${width} forward+backward, batch 50 (${backend}): ${stepMs.toFixed(0)} ms/step; augmentation is ${((augMs / stepMs) * 100).toFixed(2)} % of it`,
    );
  } catch (e) {
    console.log(`training-step comparison skipped: ${(e as Error).message.split('\n')[0]}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
