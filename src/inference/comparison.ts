/**
 * Every packed and float engine this machine has, on the same images (`engineComparison`): accuracy, agreement with
 * the float model, bytes and images/s at batch 1 and at the batch size; its table and engines for the figures.
 */
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import { packModel } from './convert';
import { FloatOneDnn, nativeInference } from './native';
import { encodePacked } from './format';
import { PackedModel } from './packed';
import { floatModelBytes, labelArray, type TestImages } from './summary';
import type { PackedSpec } from './spec';

/** One engine of `engineComparison`: what it is, its accuracy and stored size, and its speed. */
export interface EngineResult {
  /** e.g. "float tfjs (wasm)", "float32 oneDNN, 1 thread", "packed wasm fused mix, 1 thread", "packed native avx512, 1 thread". */
  name: string;
  accuracy: number;
  /** Bytes of the stored model (the float engines: tf.io weights; the packed ones: the packed file). */
  bytes: number;
  /** Milliseconds per image at batch 1 (one image per call) and at batch `batchSize` (the whole pass in batches). */
  msPerImageBatch1: number;
  msPerImageBatch: number;
}

/** What `engineComparison` measured, and on which machine. */
export interface EngineComparison {
  n: number;
  batchSize: number;
  batch1Images: number;
  /** CPU model, its logical cores and the features the native engine looks at (empty without the addon). */
  machine: { cpu: string; cores: number; features: string[] };
  engines: EngineResult[];
  /** Fraction of images on which every packed engine predicts the float tfjs model's class (argmax of its softmax). */
  agreement: number;
  /** Whether the packed engines' logits are identical to each other (they run the same integers). */
  packedIdentical: boolean;
  /** Why the native engines are missing, when they are. */
  nativeSkipped?: string;
}

/** One engine's batch runner: images → outputs ([m, classes]); `engine` set for the packed engines. */
type EngineRun = { run: (xs: Float32Array, m: number) => Float32Array; dispose: () => void; engine?: PackedModel };

/** An engine `engineComparison` may run: its name, the bytes of its stored model, and a maker (null: not on this machine). */
type EngineCandidate = { name: string; bytes: number; make: () => EngineRun | null };

/** The images, labels and sizes `engineComparison` runs on (throws on a partial image or a wrong label count). */
function comparisonInput(spec: PackedSpec, test: TestImages, batch1Images: number | undefined) {
  const [H, W, C] = spec.inputShape;
  const per = H * W * C;
  const x = test.images instanceof Float32Array ? test.images : (test.images.dataSync() as Float32Array);
  const n = x.length / per;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`engineComparison: ${x.length} values is not a whole number of ${H}×${W}×${C} images`);
  const labels = labelArray(test.labels, n);
  const k = spec.numClasses;
  const m1 = Math.max(1, Math.min(n, batch1Images ?? 50));
  return { H, W, C, per, x, n, labels, k, m1 };
}

/** The four engines in table order: float tfjs, float32 oneDNN, packed wasm ('mix'), packed native (the last two need the addon where said). */
function engineCandidates(
  model: tf.LayersModel,
  spec: PackedSpec,
  threads: number,
  bytes: { floatBytes: number; packedBytes: number },
  nativeAvailable: boolean,
): EngineCandidate[] {
  const [H, W, C] = spec.inputShape;
  const { floatBytes, packedBytes } = bytes;
  return [
    {
      name: `float tfjs (${tf.getBackend()})`,
      bytes: floatBytes,
      // predict (softmax included, as deployed): the same argmax as the logits
      make: () => ({
        run: (xs, m) =>
          tf.tidy(() => (model.predict(tf.tensor4d(xs, [m, H, W, C])) as tf.Tensor).dataSync() as Float32Array),
        dispose: () => {},
      }),
    },
    {
      name: `float32 oneDNN, ${threads} thread${threads === 1 ? '' : 's'}`,
      bytes: floatBytes,
      make: () => {
        if (!nativeAvailable) return null;
        const f = new FloatOneDnn(spec, threads);
        return { run: (xs, m) => f.predict(xs, m), dispose: () => f.dispose() };
      },
    },
    {
      name: 'packed wasm',
      bytes: packedBytes,
      make: () => {
        const p = new PackedModel(spec, 'mix', { threads });
        return { run: (xs) => p.predict(xs).logits, dispose: () => p.dispose(), engine: p };
      },
    },
    {
      name: 'packed native',
      bytes: packedBytes,
      make: () => {
        if (!nativeAvailable) return null;
        const p = new PackedModel(spec, 'native', { threads });
        return { run: (xs) => p.predict(xs).logits, dispose: () => p.dispose(), engine: p };
      },
    },
  ];
}

