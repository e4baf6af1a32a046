/**
 * The task list of a sweep: one task per experiment × seed of a profile, from the experiment registry
 * (experiment names and their default seeds per profile). Entries whose runs are another entry's
 * (`sameAs`) are not tasks of their own. Each task is one `npm run experiment -- <name> --profile <p>
 * --seed <s> --resume` writing its usual run folder under the results root.
 */
import { experimentNames, getExperiment } from '../experiments/registry';
import { resolveConfig, runDir } from '../experiments/run';

export interface SweepTask {
  /** Array index (0-based, the line of tasks.tsv after its header). */
  index: number;
  experiment: string;
  profile: string;
  seed: number;
  /** The run folder this task writes: results/<experiment>/<profile>[-<overrides hash>]/seed-<n>. */
  dir: string;
}

export interface PlanOptions {
  profile: string;
  /** Experiments to include (default: every registry entry). */
  only?: string[];
  /** Seeds for every experiment (default: each experiment's seeds for the profile). */
  seeds?: number[];
  /** `key=value` overrides passed to every task (`--set`). */
  set?: string[];
  resultsRoot: string;
}

export interface Plan {
  tasks: SweepTask[];
  /** Lines about entries left out (sameAs) or replaced. */
  notes: string[];
}

/** Parses "0,1,2" (or "0-2") into seeds; throws a one-line error. */
export function parseSeeds(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`--seeds ${text}: expected non-negative integers such as 0,1,2 or 0-2`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`--seeds ${text}: range ${part} is empty`);
    for (let s = a; s <= b; s++) if (!out.includes(s)) out.push(s);
  }
  if (!out.length) throw new Error(`--seeds ${text}: no seeds`);
  return out;
}

/** The tasks of a sweep, validated (unknown experiment or profile, bad --set: a one-line error). */
export function planSweep(o: PlanOptions): Plan {
  const notes: string[] = [];
  const known = experimentNames();
  const wanted = o.only?.length ? o.only : known;
  const names: string[] = [];
  for (const name of wanted) {
    const e = getExperiment(name); // throws, listing the known names
    if (e.sameAs) {
      if (o.only?.length) {
        notes.push(`${name} reuses the runs of ${e.sameAs} (same config): ${names.includes(e.sameAs) || wanted.includes(e.sameAs) ? 'already a task' : `running ${e.sameAs} instead`}`);
        if (!wanted.includes(e.sameAs) && !names.includes(e.sameAs)) names.push(e.sameAs);
      } else notes.push(`${name}: skipped, it reuses the runs of ${e.sameAs}`);
      continue;
    }
    if (!names.includes(name)) names.push(name);
  }
  const tasks: SweepTask[] = [];
  for (const name of names) {
    const e = getExperiment(name);
    const seeds = o.seeds ?? e.seeds[o.profile as keyof typeof e.seeds];
    if (!seeds) throw new Error(`Unknown profile '${o.profile}'`);
    for (const seed of seeds) {
      const config = resolveConfig(name, o.profile, seed, o.set ?? []);
      tasks.push({ index: tasks.length, experiment: name, profile: o.profile, seed, dir: runDir(config, o.set ?? [], o.resultsRoot) });
    }
  }
  if (!tasks.length) throw new Error('the sweep has no tasks');
  // Two tasks never write the same run folder (the run-folder lock would refuse the second anyway).
  const seen = new Map<string, SweepTask>();
  for (const t of tasks) {
    const other = seen.get(t.dir);
    if (other) throw new Error(`tasks ${other.index} and ${t.index} would both write ${t.dir}`);
    seen.set(t.dir, t);
  }
  return { tasks, notes };
}
