/**
 * The flip metric per γ phase of a Bop run: does each γ decay slow the flips down, as the paper's §5.1 and the
 * CIFAR-10 runs show? Read from a run's history and its config.
 *
 * An epoch belongs to the γ phase that holds at least `share` (default 0.9) of its steps; epochs that straddle a decay
 * by more are left out. Per phase: the mean over its epochs of the epoch's flip ratio averaged over the binary layers
 * (EpochRecord.flipRatio: flips per weight per step). The flips fall after a decay when the next phase's mean is below
 * this one's by at least a factor `FALL_FACTOR` (2): a decay of γ by 10 shrinks the noise of m by √10 ≈ 3.2, so
 * flips driven by that noise slow down by about that much or more (the CIFAR-10 runs: 10–16×), while a drift of
 * less than 2× is what runs whose decays change nothing show between phases. Phases without a whole epoch are not
 * compared.
 */
import type { ExperimentConfig } from './config';
import { decayEverySteps } from './derive';
import type { History } from '../train/history';

/** One γ phase of one run. */
export interface PhaseFlips {
  /** 0-based phase index (k decays before it). */
  phase: number;
  gamma: number;
  /** Epochs counted (1-based epoch numbers). */
  epochs: number[];
  /** Mean flips per weight per step over those epochs and the binary layers (NaN without epochs). */
  flipRatio: number;
}

const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The flip ratio of each γ phase of a run (module comment); [] without a γ schedule or a derivation record. */
export function flipsByPhase(config: ExperimentConfig, history: History, share = 0.9): PhaseFlips[] {
  const d = config.derivation;
  if (!config.gamma || !d) return [];
  const spe = d.stepsPerEpoch;
  const every = decayEverySteps(config.gamma, spe) ?? Infinity;
  const phases = Number.isFinite(every) ? Math.ceil(d.runSteps / every) : 1;
  const out: PhaseFlips[] = Array.from({ length: phases }, (_, k) => ({
    phase: k,
    gamma: config.gamma!.initial * Math.pow(config.gamma!.decay, k),
    epochs: [],
    flipRatio: NaN,
  }));
  const sums = new Array<number[]>(phases).fill([]).map(() => [] as number[]);
  for (const r of history) {
    const start = (r.epoch - 1) * spe;
    const k = Number.isFinite(every) ? Math.floor(start / every) : 0;
    const inside = Number.isFinite(every) ? Math.min(spe, (k + 1) * every - start) : spe;
    const ratios = Object.values(r.flipRatio ?? {}).filter((v) => Number.isFinite(v));
    if (k >= phases || inside < share * spe || !ratios.length) continue;
    out[k].epochs.push(r.epoch);
    sums[k].push(meanOf(ratios));
  }
  out.forEach((p, k) => (p.flipRatio = sums[k].length ? meanOf(sums[k]) : NaN));
  return out;
}

/** How much lower the next phase's flip ratio must be for the flips to count as falling (module comment). */
export const FALL_FACTOR = 2;

/**
 * Whether the flips fall after every γ decay the run's whole epochs can show: for each pair of consecutive phases
 * that both hold an epoch, the later mean is at most 1/`factor` of the earlier. null when no pair can be compared.
 */
export function flipsFallAfterDecays(phases: PhaseFlips[], factor = FALL_FACTOR): boolean | null {
  const withData = phases.filter((p) => p.epochs.length);
  if (withData.length < 2) return null;
  return withData.slice(1).every((p, i) => p.flipRatio * factor <= withData[i].flipRatio);
}

/** One line per run: flips per γ phase and whether they fall, e.g. for a notebook. */
export function flipPhaseLine(label: string, phases: PhaseFlips[]): string {
  const parts = phases
    .filter((p) => p.epochs.length)
    .map(
      (p) =>
        `γ ${p.gamma.toExponential(1)} (epochs ${p.epochs[0]}–${p.epochs[p.epochs.length - 1]}): ${p.flipRatio.toExponential(2)}`,
    );
  const falls = flipsFallAfterDecays(phases);
  return `${label}: ${parts.join(' → ')}${falls === null ? '' : falls ? `; falls ≥ ${FALL_FACTOR}× after each decay` : `; does not fall ≥ ${FALL_FACTOR}× after every decay`}`;
}
