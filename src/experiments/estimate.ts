/**
 * Run-time estimates from measurement, for `npm run experiment -- --list` and the sweep's plan.
 *
 * A probe times a few training steps of the run's own model and optimizer at the run's own width, batch size and
 * image size (its *shape*: model, width, batch, image size) on random data of the dataset's shape, and a few
 * evaluation batches, on the current backend. Probes are cached per machine under the results root,
 * `<results>/.probes/<machine>.json`, keyed by the shape; a machine is its CPU model, core count and backend
 * description (package, threads, native path), so a different node or backend measures again. Delete the file to
 * measure again on the same machine.
 *
 * A probe keeps to a time budget (default 15 s; `probe` says how): when a full batch would not fit
 * it (the paper-size UNet on a CPU) it times a smaller batch and scales the step time by batch / probe batch
 * (per-image cost is near constant once a batch fills the cores; it is higher at small batches, so the scaled
 * estimate errs long). The first step of each batch size is a warm-up and is not timed.
 *
 * The estimate of a run (one seed), with s the seconds per training step and e the seconds per evaluated image:
 *
 *   epochs × (⌊nTrain / batch⌋ · s + nVal · e)  +  (2 · nTest + ⌊nTrain / batch⌋ · batch) · e
 *
 * the last term the final test score after the last epoch, raw and settled (BN statistics recomputed over the
 * training set in forward passes, src/train/settle.ts). Data loading, augmentation and checkpoint writes are not
 * timed (a few per cent of a step on CIFAR-sized images).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../backend';
import { Rng } from '../random';
import { resultsRoot } from '../results/paths';
import { evaluate, train } from '../train/loop';
import { atomicWriteJson } from '../util/fs';
import { modelComponent } from './components';
import type { ExperimentConfig, ModelName } from './config';
import { availableSizes, datasetEntry, type RunData } from './datasets';
import { buildOptimizer } from './run';

/** What a probe measures: one model at one width, batch size and (square) image size. */
export interface ProbeShape {
  model: ModelName;
  width: number;
  batchSize: number;
  imageSize: number;
}

/** The machine a probe ran on: CPU model, cores, backend (package, threads, native path). */
export interface Machine {
  cpu: string;
  cores: number;
  backend: string;
}

/** One probe's measurement. */
export interface Probe {
  shape: ProbeShape;
  /** The experiment whose model and optimizer were timed (the first of the catalog with this shape). */
  experiment: string;
  /** The batch the timed steps ran at (the shape's, or less when a full batch would not fit the budget). */
  probeBatch: number;
  /** Timed steps (after one warm-up step) and their mean, in seconds, at `probeBatch`. */
  steps: number;
  stepSeconds: number;
  /** Seconds per training step at the shape's batch size (stepSeconds × batchSize / probeBatch). */
  secondsPerStep: number;
  /** Seconds per image of evaluation (inference mode, at up to 4 × `probeBatch` images, at most 500). */
  evalSecondsPerImage: number;
  /** Wall seconds the whole probe took (model build, warm-up, timed steps, evaluation). */
  probeSeconds: number;
  machine: Machine;
  /** When it was measured (ISO 8601). */
  measuredAt: string;
}

/** The cache file of one machine: its probes by shape key. */
interface ProbeFile {
  version: number;
  machine: Machine;
  probes: Record<string, Probe>;
}

/** Seconds a probe aims at (model build, warm-ups and timed steps; evaluation comes on top). */
export const DEFAULT_BUDGET_SECONDS = 15;

/** Bump when what a probe measures changes: older cache files are then measured again. */
export const PROBE_VERSION = 1;

/** Input side of a config's images: the UNet's `imageSize`; BinaryNet's datasets are 32×32. */
function inputSize(c: ExperimentConfig): number {
  return c.model === 'unet' ? c.imageSize : 32;
}

