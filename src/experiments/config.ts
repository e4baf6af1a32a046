/**
 * Experiment configs as plain data. A config names its dataset, model, optimizer and every
 * hyperparameter; schedules decay "every N epochs" (converted to optimizer steps at run time with the
 * run's steps per epoch, as the original's `decay_steps = 50000/50*100`) or every N steps.
 */
export interface DecaySchedule {
  initial: number;
  /** Multiplier applied at each decay (report: 0.1). */
  decay: number;
  /** Decay every this many epochs (null: never). */
  everyEpochs: number | null;
  /** Decay every this many optimizer steps instead (takes precedence when set). */
  everySteps?: number | null;
}

/** A key of the dataset table (./datasets `DATASETS`: cifar10, svhn, pets, …), checked where it is looked up. */
export type DatasetName = string;
export type ModelName = 'binarynet' | 'unet';

export interface ExperimentConfig {
  /** Registry name, e.g. 'cifar10-bop'. */
  experiment: string;
  /** 'paper' | 'quick' | 'smoke'. */
  profile: string;
  /** Report section this run reproduces, e.g. '§3.1'. */
  section: string;
  dataset: DatasetName;
  model: ModelName;
  /** Multiplies every layer's units (1 = the original). */
  width: number;
  /** Dropout after every conv and dense block (0 = none). */
  dropout: number;
  /** UNet only: binarized (true) or full-precision (false). */
  binary: boolean;
  /** 'bop': Bop on binary kernels + Adam on the rest; 'adam': Adam on everything (latent weights for binary nets). */
  optimizer: 'bop' | 'adam';
  /** Bop adaptivity rate γ (null for Adam runs). */
  gamma: DecaySchedule | null;
  /** Bop threshold τ (null for Adam runs). */
  threshold: number | null;
  /** Adam learning rate (Bop runs: the non-binary variables). */
  lr: DecaySchedule;
  /** Baseline only: the paper's Xavier learning-rate scaling of binary kernels. */
  xavierLrScaling: boolean;
  epochs: number;
  batchSize: number;
  /** Stratified subset: first N of each class (null: the whole split). */
  trainPerClass: number | null;
  testPerClass: number | null;
  /** Pets: number of training / test images (null: all) and their square size. */
  trainLimit: number | null;
  testLimit: number | null;
  /**
   * Validate every epoch on the next N images per class of the training split (after the first `trainPerClass`)
   * instead of the test split, and skip the final test evaluation: the calibration's split (null: off).
   */
  holdoutPerClass?: number | null;
  imageSize: number;
  /** Pad-4 random crop (+ horizontal flip where the dataset allows it). */
  augment: boolean;
  seed: number;
  /**
   * BinaryNet's kernels (default 'binary': every kernel binary, as the paper). 'real-hidden': the reproducibility
   * report's code for its baseline (`kernel_quantizer=Activation("linear")`, no constraint after the first layer):
   * the first conv's kernel is ste_sign on a clipped latent kernel, every later kernel is real-valued.
   */
  kernels?: 'binary' | 'real-hidden';
  /** BatchNorm momentum (default 0.99, Keras' default and the paper's code; the report's code 0.999). */
  bnMomentum?: number;
  /**
   * Where dropout sits (default 'afterBn': after each block's batch normalization, before the next binarization).
   * 'afterLayer': directly after each quantized convolution and dense layer, before pooling and BN.
   */
  dropoutPlacement?: 'afterBn' | 'afterLayer';
  /** How a small profile was derived from the paper's settings (recorded in config.json; informational). */
  derivation?: Derivation;
}

/** What a derived profile was cut from: its time axis and the γ·T of its γ phases (./derive). */
export interface Derivation {
  rule: 'dynamics' | 'epochs' | 'paper';
  /** Optimizer steps per epoch of this run (for Pets: of the copy actually loaded). */
  stepsPerEpoch: number;
  /** Steps of this run. */
  runSteps: number;
  /** Paper steps this run covers on the compressed axis, and the paper run's total steps. */
  paperStepsCovered: number;
  paperStepsTotal: number;
  /** γ·T per γ phase of this run (empty without γ). */
  gammaT: number[];
  /** τ over the stationary noise of m relative to the paper's (1 = the paper's ratio); null without τ. */
  tauRelative?: number | null;
  /**
   * τ over the noise of m at the end of the first γ phase, from the sizing's measured gradient noise (./derive
   * `noiseOfM`); absent when the sizing records no measurement.
   */
  tauOverNoise?: number | null;
}

