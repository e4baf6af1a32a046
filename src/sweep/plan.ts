/**
 * The task list of a sweep: one task per experiment × seed of a profile, from the experiment registry
 * (experiment names and their default seeds per profile). Entries whose runs are another entry's
 * (`sameAs`) are not tasks of their own. Each task is one `npm run experiment -- <name> --profile <p>
 * --seed <s> --resume` writing its usual run folder under the results root.
 */
import { experimentNames, getExperiment } from '../experiments/registry';
import { canonicalOverridesFor } from '../experiments/overrides';
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
  /** The `--set` overrides in canonical form (every task runs with these). */
  set: string[];
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
        notes.push(
          `${name} reuses the runs of ${e.sameAs} (same config): ${names.includes(e.sameAs) || wanted.includes(e.sameAs) ? 'already a task' : `running ${e.sameAs} instead`}`,
        );
        if (!wanted.includes(e.sameAs) && !names.includes(e.sameAs)) names.push(e.sameAs);
      } else notes.push(`${name}: skipped, it reuses the runs of ${e.sameAs}`);
      continue;
    }
    if (!names.includes(name)) names.push(name);
  }
  const tasks: SweepTask[] = [];
  // One spelling per setting (src/experiments/overrides.ts), checked against every experiment: a key one of them
  // does not read is an error naming it (leave that experiment out with --only).
  let set: string[] = [];
  for (const name of names) {
    try {
      set = canonicalOverridesFor(name, o.profile, o.set ?? []);
    } catch (e) {
      throw new Error(
        `${name}: ${(e as Error).message}${names.length > 1 ? ' (--only selects the experiments of a sweep)' : ''}`,
      );
    }
  }
  for (const name of names) {
    const e = getExperiment(name);
    const seeds = o.seeds ?? e.seeds[o.profile as keyof typeof e.seeds];
    if (!seeds) throw new Error(`Unknown profile '${o.profile}'`);
    for (const seed of seeds) {
      const config = resolveConfig(name, o.profile, seed, set);
      tasks.push({
        index: tasks.length,
        experiment: name,
        profile: o.profile,
        seed,
        dir: runDir(config, set, o.resultsRoot),
      });
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
  return { tasks, notes, set };
}
