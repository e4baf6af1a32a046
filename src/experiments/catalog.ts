/**
 * The catalog: every experiment of the reproduction, every section of the report, its claims and the numbers
 * published for it, as plain data. Nothing here runs anything and nothing registers itself: the registry
 * (./registry) resolves configs from it, the runner looks models, datasets and tasks up in ./components, and
 * the figures, notebooks, `npm start` and the tests read it.
 *
 * Adding an experiment = one entry in EXPERIMENTS (and its name in a section's `experiments`).
 *
 * Sources (see the project's reference notes):
 *   [R]  plumerai/rethinking-bnn-optimization, `bop_sec52` hparams and `binarynet.py` (the paper's code)
 *   [P]  Helwegen et al., "Latent Weights Do Not Exist", NeurIPS 2019, §5.1–5.2
 *   [RR] the reproducibility report this project reproduces (NeurIPS 2019 Reproducibility Challenge; seed report
 *        with its own runs of §3.1 and the ablations of §4.1–4.5; code: ksb1712/Nips_reproducibility)
 *   [KTH] N. Vaessen and J. van der Voort (KTH), another reproduction of the same paper (nikvaessen/Rethinking-…)
 */
import type { DecaySchedule, ExperimentConfig } from './config';
import { DATASETS } from './datasets';

export type Profile = 'paper' | 'quick' | 'smoke';
export const PROFILES: Profile[] = ['paper', 'quick', 'smoke'];

/** Who published a number or a claim. */
export type SourceTag = 'paper' | 'report' | 'reproduction' | 'project';

export type Metric = 'valAccuracy' | 'accuracy' | 'testAccuracy';

/** A published number to compare with. */
export interface Reference {
  /** valAccuracy: final test-split ("validation") accuracy; accuracy: final train accuracy. */
  metric: Metric;
  value: number;
  tag: SourceTag;
  /** Who, where: e.g. 'Helwegen et al. 2019, §5.2 (500 epochs)'. */
  source: string;
}

/**
 * How a small profile is cut from `paper`. `rule: 'dynamics'` derives γ, τ and the schedules from the paper's
 * dynamics (./derive: γ·steps per phase, τ from the noise of m, decays at the same places on the compressed time
 * axis); `rule: 'epochs'` scales every schedule by the epoch ratio only (what the UNet runs use).
 */
export interface Sizing {
  epochs: number;
  width: number;
  batchSize?: number;
  trainPerClass?: number | null;
  testPerClass?: number | null;
  trainLimit?: number | null;
  testLimit?: number | null;
  imageSize?: number;
  rule?: 'dynamics' | 'epochs';
  /** Dynamics rule: the experiment whose paper γ schedule sets the compressed time axis (./derive `timeAxis`). */
  axis?: string;
  /**
   * Dynamics rule: the axis keeps the paper's γ phases with γ·T ≥ this (default 1: the phases that still move
   * weights); 0 keeps the whole paper run (the UNets, whose report setting has γ·T < 1 in every phase).
   */
  minGammaT?: number;
  /**
   * Dynamics rule: use the axis experiment's own scale s in this profile instead of fitting the kept phases onto this
   * run's steps; the run then covers (its steps)/s paper steps (the constant-γ arm: the whole report run at the
   * scale of cifar10-bop, so its γ per step is cifar10-bop's first-phase γ).
   */
  sameScale?: boolean;
  /**
   * Dynamics rule: the calibrated experiment whose chosen factors apply here (γ and τ for Bop, the learning rate for
   * the baselines), chosen on a split held out of the training set (./calibrate, calibration/factors.json).
   */
  calibration?: string;
  /**
   * The measured gradient noise of this sizing's model at initialisation (./gradientNoise; mean over `seeds`), which
   * places τ against the noise of m (./derive `noiseOfM`). With `tauOverNoise`, τ is set to that many times the noise
   * of m at the end of the run's first γ phase instead of being carried from the paper's τ (the UNet: see its entry).
   */
  gradientNoise?: { sigmaG: number; batches: number; seeds: number[]; tauOverNoise?: number };
}

export type ExperimentParams = Omit<ExperimentConfig, 'experiment' | 'profile' | 'section' | 'seed'>;

export interface ExperimentEntry {
  name: string;
  section: string;
  title: string;
  /** Legend label in the report's figures (short; the title says the rest). */
  label: string;
  /** What this run is, in one sentence (the claims it tests are in SECTIONS). */
  claim: string;
  /** The original's settings, to the letter. */
  paper: ExperimentParams;
  quick: Sizing;
  smoke: Sizing;
  /** Seeds run by default per profile. */
  seeds: Record<Profile, number[]>;
  references: Reference[];
  /** Paper-profile steps per epoch, to turn step-based schedules into epochs when scaling. */
  paperStepsPerEpoch: number;
  /** Set when this entry's config is identical to another's in the original code: its runs reuse that one's. */
  sameAs?: string;
  /** Not run by `npm start` by default (a named variant; `npm run experiment` runs it). */
  optional?: boolean;
  /** Where this entry differs from the report's text or code, and why. */
  note?: string;
}

/**
 * A claim and how a run tests it. `difference`: the final `metric` of `a` minus that of `b` (mean over seeds, 95 %
 * interval); `gap`: train minus validation accuracy of one experiment; `level`: the final metric of one experiment
 * against a bound; `sensitivity`: read off the calibration grid (§5.1).
 */
export type ClaimTest =
  | {
      kind: 'difference';
      a: string;
      b: string;
      metric: Metric;
      expect: 'greater' | 'less' | 'notLess';
      margin?: number;
    }
  | { kind: 'gap'; experiment: string; expect: 'greater'; margin?: number }
  | { kind: 'level'; experiment: string; metric: Metric; expect: 'below' | 'above'; value: number }
  | {
      kind: 'sensitivity';
      expect: 'flipsRiseWithGamma' | 'flipsFallWithTau' | 'highGammaLowTauPlateausLower' | 'tauZeroDeteriorates';
    };

/**
 * What the runs must reach for a claim to be testable at all, checked from the configs of the runs (config.json,
 * its `derivation`; ./regime). When one is not met the verdict is "not testable at this scale", whatever the
 * numbers say.
 *   coverage    the experiment's run covers at least `atLeast` of the paper's whole run on the compressed time
 *               axis (derivation.paperStepsCovered / paperStepsTotal)
 *   gammaT      γ·T of the experiment's first γ phase, or of the whole run, is at least `atLeast`
 *   afterDecay  the experiment's γ or lr schedule decays at least once, with at least `epochsAtLeast` epochs after
 *               its first decay
 *   tauActive   τ is within a factor `within` of the paper's ratio τ/σ_m (derivation.tauRelative), so that τ, not
 *               the sign of m alone, decides the flips
 */