/** What a user may change with --set, and how to parse it. */
export const SETTABLE: Record<
  string,
  'number' | 'int' | 'bool' | 'schedule-initial' | 'schedule-every' | 'nullable-int'
> = {
  width: 'number',
  dropout: 'number',
  epochs: 'int',
  batchSize: 'int',
  threshold: 'number',
  gamma: 'schedule-initial',
  'gamma.initial': 'schedule-initial',
  'gamma.decay': 'number',
  'gamma.everyEpochs': 'schedule-every',
  lr: 'schedule-initial',
  'lr.initial': 'schedule-initial',
  'lr.decay': 'number',
  'lr.everyEpochs': 'schedule-every',
  xavierLrScaling: 'bool',
  trainPerClass: 'nullable-int',
  testPerClass: 'nullable-int',
  trainLimit: 'nullable-int',
  testLimit: 'nullable-int',
  holdoutPerClass: 'nullable-int',
  imageSize: 'int',
  augment: 'bool',
};

/** Checks every field's type and range; throws a one-line error naming the field, its value and what is allowed. */
export function validateConfig(c: ExperimentConfig): void {
  const fail = (field: string, value: unknown, allowed: string) => {
    throw new Error(`${c.experiment}: ${field}=${JSON.stringify(value)} is invalid; allowed: ${allowed}`);
  };
  const posInt = (f: keyof ExperimentConfig) => {
    const v = c[f] as number;
    if (!Number.isInteger(v) || v < 1) fail(f, v, 'an integer ≥ 1');
  };
  posInt('epochs');
  posInt('batchSize');
  posInt('imageSize');
  if (!(typeof c.width === 'number' && c.width > 0 && c.width <= 4)) fail('width', c.width, 'a number in (0, 4]');
  if (!(typeof c.dropout === 'number' && c.dropout >= 0 && c.dropout < 1))
    fail('dropout', c.dropout, 'a number in [0, 1)');
  for (const f of ['trainPerClass', 'testPerClass', 'trainLimit', 'testLimit', 'holdoutPerClass'] as const) {
    const v = c[f];
    if (v != null && (!Number.isInteger(v) || v < 1)) fail(f, v, 'null or an integer ≥ 1');
  }
  const sched = (name: 'gamma' | 'lr', s: DecaySchedule | null) => {
    if (!s) return;
    if (!(Number.isFinite(s.initial) && s.initial >= 0)) fail(`${name}.initial`, s.initial, 'a number ≥ 0');
    if (!(Number.isFinite(s.decay) && s.decay > 0)) fail(`${name}.decay`, s.decay, 'a number > 0');
    if (s.everyEpochs !== null && !(s.everyEpochs > 0))
      fail(`${name}.everyEpochs`, s.everyEpochs, 'null or a number > 0');
    if (s.everySteps != null && !(Number.isInteger(s.everySteps) && s.everySteps > 0))
      fail(`${name}.everySteps`, s.everySteps, 'null or an integer > 0');
  };
  sched('lr', c.lr);
  if (c.optimizer === 'bop') {
    if (!c.gamma) fail('gamma', c.gamma, 'a schedule for Bop runs');
    sched('gamma', c.gamma);
    if (c.gamma!.initial > 1)
      fail(
        'gamma.initial',
        c.gamma!.initial,
        'a number in [0, 1] (m is a moving average with weight γ); a profile this short derives γ > 1: give it more epochs or images',
      );
    if (!(typeof c.threshold === 'number' && Number.isFinite(c.threshold) && c.threshold >= 0))
      fail('threshold', c.threshold, 'a number ≥ 0');
  } else if (c.optimizer !== 'adam') fail('optimizer', c.optimizer, "'bop' or 'adam'");
}