/** The shape a config's run trains at. */
export function probeShape(c: ExperimentConfig): ProbeShape {
  return { model: c.model, width: c.width, batchSize: c.batchSize, imageSize: inputSize(c) };
}

/** A shape as one short key, e.g. `binarynet w1 b50 32px`. */
export function shapeKey(s: ProbeShape): string {
  return `${s.model} w${s.width} b${s.batchSize} ${s.imageSize}px`;
}

/** This machine as the probe cache keys it (call after initBackend, so the backend is the one runs use). */
export function currentMachine(): Machine {
  const cpus = os.cpus();
  return { cpu: (cpus[0]?.model ?? 'unknown CPU').trim(), cores: cpus.length, backend: describeBackend() };
}

/** The probe cache file of a machine under the results root: `<root>/.probes/<sha256 of the machine, 16 hex>.json`. */
export function probeCacheFile(machine: Machine, root = resultsRoot()): string {
  const id = crypto
    .createHash('sha256')
    .update(JSON.stringify([machine.cpu, machine.cores, machine.backend]))
    .digest('hex')
    .slice(0, 16);
  return path.join(root, '.probes', `${id}.json`);
}

function readProbeFile(file: string, machine: Machine): ProbeFile {
  const empty: ProbeFile = { version: PROBE_VERSION, machine, probes: {} };
  try {
    const f = JSON.parse(fs.readFileSync(file, 'utf8')) as ProbeFile;
    if (
      f.version !== PROBE_VERSION ||
      JSON.stringify(f.machine) !== JSON.stringify(machine) ||
      typeof f.probes !== 'object' ||
      !f.probes
    )
      return empty;
    // keep only well-formed entries (a damaged entry is measured again)
    for (const [k, p] of Object.entries(f.probes)) {
      if (!(
        p &&
        p.secondsPerStep > 0 &&
        p.evalSecondsPerImage > 0 &&
        Number.isFinite(p.secondsPerStep) &&
        Number.isFinite(p.evalSecondsPerImage)
      ))
        delete f.probes[k];
    }
    return f;
  } catch {
    return empty;
  }
}

/** Random data of a shape: images in [-1, 1], one-hot targets (10 classes, or 3 per pixel for segmentation). */
function syntheticData(c: ExperimentConfig, n: number): RunData {
  const size = inputSize(c);
  const seg = c.model === 'unet';
  const classes = seg ? 3 : 10;
  const source = {
    n,
    batch: (idx: Int32Array) =>
      tf.tidy(() => ({
        x: tf.randomUniform([idx.length, size, size, 3], -1, 1, 'float32', 1),
        y: tf.cast(
          tf.oneHot(tf.randomUniform(seg ? [idx.length, size, size] : [idx.length], 0, classes, 'int32', 2), classes),
          'float32',
        ),
      })),
  };
  return {
    train: source,
    val: source,
    test: null,
    nTrain: n,
    inputShape: [size, size, 3],
    numClasses: classes,
    source: 'random (probe)',
  };
}

/** Aborts a probe's training pass from its step hook (caught by `timeSteps`). */
class EnoughSteps extends Error {}

/**
 * Multiply-accumulates of one forward pass of one image through `model`, from its layers: a convolution
 * kernel [kh, kw, cin, cout] costs outH·outW·kh·kw·cin·cout, a dense kernel [in, out] in·out (pooling,
 * normalization and activations are not counted).
 */
export function macsPerImage(model: tf.LayersModel): number {
  let macs = 0;
  for (const l of model.layers) {
    const k = (l as unknown as { kernel?: { shape: number[] } }).kernel;
    if (!k) continue;
    const out = l.outputShape as number[];
    if (k.shape.length === 4) macs += out[1] * out[2] * k.shape[0] * k.shape[1] * k.shape[2] * k.shape[3];
    else if (k.shape.length === 2) macs += k.shape[0] * k.shape[1];
  }
  return macs;
}