export type RegimeRequirement =
  | { kind: 'coverage'; experiment: string; atLeast: number; why: string }
  | { kind: 'gammaT'; experiment: string; phase: 'first' | 'total'; atLeast: number; why: string }
  | { kind: 'afterDecay'; experiment: string; schedule: 'gamma' | 'lr'; epochsAtLeast: number; why: string }
  | { kind: 'tauActive'; experiment: string; within: number; why: string }
  | { kind: 'tauVsNoise'; experiment: string; atLeast: number; why: string };

export interface Claim {
  id: string;
  text: string;
  /** Whose claim it is: the paper's, the reproducibility report's, another reproduction's or this project's. */
  tag: SourceTag;
  source: string;
  /** The numbers behind the claim as published (shown beside the measured ones). */
  published?: string;
  test: ClaimTest;
  /** The regime the runs must reach for the claim to be testable (default: none). */
  regime?: RegimeRequirement[];
}

/**
 * A figure of the report, drawn from stored results by the figure registry (./figures, `npm run figures`,
 * `showCatalogFigure(runs, name)` in notebooks). `kind` says what it draws: accuracy or loss curves (train dashed,
 * validation solid, mean over seeds), the flip metric per binary layer, the γ / learning-rate schedules, mean IoU,
 * or the segmentation grid of the first run's predictions.
 */
export interface FigureEntry {
  name: string;
  kind: 'accuracy' | 'loss' | 'flips' | 'hyperparameters' | 'miou' | 'segmentation';
  title: string;
  description: string;
  /** Experiments drawn, in legend order (default: the section's `experiments`); labels are their `label`. */
  experiments?: string[];
  /** Draw with at least this many of them (default: every one must have results). */
  minRuns?: number;
  /** Axis and trace names when they are not accuracy / "train" / "validation" (the UNets' pixel accuracy on the test split). */
  axes?: { yTitle?: string; trainName?: string; valName?: string };
}

