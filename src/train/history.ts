/**
 * The per-epoch record every training run writes (history.json / history.csv) and that the
 * results reader, figures and notebooks read. Plain data, JSON-serializable.
 */
export interface EpochRecord {
  /** 1-based epoch number. */
  epoch: number;
  /** Optimizer steps done by the end of this epoch. */
  step: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Training accuracy over the epoch (classification: categorical accuracy; segmentation: pixel accuracy). */
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  /** Bop's γ at the end of the epoch (null for runs without Bop). */
  gamma: number | null;
  /** Bop's τ at the end of the epoch (null for runs without Bop). */
  threshold: number | null;
  /** Learning rate of the Adam optimizer at the end of the epoch (baseline: latent weights; Bop runs: the non-binary variables). */
  lr: number;
  /** Per binary layer (by layer name): flipped weights / weights, averaged over the epoch's steps. */
  flipRatio: Record<string, number>;
  /** Wall-clock seconds the epoch took (training + evaluation). */
  seconds: number;
  /** Extra metrics, e.g. segmentation: miou, valMiou, iou_pet, valIou_pet, ... */
  extra?: Record<string, number>;
}

export type History = EpochRecord[];