/** A model, its optimizer and task, built once for a probe. */
interface Subject {
  c: ExperimentConfig;
  model: tf.LayersModel;
  optimizer: ReturnType<typeof buildOptimizer>;
  task: ReturnType<typeof modelComponent>['task'];
}

/**
 * Times training steps of the subject at `batch` on random data: one warm-up step (a new batch size allocates
 * and builds its kernels), then up to `maxSteps` timed steps while their total stays under `budgetSeconds` (at
 * least one); with three or more, the first timed step is dropped too (it may still be warming up).
 */
async function timeSteps(
  s: Subject,
  batch: number,
  maxSteps: number,
  budgetSeconds: number,
): Promise<{ steps: number; stepSeconds: number }> {
  const data = syntheticData(s.c, batch * (maxSteps + 1));
  const marks: number[] = [];
  try {
    await train({
      model: s.model,
      optimizer: s.optimizer,
      train: data.train,
      val: { n: batch, batch: data.val.batch },
      epochs: 1,
      batchSize: batch,
      rng: new Rng(0),
      task: s.task,
      log: null,
      settle: false,
      onStep: ({ step }) => {
        marks.push(performance.now());
        // marks[0] ends the warm-up step; stop once the timed steps have used the budget
        if (step >= 2 && (marks[marks.length - 1] - marks[0]) / 1000 >= budgetSeconds) throw new EnoughSteps();
      },
    });
  } catch (e) {
    if (!(e instanceof EnoughSteps)) throw e;
  }
  const from = marks.length - 1 >= 3 ? 1 : 0;
  const steps = marks.length - 1 - from;
  const stepSeconds = (marks[marks.length - 1] - marks[from]) / 1000 / steps;
  return { steps, stepSeconds };
}

/**
 * Seconds per image of evaluation: one warm-up and one timed pass over a batch of up to four training batches
 * (nearer a run's evaluation batch of 500, and at most that), fewer where one pass would take more than about
 * 1.5 s (inference costs about a third of a training step per image).
 */
function timeEvaluation(s: Subject, batch: number, stepSeconds: number): number {
  const evalBatch = Math.max(1, Math.min(500, 4 * batch, Math.floor((4.5 * batch) / stepSeconds)));
  const data = syntheticData(s.c, evalBatch);
  const one = { n: evalBatch, batch: data.val.batch };
  evaluate(s.model, one, s.task, evalBatch);
  const t0 = performance.now();
  evaluate(s.model, one, s.task, evalBatch);
  return (performance.now() - t0) / 1000 / evalBatch;
}

/** Multiply-accumulates per step of the first look at a shape (about 8 images of the full-width BinaryNet). */
const LOOK_MACS = 4e9;

/**
 * How much less time per image a full batch is assumed to take than the first look's small batch when choosing
 * the batch to time (measured on a 2-core CPU: BinaryNet at batch 50 about 4× less than at batch 4; the UNet at
 * 128 px about 1.2× less). The probe's result does not depend on it, only which batch it times.
 */
const BATCH_GAIN = 0.5;

/** A warm-up step (the first at a batch size) takes about this many steady steps. */
const WARMUP_STEPS = 3;

/**
 * Measures one shape on this machine with config `c`'s model and optimizer (see the module comment), aiming at
 * `budgetSeconds` of wall time in all (the model build, warm-ups, timed steps; evaluation comes on top).
 *
 * A first look times a batch of about LOOK_MACS multiply-accumulates (the whole batch when the shape is that
 * small, one image of the paper-size UNet). When that was not the full batch, the time per image it measured
 * (times BATCH_GAIN) picks the largest batch whose warm-up and two steps fit what is left of the budget; that
 * batch is timed and scaled to the full one.
 */