export interface Section {
  id: string;
  title: string;
  /** Notebook file name without extension. */
  notebook: string;
  experiments: string[];
  /** The report's figures of this section. */
  figures: FigureEntry[];
  claims: Claim[];
  /** Printed in the notebook and the summary: what this section's small profile can and cannot show. */
  caveat?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Schedules and shared settings

const constant = (v: number): DecaySchedule => ({ initial: v, decay: 1, everyEpochs: null });
const every = (v: number, epochs: number): DecaySchedule => ({ initial: v, decay: 0.1, everyEpochs: epochs });

const cifarBase = {
  dataset: 'cifar10' as const,
  model: 'binarynet' as const,
  width: 1,
  dropout: 0,
  binary: true,
  xavierLrScaling: false,
  epochs: 500,
  batchSize: 50,
  trainPerClass: null,
  testPerClass: null,
  trainLimit: null,
  testLimit: null,
  imageSize: 32,
  augment: true,
};
/** [R] `bop_sec52`: τ 1e-8, γ 1e-4 ×0.1 every 100 epochs (100,000 steps at batch 50), Adam(0.01) constant for the BN betas. */
const cifarBop = {
  ...cifarBase,
  optimizer: 'bop' as const,
  gamma: every(1e-4, 100),
  threshold: 1e-8,
  lr: constant(0.01),
};
/** [P] §5.2 baseline: Adam 1e-3 ×0.1 every 100 epochs with Xavier learning-rate scaling, clipped latent weights, batch 50. */
const cifarAdam = {
  ...cifarBase,
  optimizer: 'adam' as const,
  gamma: null,
  threshold: null,
  lr: every(1e-3, 100),
  xavierLrScaling: true,
};
/**
 * [RR] code (`cifar.ipynb` cells 7–8): binary activations, real-valued kernels after the first layer (no constraint),
 * plain Adam 1e-3 with a step scheduler (×0.1 every 100 epochs), no Xavier scaling, BN momentum 0.999.
 */
const cifarReportAdam = { ...cifarAdam, xavierLrScaling: false, kernels: 'real-hidden' as const, bnMomentum: 0.999 };

/**
 * quick: BinaryNet at 1/8 width on 1,500 training images per class (15,000) for 10 epochs of batch 50 = 3,000
 * steps; validation every epoch on 100 test images per class, the full 10,000-image test split at the end.
 * Sized so that every CIFAR-10 arm × 3 seeds, the UNets, the figures and the notebooks fit in an hour on 2 cores.
 */
const CIFAR_QUICK_BASE: Sizing = {
  epochs: 10,
  width: 0.125,
  trainPerClass: 1500,
  testPerClass: 100,
  rule: 'dynamics',
  axis: 'cifar10-bop',
};
/** Bop arms: γ and τ as chosen on cifar10-bop's calibration grid. */
const CIFAR_QUICK: Sizing = { ...CIFAR_QUICK_BASE, calibration: 'cifar10-bop' };
/** The latent-weight baseline: its learning rate as chosen on its own calibration grid (same budget as Bop's). */
const CIFAR_QUICK_ADAM: Sizing = { ...CIFAR_QUICK_BASE, calibration: 'cifar10-adam-baseline' };
/**
 * γ constant: the whole report run (500 paper epochs) at cifar10-bop's scale: 25 epochs, 7,500 steps, at the derived
 * (uncalibrated) γ, so that γ·T over the run is the report's 50; compared with cifar10-bop-untuned, its decayed twin.
 */
const CIFAR_QUICK_CONSTANT_GAMMA: Sizing = { ...CIFAR_QUICK_BASE, epochs: 25, sameScale: true };
// smoke: seconds, chance level; schedules scaled by the epoch ratio (the dynamics rule would ask for γ > 1 on 8 steps).
const CIFAR_SMOKE: Sizing = {
  epochs: 2,
  width: 0.0625,
  batchSize: 25,
  trainPerClass: 10,
  testPerClass: 5,
  rule: 'epochs',
};
const CIFAR_SEEDS = { paper: [0, 1, 2], quick: [0, 1, 2], smoke: [0] };
/**
 * The tuned §3.1 arms: a fourth seed on quick, the fewest for which the paired Bop − baseline interval is within
 * ±1.5 pp at the spread of the paired differences measured on three (the verdict table prints this count).
 */
const CIFAR_SEEDS_31 = { paper: [0, 1, 2], quick: [0, 1, 2, 3], smoke: [0] };

const P_BOP: Reference = {
  metric: 'valAccuracy',
  value: 0.913,
  tag: 'paper',
  source: 'Helwegen et al. 2019, §5.2 (Bop, 500 epochs)',
};
const P_ADAM: Reference = {
  metric: 'valAccuracy',
  value: 0.909,
  tag: 'paper',
  source: 'Helwegen et al. 2019, §5.2 (latent-weight Adam)',
};
const RR_BOP: Reference = {
  metric: 'valAccuracy',
  value: 0.916,
  tag: 'report',
  source: 'reproducibility report, seed runs (Bop, mean of 3)',
};
const RR_ADAM: Reference = {
  metric: 'valAccuracy',
  value: 0.9102,
  tag: 'report',
  source: 'reproducibility report, seed runs (Adam baseline, mean of 3)',
};
const KTH_BOP: Reference = {
  metric: 'valAccuracy',
  value: 0.892,
  tag: 'reproduction',
  source: 'Vaessen & van der Voort (KTH), 320 epochs, no val split',
};

const SVHN_BASE = { ...cifarBase, dataset: 'svhn' as const, epochs: 300, batchSize: 256, imageSize: 32 };
const SVHN_QUICK: Sizing = {
  epochs: 10,
  width: 0.125,
  batchSize: 50,
  trainPerClass: 1500,
  testPerClass: 100,
  rule: 'dynamics',
  axis: 'svhn-bop',
};
// SVHN has no held-out calibration of its own: each arm takes its CIFAR-10 twin's factors (the same procedure for both).
const SVHN_QUICK_BOP: Sizing = { ...SVHN_QUICK, calibration: 'cifar10-bop' };
const SVHN_QUICK_ADAM: Sizing = { ...SVHN_QUICK, calibration: 'cifar10-adam-baseline' };

/** tfds oxford_iiit_pet:3.0.0 train = 3,680 images at batch 64: 57 steps per epoch (the report's notebooks). */
const PETS_STEPS_PER_EPOCH = Math.floor(DATASETS.pets.sizes.train / 64);
const petsBase = {
  dataset: 'pets' as const,
  model: 'unet' as const,
  width: 1,
  dropout: 0,
  xavierLrScaling: false,
  epochs: 300,
  batchSize: 64,
  trainPerClass: null,
  testPerClass: null,
  trainLimit: null,
  testLimit: null,
  imageSize: 128,
  augment: true,
};
/**
 * 10 epochs of batch 8 on the Pets copy found (the 600-image sample: 300 train / 298 test) at 64×64, three seeds.
 * The dynamics rule on the UNet's own γ schedule, keeping every phase (the report's UNet setting has γ·T 0.57,
 * 0.057, 0.0057: none reaches 1): the whole 300-epoch run compressed onto the steps of the copy actually loaded,
 * γ divided by the scale (γ·T per phase as in the report), τ scaled to the noise of m, decays at the same places.
 */
const UNET_QUICK: Sizing = {
  epochs: 10,
  width: 0.25,
  batchSize: 8,
  imageSize: 64,
  trainLimit: null,
  testLimit: null,
  rule: 'dynamics',
  axis: 'pets-unet-binary-bop',
  minGammaT: 0,
};
/**
 * The binary UNet's gradient noise at initialisation on quick, measured (./gradientNoise: 32 shuffled batches, σ_g
 * 1.22e-3, 0.92e-3, 1.11e-3 for seeds 0–2; again with `npm run gradient-noise -- pets-unet-binary-bop`). For
 * comparison, the quick CIFAR-10 BinaryNet measures σ_g ≈ 1.18e-2, where τ carried by rule 3 is ≈ 1e-3 of the
 * stationary noise of m: τ is negligible there too, and the γ decays act because its first phase is stationary
 * (γ·T = 10), so the noise of m, and with it the rate at which m changes sign, shrinks with √γ.
 */
const UNET_SIGMA_G = { sigmaG: 1.086e-3, batches: 32, seeds: [0, 1, 2] };
/**
 * The UNet's Bop arm: the report's γ·T per phase (0.57, 0.057, 0.0057) never lets m become stationary, so m sums the
 * gradients and its sign does not depend on γ: with the report's τ (≈ 2e-2 of the noise of m here) the flips never
 * fall after a decay. τ is therefore set to the noise of m at the end of the first phase (τ/σ_m = 1): a flip needs
 * m to move by one noise width, which a decayed γ makes 10× slower.
 */
const UNET_QUICK_BOP: Sizing = { ...UNET_QUICK, gradientNoise: { ...UNET_SIGMA_G, tauOverNoise: 1 } };
/** The report's τ carried by rule 3 (the variant that shows the report's regime); the measurement is recorded only. */
const UNET_QUICK_BOP_REPORT_TAU: Sizing = { ...UNET_QUICK, gradientNoise: UNET_SIGMA_G };
const UNET_SMOKE: Sizing = {
  epochs: 2,
  width: 1 / 16,
  batchSize: 8,
  imageSize: 32,
  trainLimit: 16,
  testLimit: 8,
  rule: 'epochs',
};
const UNET_SEEDS = { paper: [0], quick: [0, 1, 2], smoke: [0] };

// ---------------------------------------------------------------------------------------------------------------
// Experiments

export const EXPERIMENTS: ExperimentEntry[] = [
  {
    name: 'cifar10-adam-baseline',
    section: '§3.1',
    title: 'BinaryNet on CIFAR-10, latent weights with Adam (baseline)',
    label: 'Adam baseline (latent weights)',
    claim:
      "Latent weights binarized by ste_sign, clipped to [−1, 1], Adam 1e-3 with Xavier learning-rate scaling (paper §5.2); on quick its learning rate is tuned on its own grid, with the budget of Bop's.",
    paper: cifarAdam,
    quick: CIFAR_QUICK_ADAM,
    smoke: CIFAR_SMOKE,
    seeds: CIFAR_SEEDS_31,
    references: [P_ADAM],
    paperStepsPerEpoch: 1000,
  },
  {
    name: 'cifar10-adam-baseline-untuned',
    section: '§3.1',
    title: 'BinaryNet on CIFAR-10, latent weights with Adam, at the derived (untuned) learning rate',
    label: 'Adam baseline, untuned',
    claim: 'cifar10-adam-baseline at the learning rate the profile derives, before calibration (factor 1).',
    paper: cifarAdam,
    quick: CIFAR_QUICK_BASE,
    smoke: CIFAR_SMOKE,
    seeds: CIFAR_SEEDS,
    references: [],
    paperStepsPerEpoch: 1000,
  },
  {
    name: 'cifar10-report-baseline',
    section: '§3.1',
    title:
      "The reproducibility report's baseline as its code ran it: binary activations, real-valued hidden kernels, Adam",
    label: 'Report-code baseline (real kernels)',
    claim:
      "The report's `cifar.ipynb`: ste_sign on every hidden input, real-valued kernels after the first layer, plain Adam 1e-3 ×0.1 every 100 epochs, no Xavier scaling, BN momentum 0.999. Not a binary-weight network.",
    paper: cifarReportAdam,
    quick: CIFAR_QUICK_BASE,
    smoke: CIFAR_SMOKE,
    seeds: CIFAR_SEEDS,
    references: [RR_ADAM],
    paperStepsPerEpoch: 1000,
    note: "Run at the report code's settings (derived for quick, not calibrated); its claim compares it with the untuned Bop arm, so neither side is tuned.",
  },
  {
    name: 'cifar10-bop',
    section: '§3.1',
    title: 'BinaryNet on CIFAR-10 with Bop',
    label: 'Bop',
    claim:
      'Bop on the binary kernels (γ 1e-4 ×0.1 every 100 epochs, τ 1e-8), Adam 0.01 constant on the BN betas ([R] bop_sec52).',
    paper: cifarBop,
    quick: CIFAR_QUICK,
    smoke: CIFAR_SMOKE,
    seeds: CIFAR_SEEDS_31,
    references: [P_BOP, RR_BOP, KTH_BOP],
    paperStepsPerEpoch: 1000,
  },
  {
    name: 'cifar10-bop-untuned',
    section: '§3.1',
    title: 'BinaryNet on CIFAR-10 with Bop at the derived (untuned) γ and τ',
    label: 'Bop, untuned',
    claim: 'cifar10-bop at the γ and τ the profile derives, before calibration (factors 1).',
    paper: cifarBop,
    quick: CIFAR_QUICK_BASE,
    smoke: CIFAR_SMOKE,
    seeds: CIFAR_SEEDS,
    references: [],
    paperStepsPerEpoch: 1000,
  },
  {
    name: 'cifar10-bop-constant-lr',
    section: '§4.1',
    title: 'Bop with the Adam learning rate held at 0.01',
    label: 'Bop, Adam lr 0.01 constant (original)',
    claim:
      "The report's §4.1 run: the BN betas' Adam learning rate constant at 0.01 — the original code's setting, so this is the cifar10-bop run.",
    paper: cifarBop,
    quick: CIFAR_QUICK,
    smoke: CIFAR_SMOKE,
    seeds: CIFAR_SEEDS,
    references: [
      {
        metric: 'accuracy',
        value: 0.96,
        tag: 'report',
        source: 'reproducibility report §4.1 (constant lr 0.01, train)',
      },
      {
        metric: 'valAccuracy',
        value: 0.91,
        tag: 'report',
        source: 'reproducibility report §4.1 (constant lr 0.01, validation)',
      },
    ],
    paperStepsPerEpoch: 1000,
    sameAs: 'cifar10-bop',
  },
  {
    name: 'cifar10-bop-lr-decay',
    section: '§4.1',
    title: "Bop with the Adam learning rate decayed ×0.1 with γ (this project's contrast)",
    label: 'Bop, Adam lr ×0.1 with γ',
    claim:
      "Not in the report: the BN betas' learning rate decayed ×0.1 with γ (as the KTH reproduction's script), against holding it constant.",
    paper: { ...cifarBop, lr: every(0.01, 100) },
    quick: CIFAR_QUICK,
    smoke: CIFAR_SMOKE,
    seeds: CIFAR_SEEDS,
    references: [],
    paperStepsPerEpoch: 1000,
  },
  {
    name: 'cifar10-bop-dropout',
    section: '§4.2',
    title: 'Bop with dropout 0.25 after every quantized conv and dense layer',
    label: 'Bop, dropout 0.25',
    claim:
      "Dropout p = 0.25 directly after each quantized convolution and hidden dense layer (before pooling and BN), as the report's text says.",
    paper: { ...cifarBop, dropout: 0.25, dropoutPlacement: 'afterLayer' as const },
    quick: CIFAR_QUICK,
    smoke: CIFAR_SMOKE,
    seeds: CIFAR_SEEDS,
    references: [
      { metric: 'accuracy', value: 0.92, tag: 'report', source: 'reproducibility report §4.2 (dropout 0.25, train)' },
      {
        metric: 'valAccuracy',
        value: 0.88,
        tag: 'report',
        source: 'reproducibility report §4.2 (dropout 0.25, validation)',
      },
    ],
    paperStepsPerEpoch: 1000,
    note: 'The report\'s text: dropout "applied to every convolution and dense layer"; its code has none. Not after the 10-way output layer. The earlier placement, after each block\'s BN, is the named variant cifar10-bop-dropout-after-bn.',
  },
  {
    name: 'cifar10-bop-dropout-after-bn',
    section: '§4.2',
    title: "Bop with dropout 0.25 after each block's batch normalization (a named variant)",
    label: 'Bop, dropout 0.25 after BN',
    claim:
      "Dropout p = 0.25 after each block's BN, before the next binarization: a dropped unit is 0, which the next layer's sign(0) = +1 turns into +1.",
    paper: { ...cifarBop, dropout: 0.25, dropoutPlacement: 'afterBn' as const },
    quick: CIFAR_QUICK,
    smoke: CIFAR_SMOKE,
    seeds: CIFAR_SEEDS,
    references: [],
    paperStepsPerEpoch: 1000,
    optional: true,
  },
  {
    name: 'cifar10-bop-constant-gamma',
    section: '§4.3',
    title: 'Bop with γ held constant (no decay)',
    label: 'Bop, γ constant',
    claim:
      "γ held at its first-phase value for the whole run, τ unchanged; on quick the whole 500-epoch report run at cifar10-bop's scale (25 epochs), at the derived γ and τ (γ·T 50, as the report), against cifar10-bop-untuned.",
    paper: { ...cifarBop, gamma: constant(1e-4) },
    quick: CIFAR_QUICK_CONSTANT_GAMMA,
    smoke: CIFAR_SMOKE,
    seeds: CIFAR_SEEDS,
    references: [
      { metric: 'accuracy', value: 0.35, tag: 'report', source: 'reproducibility report §4.3 (constant γ, train)' },
      {
        metric: 'valAccuracy',
        value: 0.1,
        tag: 'report',
        source: 'reproducibility report §4.3 (constant γ, validation)',
      },
    ],
    paperStepsPerEpoch: 1000,
  },
  {
    name: 'svhn-adam-baseline',
    section: '§4.4',
    title: 'BinaryNet on SVHN, latent weights with Adam',
    label: 'Adam baseline (latent weights)',
    claim:
      "The report's code: batch 256, 300 epochs, Adam 1e-3 ×0.1 at epochs 100 and 200, horizontal flips; validation = 30,000 of extra.",
    paper: {
      ...SVHN_BASE,
      optimizer: 'adam',
      gamma: null,
      threshold: null,
      lr: every(1e-3, 100),
      xavierLrScaling: true,
    },
    quick: SVHN_QUICK_ADAM,
    smoke: CIFAR_SMOKE,
    seeds: { paper: [0], quick: [0, 1, 2], smoke: [0] },
    references: [],
    paperStepsPerEpoch: Math.floor(DATASETS.svhn.sizes.train / 256),
  },
  {
    name: 'svhn-report-baseline',
    section: '§4.4',
    title: "The report's SVHN baseline as its code ran it: binary activations, real-valued hidden kernels, Adam",
    label: 'Report-code baseline (real kernels)',
    claim:
      "The report's `svhn.ipynb`: the model of its CIFAR-10 baseline (real-valued kernels after the first layer, BN momentum 0.999), Adam 1e-3 ×0.1 at epochs 100 and 200, no Xavier scaling.",
    paper: {
      ...SVHN_BASE,
      optimizer: 'adam',
      gamma: null,
      threshold: null,
      lr: every(1e-3, 100),
      xavierLrScaling: false,
      kernels: 'real-hidden',
      bnMomentum: 0.999,
    },
    quick: SVHN_QUICK,
    smoke: CIFAR_SMOKE,
    seeds: { paper: [0], quick: [0, 1, 2], smoke: [0] },
    references: [
      {
        metric: 'valAccuracy',
        value: 0.92,
        tag: 'report',
        source: 'reproducibility report §4.4 (its baseline, real-valued hidden kernels, 300 epochs)',
      },
    ],
    paperStepsPerEpoch: Math.floor(DATASETS.svhn.sizes.train / 256),
  },
  {
    name: 'svhn-bop',
    section: '§4.4',
    title: 'BinaryNet on SVHN with Bop',
    label: 'Bop',
    claim:
      "The report's code: Bop with its γ decay copied from CIFAR-10 (every 100,000 steps ≈ 350 epochs at batch 256: never reached).",
    paper: {
      ...SVHN_BASE,
      optimizer: 'bop',
      gamma: { initial: 1e-4, decay: 0.1, everyEpochs: null, everySteps: 100_000 },
      threshold: 1e-8,
      lr: constant(0.01),
    },
    quick: SVHN_QUICK_BOP,
    smoke: CIFAR_SMOKE,
    seeds: { paper: [0], quick: [0, 1, 2], smoke: [0] },
    references: [
      { metric: 'valAccuracy', value: 0.932, tag: 'report', source: 'reproducibility report §4.4 (Bop, 300 epochs)' },
    ],
    paperStepsPerEpoch: Math.floor(DATASETS.svhn.sizes.train / 256),
  },
  {
    name: 'pets-unet-fp-adam',
    section: '§4.5',
    title: 'Full-precision UNet on Oxford-IIIT Pet with Adam',
    label: 'Full-precision U-Net (Adam)',
    claim: "A real-valued UNet (ReLU, BN), Adam 1e-3 as the report's code ran it (its scheduler commented out).",
    paper: { ...petsBase, binary: false, optimizer: 'adam', gamma: null, threshold: null, lr: constant(1e-3) },
    quick: UNET_QUICK,
    smoke: UNET_SMOKE,
    seeds: UNET_SEEDS,
    references: [],
    paperStepsPerEpoch: PETS_STEPS_PER_EPOCH,
  },
  {
    name: 'pets-unet-fp-adam-lr0.1',
    section: '§4.5',
    title: "Full-precision UNet, Adam 0.1 ×0.1 every 100 epochs (the report's text)",
    label: 'Full-precision U-Net (Adam 0.1)',
    claim: "The learning rate the report's text gives for the full-precision UNet (its code ran 1e-3).",
    paper: { ...petsBase, binary: false, optimizer: 'adam', gamma: null, threshold: null, lr: every(0.1, 100) },
    quick: UNET_QUICK,
    smoke: UNET_SMOKE,
    seeds: UNET_SEEDS,
    references: [],
    paperStepsPerEpoch: PETS_STEPS_PER_EPOCH,
    optional: true,
  },
  {
    name: 'pets-unet-binary-adam',
    section: '§4.5',
    title: 'Binarized UNet on Oxford-IIIT Pet, latent weights with Adam',
    label: 'Binary U-Net, Adam (latent weights)',
    claim: "ste_sign kernels from clipped latent weights, Adam 1e-2 ×0.1 every 100 epochs (the report's notebook).",
    paper: { ...petsBase, binary: true, optimizer: 'adam', gamma: null, threshold: null, lr: every(1e-2, 100) },
    quick: UNET_QUICK,
    smoke: UNET_SMOKE,
    seeds: UNET_SEEDS,
    references: [],
    paperStepsPerEpoch: PETS_STEPS_PER_EPOCH,
  },
  {
    name: 'pets-unet-binary-bop',
    section: '§4.5',
    title: 'Binarized UNet on Oxford-IIIT Pet with Bop',
    label: 'Binary U-Net, Bop',
    claim:
      "Bop γ 1e-4 ×0.1 every 100 epochs, Adam 1e-2 constant on the BN betas (the report's notebook); the report's τ is 1e-8, on quick τ is set to the measured noise of m at the end of the first γ phase so that the decays act.",
    paper: {
      ...petsBase,
      binary: true,
      optimizer: 'bop',
      gamma: every(1e-4, 100),
      threshold: 1e-8,
      lr: constant(1e-2),
    },
    quick: UNET_QUICK_BOP,
    smoke: UNET_SMOKE,
    seeds: UNET_SEEDS,
    references: [],
    paperStepsPerEpoch: PETS_STEPS_PER_EPOCH,
  },
  {
    name: 'pets-unet-binary-bop-report-tau',
    section: '§4.5',
    title: "Binarized UNet on Oxford-IIIT Pet with Bop at the report's τ",
    label: 'Binary U-Net, Bop (report τ)',
    claim:
      "pets-unet-binary-bop with the report's τ 1e-8 carried by rule 3: negligible against the noise of m, so the sign of m alone decides each flip (the report's regime, whose Bop curve it calls erratic).",
    paper: {
      ...petsBase,
      binary: true,
      optimizer: 'bop',
      gamma: every(1e-4, 100),
      threshold: 1e-8,
      lr: constant(1e-2),
    },
    quick: UNET_QUICK_BOP_REPORT_TAU,
    smoke: UNET_SMOKE,
    seeds: UNET_SEEDS,
    references: [],
    paperStepsPerEpoch: PETS_STEPS_PER_EPOCH,
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Sections of the report, their claims and figures

const RR = 'reproducibility report';

export const SECTIONS: Section[] = [
  {
    id: '§3.1',
    title: 'BinaryNet on CIFAR-10: latent-weight Adam vs Bop',
    notebook: '01-baseline-vs-bop',
    experiments: [
      'cifar10-adam-baseline',
      'cifar10-bop',
      'cifar10-adam-baseline-untuned',
      'cifar10-bop-untuned',
      'cifar10-report-baseline',
    ],
    figures: [
      {
        name: 'fig1-baseline-vs-bop',
        experiments: ['cifar10-adam-baseline', 'cifar10-bop'],
        kind: 'accuracy',
        title: 'CIFAR-10 BinaryNet: Adam baseline vs Bop',
        description: 'Training and validation accuracy per epoch, latent-weight Adam baseline vs Bop (report Fig. 1).',
      },
      {
        name: 'fig1-report-baseline',
        kind: 'accuracy',
        title: 'CIFAR-10: the report-code baseline (real-valued kernels) vs Bop, both untuned',
        description:
          "Training and validation accuracy per epoch of the report code's baseline (binary activations, real-valued hidden kernels) and of Bop at the derived settings.",
        experiments: ['cifar10-report-baseline', 'cifar10-bop-untuned'],
        minRuns: 1,
      },
      {
        name: 'fig1-loss-baseline-vs-bop',
        experiments: ['cifar10-adam-baseline', 'cifar10-bop'],
        kind: 'loss',
        title: 'CIFAR-10 BinaryNet: loss, Adam baseline vs Bop',
        description: 'Training and validation loss per epoch of the two arms of Fig. 1.',
        minRuns: 1,
      },
      {
        name: 'flip-ratio',
        kind: 'flips',
        title: 'Bop: flip ratio per layer',
        description: 'πₜ = ln(flips/weights + e⁻⁹) per binary layer of the CIFAR-10 Bop run (paper Eq. 7).',
        experiments: ['cifar10-bop'],
      },
      {
        name: 'hyperparameters',
        kind: 'hyperparameters',
        title: 'Schedules: γ and learning rate',
        description: 'Bop adaptivity rate γ and Adam learning rate per epoch.',
        experiments: ['cifar10-adam-baseline', 'cifar10-bop'],
        minRuns: 1,
      },
      {
        name: 'fig1-untuned',
        kind: 'accuracy',
        title: 'CIFAR-10 BinaryNet: Adam baseline vs Bop, both untuned',
        description:
          'Training and validation accuracy per epoch of both arms at the settings the profile derives, neither calibrated.',
        experiments: ['cifar10-adam-baseline-untuned', 'cifar10-bop-untuned'],
        minRuns: 1,
      },
    ],
    claims: [
      {
        id: 'bop-matches-baseline',
        text: 'Bop reaches at least the accuracy of latent-weight Adam on BinaryNet / CIFAR-10 (binary weights in both arms; each arm tuned by the same calibration procedure).',
        tag: 'paper',
        source: 'Helwegen et al. 2019, §5.2',
        published: 'paper: Bop 91.3 vs latent-weight Adam 90.9 (+0.4 pp); KTH reproduction: Bop 89.2',
        test: {
          kind: 'difference',
          a: 'cifar10-bop',
          b: 'cifar10-adam-baseline',
          metric: 'testAccuracy',
          expect: 'notLess',
          margin: 0.01,
        },
      },
      {
        id: 'bop-matches-baseline-untuned',
        text: 'The same comparison at the settings the profile derives from the paper, neither arm tuned.',
        tag: 'paper',
        source: 'Helwegen et al. 2019, §5.2 (at this scale without calibration)',
        published: 'paper: Bop 91.3 vs latent-weight Adam 90.9 (+0.4 pp)',
        test: {
          kind: 'difference',
          a: 'cifar10-bop-untuned',
          b: 'cifar10-adam-baseline-untuned',
          metric: 'testAccuracy',
          expect: 'notLess',
          margin: 0.01,
        },
      },
      {
        id: 'bop-matches-report-baseline',
        text: "Bop reaches at least the accuracy of the report's own baseline, which keeps real-valued hidden kernels (its code), both at the derived settings.",
        tag: 'report',
        source: `${RR} §3.1 (seed runs, mean of 3) and its cifar.ipynb`,
        published: 'report: Bop 91.6 vs its baseline 91.02 (+0.58 pp)',
        test: {
          kind: 'difference',
          a: 'cifar10-bop-untuned',
          b: 'cifar10-report-baseline',
          metric: 'testAccuracy',
          expect: 'notLess',
          margin: 0.01,
        },
      },
    ],
  },
  {
    id: '§4.1',
    title: 'Learning rate of the non-binary variables',
    notebook: '02-learning-rate',
    experiments: ['cifar10-bop-constant-lr', 'cifar10-bop-lr-decay'],
    figures: [
      {
        name: 'fig2-learning-rate-loss',
        kind: 'loss',
        title: 'Effect of the learning rate: loss',
        description:
          "Training and validation loss with the BN betas' Adam lr constant or decayed (report Fig. 2 is a loss plot).",
        minRuns: 1,
      },
      {
        name: 'fig2-3-learning-rate',
        kind: 'accuracy',
        title: 'Effect of the learning rate',
        description: "Training and validation accuracy with the BN betas' Adam lr constant or decayed (report Fig. 3).",
        minRuns: 1,
      },
      {
        name: 'learning-rate-schedules',
        kind: 'hyperparameters',
        title: 'Effect of the learning rate: γ and the Adam learning rate',
        description: "γ (the same in both runs) and the BN betas' Adam lr, constant vs decayed.",
        minRuns: 1,
      },
      {
        name: 'learning-rate-flips',
        kind: 'flips',
        title: 'Effect of the learning rate: flip metric of the last layer',
        description: 'πₜ of the last binary layer with the Adam lr constant or decayed.',
        minRuns: 1,
      },
    ],
    claims: [
      {
        id: 'constant-lr-overfits',
        text: "With the BN betas' Adam learning rate constant at 0.01 Bop fits the training set better than the validation set (train 96 vs validation 91).",
        tag: 'report',
        source: `${RR} §4.1 (one run)`,
        published: 'report: train 96, validation 91',
        test: { kind: 'gap', experiment: 'cifar10-bop', expect: 'greater' },
        regime: [
          {
            kind: 'coverage',
            experiment: 'cifar10-bop',
            atLeast: 1,
            why: "the report's gap comes after its whole 500-epoch run, once the network fits its training set",
          },
        ],
      },
      {
        id: 'lr-decay-no-better',
        text: "This project's own contrast, not the report's: decaying that learning rate with γ does not beat holding it constant.",
        tag: 'project',
        source: 'this project (the KTH script decays it)',
        test: {
          kind: 'difference',
          a: 'cifar10-bop',
          b: 'cifar10-bop-lr-decay',
          metric: 'testAccuracy',
          expect: 'notLess',
          margin: 0.01,
        },
        regime: [
          {
            kind: 'afterDecay',
            experiment: 'cifar10-bop-lr-decay',
            schedule: 'lr',
            epochsAtLeast: 1,
            why: 'the contrast needs epochs after the learning rate has decayed',
          },
        ],
      },
    ],
  },
  {
    id: '§4.2',
    title: 'Dropout 0.25',
    notebook: '03-dropout',
    experiments: ['cifar10-bop', 'cifar10-bop-dropout', 'cifar10-bop-dropout-after-bn'],
    figures: [
      {
        name: 'fig4-dropout-loss',
        kind: 'loss',
        title: 'Effect of dropout: loss',
        description: 'Training and validation loss with and without dropout (report Fig. 4 is a loss plot).',
        minRuns: 1,
      },
      {
        name: 'fig4-5-dropout',
        kind: 'accuracy',
        title: 'Effect of dropout',
        description: 'Training and validation accuracy with and without dropout (report Fig. 5).',
        minRuns: 1,
      },
      {
        name: 'dropout-flips',
        kind: 'flips',
        title: 'Effect of dropout: flip metric of the last layer',
        description: 'πₜ of the last binary layer with and without dropout.',
        minRuns: 1,
      },
    ],
    claims: [
      {
        id: 'dropout-lowers-accuracy',
        text: "Dropout 0.25 lowers Bop's validation accuracy (88 against 91.6 without).",
        tag: 'report',
        source: `${RR} §4.2`,
        published: 'report: dropout train 92 / validation 88; without dropout 91.6 (validation)',
        test: {
          kind: 'difference',
          a: 'cifar10-bop-dropout',
          b: 'cifar10-bop',
          metric: 'testAccuracy',
          expect: 'less',
        },
      },
    ],
  },
  {
    id: '§4.3',
    title: 'Constant adaptivity rate γ',
    notebook: '04-constant-gamma',
    experiments: ['cifar10-bop-untuned', 'cifar10-bop-constant-gamma'],
    figures: [
      {
        name: 'fig6-constant-gamma-loss',
        kind: 'loss',
        title: 'Constant vs decayed γ: loss',
        description: 'Training and validation loss of Bop with γ constant or decayed (report Fig. 6 is a loss plot).',
        minRuns: 1,
      },
      {
        name: 'fig6-7-constant-gamma',
        kind: 'accuracy',
        title: 'Constant vs decayed γ',
        description: 'Training and validation accuracy of Bop with γ constant or decayed (report Fig. 7).',
        minRuns: 1,
      },
      {
        name: 'constant-gamma-schedules',
        kind: 'hyperparameters',
        title: 'Constant vs decayed γ: γ and the Adam learning rate',
        description: "The γ schedules of both runs and the BN betas' Adam lr.",
        minRuns: 1,
      },
      {
        name: 'constant-gamma-flips',
        kind: 'flips',
        title: 'Constant vs decayed γ: flip metric of the last layer',
        description:
          "πₜ of the last binary layer with γ decayed or constant (the paper's Fig. 1 shows the last layer).",
        minRuns: 1,
      },
      {
        name: 'constant-gamma-flips-per-layer',
        kind: 'flips',
        title: 'Constant γ: flip metric per layer',
        description: 'πₜ of every binary layer of the constant-γ run.',
        experiments: ['cifar10-bop-constant-gamma'],
      },
    ],
    claims: [
      {
        id: 'constant-gamma-lower',
        text: 'Holding γ constant gives lower validation accuracy than decaying it.',
        tag: 'report',
        source: `${RR} §4.3`,
        published: 'report: constant γ train 35 / validation 10, against 91.6 with γ decayed',
        test: {
          kind: 'difference',
          a: 'cifar10-bop-constant-gamma',
          b: 'cifar10-bop-untuned',
          metric: 'testAccuracy',
          expect: 'less',
        },
        regime: [
          {
            kind: 'coverage',
            experiment: 'cifar10-bop-constant-gamma',
            atLeast: 1,
            why: 'the report held γ for its whole 500-epoch run',
          },
        ],
      },
      {
        id: 'constant-gamma-collapses',
        text: 'With γ constant, training collapses: validation accuracy at chance (10 %).',
        tag: 'report',
        source: `${RR} §4.3`,
        published: 'report: validation 10 (chance), train 35',
        test: {
          kind: 'level',
          experiment: 'cifar10-bop-constant-gamma',
          metric: 'testAccuracy',
          expect: 'below',
          value: 0.15,
        },
        regime: [
          {
            kind: 'coverage',
            experiment: 'cifar10-bop-constant-gamma',
            atLeast: 1,
            why: 'the report saw the collapse over its whole 500-epoch run',
          },
          {
            kind: 'gammaT',
            experiment: 'cifar10-bop-constant-gamma',
            phase: 'total',
            atLeast: 50,
            why: 'the report held γ = 1e-4 for 500,000 steps (γ·T = 50); a γ below the derived one holds it for fewer time constants',
          },
        ],
      },
    ],
  },
  {
    id: '§4.4',
    title: 'SVHN',
    notebook: '05-svhn',
    experiments: ['svhn-report-baseline', 'svhn-adam-baseline', 'svhn-bop'],
    figures: [
      {
        name: 'fig8-svhn',
        kind: 'accuracy',
        title: 'SVHN: Adam baselines vs Bop',
        description: 'Training and validation accuracy on SVHN (report Fig. 8).',
        minRuns: 1,
      },
      {
        name: 'svhn-loss',
        kind: 'loss',
        title: 'SVHN: loss, Adam baselines vs Bop',
        description: 'Training and validation loss on SVHN.',
        minRuns: 1,
      },
      {
        name: 'svhn-flips',
        kind: 'flips',
        title: 'SVHN Bop: flip metric per layer',
        description: 'πₜ of every binary layer of the SVHN Bop run.',
        experiments: ['svhn-bop'],
      },
      {
        name: 'svhn-schedules',
        kind: 'hyperparameters',
        title: 'SVHN: γ and the Adam learning rate',
        description: 'γ (Bop) and the Adam learning rate per epoch on SVHN.',
        minRuns: 1,
      },
    ],
    claims: [
      {
        id: 'svhn-bop-above-baseline',
        text: "On SVHN Bop beats the report's baseline (binary activations, real-valued hidden kernels: 93.2 against 92).",
        tag: 'report',
        source: `${RR} §4.4 (300 epochs) and its svhn.ipynb`,
        published: 'report: Bop 93.2, its baseline 92 (validation)',
        test: {
          kind: 'difference',
          a: 'svhn-bop',
          b: 'svhn-report-baseline',
          metric: 'testAccuracy',
          expect: 'greater',
        },
      },
      {
        id: 'svhn-bop-matches-binary-baseline',
        text: "This project's contrast, not the report's: on SVHN Bop reaches at least the binary latent-weight baseline.",
        tag: 'project',
        source: "this project (the paper's §5.2 comparison carried to SVHN)",
        test: {
          kind: 'difference',
          a: 'svhn-bop',
          b: 'svhn-adam-baseline',
          metric: 'testAccuracy',
          expect: 'notLess',
          margin: 0.01,
        },
      },
    ],
  },
  {
    id: '§4.5',
    title: 'Binarized UNet on Oxford-IIIT Pet',
    notebook: '06-unet-segmentation',
    experiments: [
      'pets-unet-fp-adam',
      'pets-unet-binary-adam',
      'pets-unet-binary-bop',
      'pets-unet-binary-bop-report-tau',
    ],
    figures: [
      {
        name: 'fig9-unet',
        kind: 'accuracy',
        title: 'Binary U-Net: pixel accuracy',
        description: 'Train and test pixel accuracy of the binary U-Net (report Fig. 9).',
        minRuns: 1,
        axes: { yTitle: 'Pixel accuracy', trainName: 'Train', valName: 'Test' },
      },
      {
        name: 'unet-miou',
        kind: 'miou',
        title: 'Binary U-Net: mean IoU',
        description: 'Mean IoU per epoch (record.extra.miou / extra.valMiou).',
        minRuns: 1,
        axes: { valName: 'Test' },
      },
      {
        name: 'unet-flips',
        kind: 'flips',
        title: 'Binary U-Net, Bop: flip metric per layer (τ at the noise of m)',
        description:
          "πₜ per binary layer of the UNet's Bop arm, τ at the measured noise of m: the flips fall after each γ decay.",
        experiments: ['pets-unet-binary-bop'],
        minRuns: 1,
      },
      {
        name: 'unet-flips-report-tau',
        kind: 'flips',
        title: "Binary U-Net, Bop at the report's τ: flip metric per layer",
        description:
          "πₜ per binary layer with the report's τ (negligible against the noise of m): the γ decays leave the flips where they were.",
        experiments: ['pets-unet-binary-bop-report-tau'],
        minRuns: 1,
      },
      {
        name: 'segmentation-grid',
        kind: 'segmentation',
        title: 'Binary U-Net predictions',
        description: 'Images, ground-truth trimaps and predictions (predictions.json of the first seed).',
        experiments: ['pets-unet-binary-bop'],
      },
      {
        name: 'unet-loss',
        kind: 'loss',
        title: 'UNets: training and test loss',
        description: 'Training and test loss of the three UNets.',
        minRuns: 1,
      },
      {
        name: 'unet-schedules',
        kind: 'hyperparameters',
        title: 'UNets: γ and the Adam learning rate',
        description: 'γ (Bop) and the Adam learning rate per epoch of the UNets.',
        minRuns: 1,
      },
    ],
    claims: [
      {
        id: 'unet-bop-trains',
        text: "This project's question, not a claim of the report (which shows only an erratic Bop curve, in a metric that is not pixel accuracy): Bop trains a binarized UNet at least as well as latent-weight Adam (test pixel accuracy).",
        tag: 'project',
        source: `this project; ${RR} §4.5, Fig. 9 for the curve`,
        test: {
          kind: 'difference',
          a: 'pets-unet-binary-bop',
          b: 'pets-unet-binary-adam',
          metric: 'testAccuracy',
          expect: 'notLess',
          margin: 0.01,
        },
        regime: [
          {
            kind: 'tauVsNoise',
            experiment: 'pets-unet-binary-bop',
            atLeast: 0.3,
            why: 'with τ negligible against the noise of m the sign of m alone decides the flips and the γ decays change nothing',
          },
          {
            kind: 'afterDecay',
            experiment: 'pets-unet-binary-bop',
            schedule: 'gamma',
            epochsAtLeast: 1,
            why: 'the run must reach a γ decay, after which flips should fall',
          },
        ],
      },
      {
        id: 'unet-binary-below-fp',
        text: "This project's question, not a claim of the report: binarizing the UNet costs test pixel accuracy against the full-precision UNet.",
        tag: 'project',
        source: `this project; ${RR} §4.5 trains both`,
        test: {
          kind: 'difference',
          a: 'pets-unet-binary-bop',
          b: 'pets-unet-fp-adam',
          metric: 'testAccuracy',
          expect: 'less',
        },
      },
    ],
    caveat:
      "The UNets' quick profile follows the dynamics rule on the UNet's own γ schedule over the whole report run (γ·T per phase as in the report: 0.57, then 0.057, 0.0057), on the steps of the Pets copy actually loaded (recorded in each run's config.json). In that regime m never becomes stationary and the report's τ is negligible against the noise of m, so its flips do not fall after a γ decay (pets-unet-binary-bop-report-tau shows it); the Bop arm departs from the report by setting τ to the measured noise of m at the end of the first γ phase (config.json: derivation.tauOverNoise). The report scores Keras \"accuracy\" on an integer mask, not pixel accuracy; its Fig. 9 is a curve without a final number to compare with.",
  },
  {
    id: '§5.1',
    title: "Sensitivity to γ and τ (the paper's Fig. 1, at small scale)",
    notebook: '08-gamma-tau-sensitivity',
    experiments: [],
    figures: [],
    claims: [
      {
        id: 'flips-rise-with-gamma',
        text: 'More flips with higher γ.',
        tag: 'paper',
        source: 'Helwegen et al. 2019, §5.1, Fig. 1',
        test: { kind: 'sensitivity', expect: 'flipsRiseWithGamma' },
      },
      {
        id: 'flips-fall-with-tau',
        text: 'Fewer flips with higher τ.',
        tag: 'paper',
        source: 'Helwegen et al. 2019, §5.1, Fig. 1',
        test: { kind: 'sensitivity', expect: 'flipsFallWithTau' },
      },
      {
        id: 'high-gamma-plateaus-lower',
        text: 'High γ / low τ learns fast early, then plateaus lower than a lower γ.',
        tag: 'paper',
        source: 'Helwegen et al. 2019, §5.1',
        test: { kind: 'sensitivity', expect: 'highGammaLowTauPlateausLower' },
      },
      {
        id: 'tau-zero-deteriorates',
        text: 'τ = 0 makes validation accuracy deteriorate over time.',
        tag: 'paper',
        source: 'Helwegen et al. 2019, §5.1',
        test: { kind: 'sensitivity', expect: 'tauZeroDeteriorates' },
        regime: [
          {
            kind: 'coverage',
            experiment: 'cifar10-bop',
            atLeast: 1,
            why: 'the paper sees it over long training; the grid runs cover only the phases that move weights',
          },
        ],
      },
    ],
  },
];

/** The summary notebook (not a section of its own). */
export const SUMMARY_NOTEBOOK = '07-summary';

export function experimentEntry(name: string): ExperimentEntry | undefined {
  return EXPERIMENTS.find((e) => e.name === name);
}

export function sectionOf(id: string): Section {
  const s = SECTIONS.find((x) => x.id === id || x.notebook === id);
  if (!s) throw new Error(`Unknown section '${id}'. Known: ${SECTIONS.map((x) => x.id).join(', ')}`);
  return s;
}
