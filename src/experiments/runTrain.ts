/**
 * The train step of one run (./run): the checkpoint a continuing run resumes from, restored into its model, optimizer
 * and generators (`restoreCheckpoint`), and the training loop that writes after every epoch the checkpoint (the
 * authority) and then the history files, and final/ at the end (`trainRun`).
 */
import * as tf from '@tensorflow/tfjs';
import { dropoutLayers } from '../layers';
import { saveModel } from '../models/io';
import type { Optimizer } from '../optimizers';
import type { Rng } from '../random';
import type { EpochRecord, History } from '../train/history';
import { train } from '../train/loop';
import { readRunCheckpoint, writeRunCheckpoint } from '../results/checkpoint';
import type { RunMeta } from '../results/config';
import { writeHistoryFiles } from '../results/history';
import { runPaths } from '../results/paths';
import { commitStaging, type RunState } from '../results/state';
import type { modelComponent } from './components';
import type { RunData } from './datasets';
import { type Held, type Plan, rewriteLogged, type Target } from './runFolder';

/** Everything a run trains with, its state restored from the checkpoint when it continues one. */
export interface Resolved {
  data: RunData;
  stepsPerEpoch: number;
  component: ReturnType<typeof modelComponent>;
  model: tf.LayersModel;
  optimizer: Optimizer;
  rng: Rng;
  history: History;
  runId: string | null;
  /** What was rewritten from the checkpoint before training. */
  repaired: string[];
  /** config.json's content (also kept in every checkpoint). */
  meta: RunMeta;
}

/** Restores weights, optimizer, generator states, history and run id from the checkpoint of `t.dir` into `r`. */
export function restoreCheckpoint(t: Target, st: RunState, r: Resolved): void {
  const ckptFile = runPaths(t.dir).checkpoint;
  const ck = readRunCheckpoint(
    ckptFile,
    r.model.weights.map((w) => w.originalName),
  );
  try {
    if (ck.configHash !== t.hash) {
      throw new Error(
        `${ckptFile} is a checkpoint of another config (hash ${ck.configHash}, this one ${t.hash}); rerun with the same --set values or --force`,
      );
    }
    r.model.setWeights(ck.weights);
    r.optimizer.setState(ck.optimizer);
    r.rng.setState(ck.rng);
    for (const d of dropoutLayers(r.model)) if (ck.dropout[d.name]) d.rng.setState(ck.dropout[d.name]);
    r.history = ck.history;
    r.runId = ck.runId;
  } finally {
    ck.dispose();
  }
  // A run that trains on writes config.json anew (same config, this process's backend); one with no epoch left gets
  // it back from the checkpoint's copy. The history files are rewritten here.
  r.repaired = rewriteLogged(t, st, { config: st.kind === 'unfinalized' });
  const cfgProblem = st.derived.find((d) => d.file === runPaths(t.dir).config);
  if (cfgProblem && st.kind !== 'unfinalized') r.repaired.push(`rewrote config.json (${cfgProblem.why})`);
  if (st.kind === 'unfinalized') {
    t.log?.(`${t.label}: ${st.why}; rewriting it from ${ckptFile}`);
    r.repaired.push(`rewrote final/ from the checkpoint (${st.why})`);
  } else t.log?.(`${t.label}: resuming after epoch ${ck.epoch} from ${ckptFile}`);
}

/**
 * The train step: the training loop, writing after every epoch the checkpoint (the authority) and then the history
 * files; a --force run's first checkpoint replaces the previous results (`commitStaging`). Saves final/ at the end.
 * Frees the model and the optimizer whatever happens.
 */
export async function trainRun(
  t: Target,
  plan: Plan,
  r: Resolved,
  opts: { onEpoch?: (record: EpochRecord, history: History) => void | Promise<void> },
  held: Held,
): Promise<History> {
  const { config, dir, label, log } = t;
  const { model, optimizer, rng } = r;
  try {
    const history = await train({
      model,
      optimizer,
      rng,
      log,
      label,
      train: r.data.train,
      val: r.data.val,
      test: r.data.test,
      epochs: config.epochs,
      batchSize: config.batchSize,
      task: r.component.task,
      history: r.history,
      onEpoch: async (record, h) => {
        // The checkpoint first: it is the authority (history files lagging behind it are rebuilt on --resume).
        const state = optimizer.getState();
        try {
          writeRunCheckpoint(plan.writeDir, {
            configHash: t.hash,
            epoch: record.epoch,
            weights: model.weights.map((w) => ({ name: w.originalName, tensor: w.read() })),
            optimizer: state,
            rng: rng.getState(),
            dropout: Object.fromEntries(dropoutLayers(model).map((d) => [d.name, d.rng.getState()])),
            history: h,
            runId: r.runId,
            runMeta: r.meta,
          });
        } finally {
          tf.dispose(Object.values(state.tensors));
        }
        writeHistoryFiles(plan.writeDir, h);
        if (plan.writeDir !== dir) {
          commitStaging(plan.writeDir, dir);
          plan.writeDir = dir;
          held.staging = null;
          log?.(`${label}: the new run has its first checkpoint; it now replaces the previous results in ${dir}`);
        }
        await opts.onEpoch?.(record, h);
      },
    });
    await saveModel(model, runPaths(plan.writeDir).final, {
      runId: r.runId,
      configHash: t.hash,
      epoch: history.length ? history[history.length - 1].epoch : 0,
    });
    return history;
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
