/**
 * How many seeds a difference claim needs for its 95 % interval to reach ±1.5 pp, and the commands that run them.
 *
 * From the observed sd s of one seed's difference (paired: of the differences; Welch: √(s_a² + s_b²)), the smallest
 * n ≥ 2 with t_{0.975,n−1}·s/√n ≤ 0.015 (±1.5 pp), and the commands that run the missing seeds of each arm.
 */
import type { Claim } from './catalog';
import { tQuantile975, type TTest } from './ttest';
import type { Verdict } from './verdict';

/** The half-width of the 95 % interval a difference should reach (±1.5 pp). */
export const TARGET_HALF_WIDTH = 0.015;

/**
 * One shell command that runs `seeds` of an experiment one after the other: the plain command for one seed, a loop
 * over `$(seq a b)` for a contiguous range, a loop over the list otherwise.
 */
export function seedLoopCommand(experiment: string, profile: string, seeds: number[]): string {
  const run = (s: string) => `npm run experiment -- ${experiment} --profile ${profile} --seed ${s}`;
  if (seeds.length === 1) return run(String(seeds[0]));
  const contiguous = seeds.every((s, i) => i === 0 || s === seeds[i - 1] + 1);
  const list = contiguous && seeds.length > 2 ? `$(seq ${seeds[0]} ${seeds[seeds.length - 1]})` : seeds.join(' ');
  return `for s in ${list}; do ${run('$s')}; done`;
}

/** How many seeds a difference claim needs for a 95 % interval of ±`target`, and the commands that run them. */
export interface SeedsNeeded {
  claim: Claim;
  method: TTest['method'];
  /** The sd of one seed's difference (module comment). */
  sd: number;
  /** Half-width of the current 95 % interval. */
  halfWidth: number;
  /** True when the current interval is wider than ±target. */
  wider: boolean;
  /** Seeds behind the current interval (paired: shared seeds; Welch: the smaller arm). */
  have: number;
  /** The smallest n with t_{0.975,n−1}·sd/√n ≤ target (null: more than `max`). */
  need: number | null;
  /** The seed ids both arms should have, and the commands that run the missing ones. */
  seeds: number[];
  commands: string[];
}

/** The smallest n ≥ 2 with t_{0.975,n−1}·sd/√n ≤ target (null when more than `max`). */
export function seedsFor(sd: number, target = TARGET_HALF_WIDTH, max = 1000): number | null {
  if (!(sd >= 0) || !(target > 0)) return null;
  for (let n = 2; n <= max; n++) if ((tQuantile975(n - 1) * sd) / Math.sqrt(n) <= target) return n;
  return null;
}

/** `SeedsNeeded` of a difference verdict with a test (null otherwise). */
export function seedsNeeded(v: Verdict, profile: string, target = TARGET_HALF_WIDTH, max = 1000): SeedsNeeded | null {
  const t = v.claim.test;
  if (t.kind !== 'difference' || !v.test || !v.interval) return null;
  const halfWidth = (v.interval[1] - v.interval[0]) / 2;
  const ids = { a: v.seedIds[t.a] ?? [], b: v.seedIds[t.b] ?? [] };
  const shared = ids.a.filter((s) => ids.b.includes(s));
  const have = v.test.method === 'paired' ? shared.length : Math.min(ids.a.length, ids.b.length);
  const need = seedsFor(v.test.sdUnit, target, max);
  const seeds: number[] = [...shared];
  for (const s of [...ids.a, ...ids.b].sort((x, y) => x - y))
    if (seeds.length < (need ?? 0) && !seeds.includes(s)) seeds.push(s);
  for (let k = 0; seeds.length < (need ?? 0); k++) if (!seeds.includes(k)) seeds.push(k);
  seeds.sort((x, y) => x - y);
  const commands = [t.a, t.b].flatMap((name, i) => {
    const missing = seeds.filter((s) => !(i ? ids.b : ids.a).includes(s));
    return missing.length ? [seedLoopCommand(name, profile, missing)] : [];
  });
  return {
    claim: v.claim,
    method: v.test.method,
    sd: v.test.sdUnit,
    halfWidth,
    wider: halfWidth > target,
    have,
    need,
    seeds,
    commands,
  };
}