export async function probe(c: ExperimentConfig, budgetSeconds = DEFAULT_BUDGET_SECONDS): Promise<Probe> {
  await initBackend();
  const t0 = performance.now();
  const left = () => budgetSeconds - (performance.now() - t0) / 1000;
  const shape = probeShape(c);
  const component = modelComponent(c.model);
  const size = inputSize(c);
  const model = component.build(c, { inputShape: [size, size, 3], numClasses: c.model === 'unet' ? 3 : 10 } as RunData);
  const subject: Subject = { c, model, optimizer: buildOptimizer(c, model, 1000), task: component.task };
  try {
    const lookBatch = Math.max(1, Math.min(shape.batchSize, Math.floor(LOOK_MACS / Math.max(1, macsPerImage(model)))));
    const whole = lookBatch === shape.batchSize;
    let probeBatch = lookBatch;
    let m = await timeSteps(subject, lookBatch, whole ? 8 : 2, whole ? left() : 0);
    if (!whole) {
      const perImage = (m.stepSeconds / lookBatch) * BATCH_GAIN;
      const b = Math.min(shape.batchSize, Math.floor(left() / (WARMUP_STEPS + 2) / perImage));
      if (b >= 1.5 * lookBatch) {
        probeBatch = b;
        m = await timeSteps(subject, b, 8, Math.max(0.5, left() - WARMUP_STEPS * perImage * b));
      }
    }
    return {
      shape,
      experiment: c.experiment,
      probeBatch,
      steps: m.steps,
      stepSeconds: m.stepSeconds,
      secondsPerStep: (m.stepSeconds * shape.batchSize) / probeBatch,
      evalSecondsPerImage: timeEvaluation(subject, probeBatch, m.stepSeconds),
      probeSeconds: (performance.now() - t0) / 1000,
      machine: currentMachine(),
      measuredAt: new Date().toISOString(),
    };
  } finally {
    subject.optimizer.dispose();
    model.dispose();
  }
}

/**
 * The probe of `c`'s shape on this machine: from the cache under `root` when there is one, else measured now and
 * added to the cache. `cached` says which.
 */
export async function probeFor(
  c: ExperimentConfig,
  opts: { root?: string; budgetSeconds?: number } = {},
): Promise<{ probe: Probe; cached: boolean; file: string }> {
  await initBackend();
  const machine = currentMachine();
  const file = probeCacheFile(machine, opts.root);
  const key = shapeKey(probeShape(c));
  const hit = readProbeFile(file, machine).probes[key];
  if (hit) return { probe: hit, cached: true, file };
  const p = await probe(c, opts.budgetSeconds);
  const now = readProbeFile(file, machine); // re-read: another process may have added probes meanwhile
  now.probes[key] = p;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    atomicWriteJson(file, now);
  } catch {
    // an unwritable results folder only costs measuring again next time
  }
  return { probe: p, cached: false, file };
}

/** Images a run trains on, validates on every epoch, and scores once at the end (from its config, no data read). */
export function runSizes(c: ExperimentConfig): { nTrain: number; nVal: number; nTest: number } {
  const d = datasetEntry(c.dataset);
  const found = availableSizes(c.dataset);
  if (d.task === 'segmentation') {
    const nTest = c.testLimit != null ? Math.min(c.testLimit, found.test) : found.test;
    return { nTrain: c.trainLimit != null ? Math.min(c.trainLimit, found.train) : found.train, nVal: nTest, nTest };
  }
  const nTrain = c.trainPerClass != null ? c.trainPerClass * d.classes : found.train;
  if (c.holdoutPerClass != null)
    return { nTrain, nVal: c.holdoutPerClass * d.classes, nTest: c.holdoutPerClass * d.classes };
  const perClass = c.testPerClass != null ? c.testPerClass * d.classes : null;
  // validation: a split of its own (SVHN's images of extra), else the test split
  return { nTrain, nVal: perClass ?? d.sizes.val ?? found.test, nTest: found.test };
}