/**
 * Runs one engine over all `n` images in batches of `batchSize` and over the first `m1` one at a time, after one
 * warm-up image; each timing the better of two passes. Returns its outputs [n, k] and ms per image at both.
 */
function timeEngine(
  e: EngineRun,
  inp: { x: Float32Array; n: number; per: number; k: number; m1: number },
  batchSize: number,
): { out: Float32Array; batchMs: number; one: number } {
  const { x, n, per, k, m1 } = inp;
  e.run(x.subarray(0, per), 1); // warm-up: compilation, primitive creation
  const out = new Float32Array(n * k);
  let batchMs = Infinity;
  let one = Infinity;
  for (let pass = 0; pass < 2; pass++) {
    let t0 = performance.now();
    for (let s = 0; s < n; s += batchSize) {
      const m = Math.min(batchSize, n - s);
      out.set(e.run(x.subarray(s * per, (s + m) * per), m), s * k);
    }
    batchMs = Math.min(batchMs, (performance.now() - t0) / n);
    t0 = performance.now();
    for (let i = 0; i < m1; i++) e.run(x.subarray(i * per, (i + 1) * per), 1);
    one = Math.min(one, (performance.now() - t0) / m1);
  }
  return { out, batchMs, one };
}

/**
 * The float model and its packed form on every engine this machine has, on the same images: float tfjs (the current
 * backend), float32 oneDNN (native.ts' FloatOneDnn: the same network with float weights), packed wasm (the fused
 * engine, 'mix') and packed native (the addon's XNOR-popcount engine, widest instruction set): accuracy, stored size,
 * ms per image at batch 1 (over the first `batch1Images` images) and at batch `batchSize` (all images). Each timing is
 * the better of two passes. Engines that need the addon are left out without it (`nativeSkipped` says why).
 */
export async function engineComparison(
  model: tf.LayersModel,
  test: TestImages,
  opts: { batchSize?: number; threads?: number; batch1Images?: number } = {},
): Promise<EngineComparison> {
  const batchSize = opts.batchSize ?? 50;
  const threads = opts.threads ?? 1;
  const spec = packModel(model);
  const inp = comparisonInput(spec, test, opts.batch1Images);
  const { n, labels, k, m1 } = inp;
  const floatBytes = await floatModelBytes(model);
  const packedBytes = encodePacked(spec).length;
  const native = nativeInference();
  const candidates = engineCandidates(model, spec, threads, { floatBytes, packedBytes }, native.available);
  const engines: EngineResult[] = [];
  const logits: Float32Array[] = [];
  for (const c of candidates) {
    const e = c.make();
    if (!e) continue;
    if (e.engine?.fused) await e.engine.ready();
    try {
      const name = e.engine ? `packed ${e.engine.engine}` : c.name;
      const { out, batchMs, one } = timeEngine(e, inp, batchSize);
      let ok = 0;
      for (let i = 0; i < n; i++) if (argmax(out, i * k, k) === labels[i]) ok++;
      engines.push({ name, accuracy: ok / n, bytes: c.bytes, msPerImageBatch1: one, msPerImageBatch: batchMs });
      logits.push(out);
    } finally {
      e.dispose();
    }
  }
  const packedIdx = engines.map((e, i) => (e.name.startsWith('packed') ? i : -1)).filter((i) => i >= 0);
  let agree = 0;
  for (let i = 0; i < n; i++)
    if (packedIdx.every((j) => argmax(logits[j], i * k, k) === argmax(logits[0], i * k, k))) agree++;
  const packedIdentical = packedIdx.every((j) => logits[j].every((v, i) => v === logits[packedIdx[0]][i]));
  return {
    n,
    batchSize,
    batch1Images: m1,
    machine: { cpu: native.cpu, cores: os.cpus().length, features: native.features },
    engines,
    agreement: agree / n,
    packedIdentical,
    ...(native.available ? {} : { nativeSkipped: native.reason }),
  };
}