/** Estimated seconds of one run (one seed) of config `c` from a probe of its shape (formula in the module comment). */
export function estimateSeconds(c: ExperimentConfig, p: Probe, sizes = runSizes(c)): number {
  const steps = Math.floor(sizes.nTrain / c.batchSize);
  const perEpoch = steps * p.secondsPerStep + sizes.nVal * p.evalSecondsPerImage;
  return c.epochs * perEpoch + (2 * sizes.nTest + steps * c.batchSize) * p.evalSecondsPerImage;
}

/** A duration for tables: "45 s", "12 min", "3.4 h", "3.7 days"; "n/a" when not finite. */
export function formatEstimate(s: number): string {
  if (!Number.isFinite(s)) return 'n/a';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 2 * 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}

/** One line naming a probe: shape, what was timed, the result and where it came from. */
export function describeProbe(p: Probe, cached: boolean): string {
  const scaled =
    p.probeBatch !== p.shape.batchSize
      ? `, timed at batch ${p.probeBatch} and scaled ×${(p.shape.batchSize / p.probeBatch).toFixed(2)}`
      : '';
  return (
    `${shapeKey(p.shape)}: ${p.secondsPerStep.toFixed(3)} s/step (${(p.shape.batchSize / p.secondsPerStep || 0).toFixed(1)} img/s training${scaled}), ` +
    `${(1 / p.evalSecondsPerImage).toFixed(0)} img/s evaluation; ${p.steps} timed step(s) of ${p.experiment}, ${p.probeSeconds.toFixed(1)} s probe${cached ? `, cached ${p.measuredAt.slice(0, 10)}` : ', measured now'}`
  );
}

/** Estimates of many runs: the seconds of each, and the probes they came from (one per distinct shape). */
export interface Estimates {
  /** Seconds per config, in the order given (NaN where its probe failed). */
  seconds: number[];
  /** Shape key of each config. */
  shapes: string[];
  probes: { key: string; probe: Probe | null; cached: boolean; error?: string }[];
  machine: Machine;
  /** The probe cache file of this machine. */
  file: string;
}

/**
 * Estimates every config from the probe of its shape, probing each distinct shape once (with the first config of
 * that shape) or reading it from the cache; `log` hears about each probe measured now (they take seconds).
 */
export async function estimateConfigs(
  configs: ExperimentConfig[],
  opts: { root?: string; budgetSeconds?: number; log?: (line: string) => void } = {},
): Promise<Estimates> {
  await initBackend();
  const machine = currentMachine();
  const file = probeCacheFile(machine, opts.root);
  const byShape = new Map<string, { probe: Probe | null; cached: boolean; error?: string }>();
  const shapes = configs.map((c) => shapeKey(probeShape(c)));
  for (const [i, c] of configs.entries()) {
    if (byShape.has(shapes[i])) continue;
    const cachedNow = readProbeFile(file, machine).probes[shapes[i]];
    if (!cachedNow) opts.log?.(`probing ${shapes[i]} (${c.experiment}, ${c.profile})…`);
    try {
      const r = await probeFor(c, opts);
      byShape.set(shapes[i], { probe: r.probe, cached: r.cached });
    } catch (e) {
      byShape.set(shapes[i], { probe: null, cached: false, error: (e as Error).message.split('\n')[0] });
    }
  }
  return {
    seconds: configs.map((c, i) => {
      const p = byShape.get(shapes[i])!.probe;
      return p ? estimateSeconds(c, p) : NaN;
    }),
    shapes,
    probes: [...byShape].map(([key, v]) => ({ key, ...v })),
    machine,
    file,
  };
}

/** The lines that say where estimates came from: the machine, the cache file, and one line per probe. */
export function describeEstimates(e: Estimates, rel: (f: string) => string = (f) => f): string[] {
  return [
    `estimates from probes on this machine (${e.machine.cpu}, ${e.machine.cores} cores; ${e.machine.backend}), cached in ${rel(e.file)} (delete it to measure again):`,
    ...e.probes.map((p) => `  ${p.probe ? describeProbe(p.probe, p.cached) : `${p.key}: probe failed: ${p.error}`}`),
  ];
}