function argmax(y: Float32Array, off: number, k: number): number {
  let b = 0;
  for (let j = 1; j < k; j++) if (y[off + j] > y[off + b]) b = j;
  return b;
}

/** The comparison as the engines of `inferenceComparison` (src/figures): images/s = 1000 / ms per image. */
export function comparisonEngines(
  c: EngineComparison,
): { name: string; accuracy: number; bytes: number; imagesPerSec: Record<string, number> }[] {
  return c.engines.map((e) => ({
    name: e.name,
    accuracy: e.accuracy,
    bytes: e.bytes,
    imagesPerSec: { 'batch 1': 1000 / e.msPerImageBatch1, [`batch ${c.batchSize}`]: 1000 / e.msPerImageBatch },
  }));
}

/**
 * The comparison as Markdown: the machine, packed native against float32 oneDNN (where both ran), then one row per
 * engine (size, ms per image at both batch sizes, accuracy).
 */
export function comparisonMarkdown(c: EngineComparison, title: string): string {
  const f = c.engines[0];
  const ratio = (i: number, r: number, what: string) => (i === 0 ? '' : ` (${r.toFixed(1)}×${what})`);
  const rows = c.engines.map(
    (e, i) =>
      `| ${e.name} | ${(e.bytes / 1024).toFixed(1)} KiB${ratio(i, f.bytes / e.bytes, ' smaller')} | ${e.msPerImageBatch1.toFixed(3)}${ratio(i, f.msPerImageBatch1 / e.msPerImageBatch1, '')} | ` +
      `${e.msPerImageBatch.toFixed(3)}${ratio(i, f.msPerImageBatch / e.msPerImageBatch, '')} | ${(e.accuracy * 100).toFixed(2)} % |`,
  );
  const fo = c.engines.find((e) => e.name.startsWith('float32 oneDNN'));
  const pn = c.engines.find((e) => e.name.startsWith('packed native'));
  const vs =
    fo && pn
      ? [
          `Packed native against float32 oneDNN: ${(fo.msPerImageBatch1 / pn.msPerImageBatch1).toFixed(1)}× faster at batch 1, ${(fo.msPerImageBatch / pn.msPerImageBatch).toFixed(1)}× at batch ${c.batchSize}, ${(fo.bytes / pn.bytes).toFixed(1)}× smaller.`,
          '',
        ]
      : [];
  return [
    `Machine: ${c.machine.cpu}, ${c.machine.cores} logical cores${c.machine.features.length ? `; ${c.machine.features.join(', ')}` : ''}.`,
    '',
    ...vs,
    `| ${title}, ${c.n} test images | size | ms / image, batch 1 (${c.batch1Images} images) | ms / image, batch ${c.batchSize} | accuracy |`,
    '|---|---:|---:|---:|---:|',
    ...rows,
    '',
    `(×: against the first row; the float tfjs timing includes tfjs' tensor upload and download.) Every packed engine predicts the float model's class on ${(c.agreement * 100).toFixed(2)} % of the images; ` +
      `the packed engines' logits are ${c.packedIdentical ? 'identical' : 'NOT identical'}.` +
      (c.nativeSkipped ? ` Native engines left out: ${c.nativeSkipped}.` : ''),
  ].join('\n');
}
