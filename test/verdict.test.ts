// The verdict statistics on synthetic numbers (no training): Student's t against closed forms and published values,
// paired and Welch tests against hand-computed values, Holm on a textbook example, every decision branch, the
// family, seeds needed, and the §5.1 grid verdicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Claim, ClaimTest } from '../src/experiments/catalog';
import {
  holm,
  incompleteBeta,
  pairedTest,
  tCdf,
  tQuantile,
  tQuantile975,
  tTwoSidedP,
  welchInterval,
  welchTest,
} from '../src/experiments/ttest';
import { profileVerdicts } from '../src/experiments/profileVerdicts';
import { seedLoopCommand, seedsFor, seedsNeeded } from '../src/experiments/seedsNeeded';
import { GridPoint, sensitivityVerdict } from '../src/experiments/sensitivity';
import { claimVerdict, decide, FinalValues } from '../src/experiments/verdict';
import { SECTIONS } from '../src/experiments/catalog';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} ≠ ${b} (±${tol})`);
const claim = (id: string, t: ClaimTest, extra: Partial<Claim> = {}): Claim => ({
  id,
  text: id,
  tag: 'project',
  source: 'test',
  test: t,
  ...extra,
});
const diff = (a: string, b: string, expect: 'greater' | 'less' | 'notLess', margin?: number): ClaimTest => ({
  kind: 'difference',
  a,
  b,
  metric: 'testAccuracy',
  expect,
  margin,
});

test("Student's t: the incomplete beta, p-values and quantiles against closed forms and tables", () => {
  // I_0.5(2, 3) = Σ_{j=2..4} C(4, j)/16 = 11/16
  close(incompleteBeta(0.5, 2, 3), 0.6875, 1e-12);
  close(incompleteBeta(0.3, 1, 1), 0.3, 1e-12);
  assert.throws(() => incompleteBeta(1.5, 1, 1), /x in \[0, 1\]/);
  close(tTwoSidedP(2.0, 5), 0.1019, 5e-5); // the brief's known value (tables: 0.10194)
  close(tTwoSidedP(1, 1), 0.5, 1e-12); // Cauchy: P(|T| ≥ 1) = 1/2
  // ν = 2: P(|T| ≥ t) = 1 − t/√(2 + t²)
  for (const t of [0.3, 1.7, 6]) close(tTwoSidedP(t, 2), 1 - t / Math.sqrt(2 + t * t), 1e-12);
  close(tCdf(-1.7, 2), (1 - 1.7 / Math.sqrt(2 + 1.7 * 1.7)) / 2, 1e-12);
  // 97.5 % quantiles (tables to 3 decimals), a non-integer df, and the normal's 1.96 for large df
  [
    [1, 12.706],
    [2, 4.303],
    [4, 2.776],
    [10, 2.228],
    [30, 2.042],
  ].forEach(([df, q]) => close(tQuantile975(df), q, 5e-4));
  close(tQuantile975(1e7), 1.959964, 1e-5);
  const q = tQuantile975(4.5);
  assert.ok(q < tQuantile975(4) && q > tQuantile975(5), 'Welch df between integers: between their quantiles');
  close(tCdf(tQuantile(0.9, 7.3), 7.3), 0.9, 1e-10);
  close(tQuantile(0.025, 3), -tQuantile(0.975, 3), 1e-12);
});

test('paired test: interval, p and d_z on a hand-computed example', () => {
  // differences 0.02, 0.03, 0.01: mean 0.02, s 0.01, se 0.01/√3, df 2, t = 2√3; ν = 2 closed form p = 1 − t/√(2 + t²)
  const t = pairedTest([0.52, 0.55, 0.5], [0.5, 0.52, 0.49])!;
  const se = 0.01 / Math.sqrt(3);
  close(t.estimate, 0.02);
  close(t.se, se);
  assert.equal(t.df, 2);
  close(t.t, 2 * Math.sqrt(3), 1e-9);
  close(t.p, 1 - Math.sqrt(12) / Math.sqrt(14), 1e-9);
  close(t.interval[0], 0.02 - 4.302652729749464 * se, 1e-9);
  close(t.interval[1], 0.02 + 4.302652729749464 * se, 1e-9);
  close(t.effect.value, 2, 1e-9);
  assert.equal(t.effect.name, 'd_z');
  // against the boundary −0.01 (notLess with margin 1 pp): t = 0.03/se = 3√3
  close(pairedTest([0.52, 0.55, 0.5], [0.5, 0.52, 0.49], -0.01)!.p, 1 - Math.sqrt(27) / Math.sqrt(29), 1e-9);
  assert.throws(() => pairedTest([1, 2], [1]), /aligned by seed/);
});

test('a difference claim pairs by seed id, leaves unshared seeds out and says so', () => {
  // seed ids out of order, and arm a has a seed b lacks: the pairs are (0, 0), (1, 1), (2, 2)
  const finals: FinalValues = {
    a: { testAccuracy: { 2: 0.5, 0: 0.52, 1: 0.55, 7: 0.9 } },
    b: { testAccuracy: { 0: 0.5, 1: 0.52, 2: 0.49 } },
  };
  const v = claimVerdict(claim('c', diff('a', 'b', 'greater')), finals);
  close(v.estimate, 0.02);
  assert.equal(v.test!.method, 'paired');
  assert.match(v.comparison, /^a − b, test accuracy, paired over 3 seeds \(1 unshared run\(s\) left out\)$/);
  assert.deepEqual(v.seedIds, { a: [0, 1, 2, 7], b: [0, 1, 2] });
  close(v.p, 1 - Math.sqrt(12) / Math.sqrt(14), 1e-9);
  assert.equal(v.verdict, 'inconclusive'); // p 0.074
});

test('Welch fallback when the arms share fewer than 2 seeds: interval, p and Hedges g by hand', () => {
  // d = 0.1; both sample variances 1e-4: se = √(2e-4/3), df = 4; g = 0.1/0.01 · (1 − 3/15) = 8
  const finals: FinalValues = {
    a: { testAccuracy: { 0: 0.5, 1: 0.52, 2: 0.51 } },
    b: { testAccuracy: { 0: 0.4, 5: 0.41, 6: 0.42 } },
  };
  const v = claimVerdict(claim('c', diff('a', 'b', 'greater')), finals);
  const se = Math.sqrt(2e-4 / 3);
  assert.equal(v.test!.method, 'welch');
  assert.match(v.comparison, /Welch over 3 and 3 seeds \(fewer than 2 shared\)/);
  close(v.test!.df, 4, 1e-9);
  close(v.interval![0], 0.1 - 2.7764451051977 * se, 1e-9);
  close(v.test!.effect.value, 8, 1e-9);
  // ν = 4 closed form: P(|T| ≤ t) = sin θ · (1 + cos² θ / 2), θ = atan(t/2)
  const th = Math.atan(0.1 / se / 2);
  close(v.p, 1 - Math.sin(th) * (1 + Math.cos(th) ** 2 / 2), 1e-9);
  assert.equal(v.verdict, 'consistent');
  assert.deepEqual(
    welchInterval([0.5, 0.52, 0.51], [0.4, 0.41, 0.42]),
    welchTest([0.5, 0.52, 0.51], [0.4, 0.41, 0.42])!.interval,
  );
  assert.equal(welchInterval([0.5], [0.4, 0.41]), null);
  // equal values in both arms: the interval is the point, p is 0 away from the boundary
  const z = welchTest([0.5, 0.5], [0.4, 0.4])!;
  assert.deepEqual(z.interval, [z.estimate, z.estimate]);
  assert.equal(z.p, 0);
});

test('Holm on a textbook example: p 0.01, 0.04, 0.03, 0.005 → 0.03, 0.06, 0.06, 0.02', () => {
  holm([0.01, 0.04, 0.03, 0.005]).forEach((p, i) => close(p, [0.03, 0.06, 0.06, 0.02][i], 1e-12));
  assert.deepEqual(holm([]), []);
  const withNaN = holm([0.2, NaN, 0.01]);
  close(withNaN[0], 0.2, 1e-12); // max(2·0.01, 1·0.2)
  assert.ok(Number.isNaN(withNaN[1]));
  close(withNaN[2], 0.02, 1e-12);
  assert.equal(holm([0.6, 0.7])[0], 1, 'capped at 1');
});

test('every decision branch, on the Holm-adjusted p and the side of the boundary', () => {
  const greater = diff('a', 'b', 'greater');
  const less = diff('a', 'b', 'less');
  const notLess = diff('a', 'b', 'notLess', 0.01);
  const below = { kind: 'level', experiment: 'x', metric: 'testAccuracy', expect: 'below', value: 0.15 } as const;
  const above = { ...below, expect: 'above' } as const;
  const gap = { kind: 'gap', experiment: 'x', expect: 'greater' } as const;
  assert.equal(decide(greater, 0.02, 0.01), 'consistent');
  assert.equal(decide(greater, -0.02, 0.01), 'contradicted');
  assert.equal(decide(greater, 0.02, 0.05), 'inconclusive', 'p must be below 0.05');
  assert.equal(decide(greater, 0.02, NaN), 'inconclusive', 'no p (fewer than 2 seeds)');
  assert.equal(decide(less, -0.02, 0.01), 'consistent');
  assert.equal(decide(less, 0.02, 0.01), 'contradicted');
  assert.equal(decide(notLess, -0.005, 0.01), 'consistent', 'within the margin: on the claimed side of −m');
  assert.equal(decide(notLess, -0.02, 0.01), 'contradicted');
  assert.equal(decide(below, 0.1, 0.01), 'consistent');
  assert.equal(decide(below, 0.4, 0.01), 'contradicted');
  assert.equal(decide(above, 0.4, 0.01), 'consistent');
  assert.equal(decide(gap, 0.03, 0.001), 'consistent');
  assert.equal(decide(gap, -0.03, 0.001), 'contradicted');
});

test('verdicts from synthetic finals: gap, level, fewer than 2 seeds, not run; one family with Holm', () => {
  const finals: FinalValues = {
    a: { testAccuracy: { 0: 0.5, 1: 0.51, 2: 0.52 }, accuracy: { 0: 0.55, 1: 0.565, 2: 0.57 } },
    b: { testAccuracy: { 0: 0.47, 1: 0.485, 2: 0.49 } },
    c: { testAccuracy: { 0: 0.1 } },
    g: { testAccuracy: { 0: 0.09, 1: 0.11, 2: 0.1 } },
  };
  const claims = [
    claim('a-beats-b', diff('a', 'b', 'greater')),
    claim('a-gap', { kind: 'gap', experiment: 'a', expect: 'greater' }),
    claim('g-below', { kind: 'level', experiment: 'g', metric: 'testAccuracy', expect: 'below', value: 0.15 }),
    claim('one-seed', diff('a', 'c', 'notLess', 0.01)),
    claim('no-run', diff('a', 'missing', 'greater')),
  ];
  const vs = profileVerdicts(claims, finals);
  const by = (id: string) => vs.find((v) => v.claim.id === id)!;
  // gap: train − test per seed 0.05, 0.055, 0.05
  close(by('a-gap').estimate, 0.155 / 3, 1e-12);
  assert.match(by('a-gap').comparison, /a train − test accuracy, paired over 3 seeds/);
  close(by('g-below').estimate, 0.1, 1e-12);
  assert.equal(by('g-below').test!.effect.name, 'd');
  close(by('g-below').test!.effect.value, (0.1 - 0.15) / 0.01, 1e-9);
  assert.equal(by('one-seed').verdict, 'inconclusive');
  assert.equal(by('one-seed').interval, null);
  assert.equal(by('one-seed').family, 'none');
  assert.equal(by('no-run').verdict, 'not run');
  // the family: the three claims with a p; Holm recomputed here by hand
  const inFam = vs.filter((v) => v.family === 'holm');
  assert.deepEqual(
    inFam.map((v) => v.claim.id),
    ['a-beats-b', 'a-gap', 'g-below'],
  );
  const adj = holm(inFam.map((v) => v.p));
  inFam.forEach((v, i) => close(v.pHolm, adj[i], 1e-15));
  for (const v of inFam) assert.equal(v.verdict, decide(v.claim.test, v.estimate, v.pHolm));
  assert.match(by('a-beats-b').detail, /Holm-adjusted p .* \(family of 3\)/);
});

test('Holm can turn a raw p < 0.05 into inconclusive', () => {
  // two paired claims with p ≈ 0.035 each: Holm gives both ≈ 0.07
  const d = [0.03, 0.01, 0.02, 0.01];
  const mk = (off: number) => ({ testAccuracy: Object.fromEntries(d.map((x, i) => [i, 0.5 + x + off])) });
  const base = { testAccuracy: Object.fromEntries(d.map((_, i) => [i, 0.5])) };
  const finals: FinalValues = { a: mk(0), b: base, c: mk(0) };
  const one = claimVerdict(claim('x', diff('a', 'b', 'greater')), finals);
  assert.ok(one.p < 0.05 && one.p > 0.025, `raw p ${one.p}`);
  assert.equal(one.verdict, 'consistent', 'alone: a family of one');
  const both = profileVerdicts([claim('x', diff('a', 'b', 'greater')), claim('y', diff('c', 'b', 'greater'))], finals);
  for (const v of both) {
    close(v.pHolm, 2 * one.p, 1e-12);
    assert.equal(v.verdict, 'inconclusive');
  }
});

test('seeds needed: the smallest n with t·sd/√n ≤ 1.5 pp, and the commands for the missing seeds', () => {
  for (const sd of [0.005, 0.01, 0.02, 0.05]) {
    const n = seedsFor(sd)!;
    assert.ok((tQuantile975(n - 1) * sd) / Math.sqrt(n) <= 0.015, `n=${n} reaches it`);
    if (n > 2) assert.ok((tQuantile975(n - 2) * sd) / Math.sqrt(n - 1) > 0.015, `n−1 does not`);
  }
  assert.equal(seedsFor(0.02), 10); // t_{0.975,9}·0.02/√10 = 0.0143; t_{0.975,8}·0.02/3 = 0.0154
  assert.equal(seedsFor(0), 2);
  assert.equal(seedsFor(1, 0.015, 50), null);
  // differences 0.0, 0.02, 0.04 (sd 0.02) over seeds 0–2 of both arms; arm b also has seed 4
  const finals: FinalValues = {
    a: { testAccuracy: { 0: 0.5, 1: 0.52, 2: 0.54 } },
    b: { testAccuracy: { 0: 0.5, 1: 0.5, 2: 0.5, 4: 0.3 } },
  };
  const v = claimVerdict(claim('c', diff('a', 'b', 'notLess', 0.01)), finals);
  const s = seedsNeeded(v, 'quick')!;
  close(s.sd, 0.02, 1e-12);
  assert.equal(s.have, 3);
  assert.ok(s.wider);
  assert.equal(s.need, 10);
  assert.deepEqual(s.seeds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // one command per arm: a loop over the seeds it lacks
  assert.deepEqual(
    s.commands,
    [
      'for s in $(seq 3 9); do npm run experiment -- a --profile quick --seed $s; done',
      'for s in 3 5 6 7 8 9; do npm run experiment -- b --profile quick --seed $s; done',
    ],
    'b already has seed 4',
  );
  assert.equal(seedLoopCommand('a', 'quick', [7]), 'npm run experiment -- a --profile quick --seed 7');
  assert.equal(
    seedLoopCommand('a', 'quick', [3, 4]),
    'for s in 3 4; do npm run experiment -- a --profile quick --seed $s; done',
  );
  // narrow enough: nothing to run beyond what is there
  const tight: FinalValues = {
    a: { testAccuracy: { 0: 0.5, 1: 0.501, 2: 0.502 } },
    b: { testAccuracy: { 0: 0.49, 1: 0.49, 2: 0.49 } },
  };
  assert.equal(seedsNeeded(claimVerdict(claim('c', diff('a', 'b', 'greater')), tight), 'quick')!.wider, false);
  assert.equal(
    seedsNeeded(claimVerdict(claim('g', { kind: 'gap', experiment: 'a', expect: 'greater' }), finals), 'quick'),
    null,
    'difference claims only',
  );
});

test('§5.1 verdicts read off a γ × τ grid (per-point means), outside the Holm family', () => {
  const pt = (gf: number, tf: number, flips: number, val: number[]): GridPoint & { seeds: { seed: number }[] } => ({
    gammaFactor: gf,
    tauFactor: tf,
    gamma: gf,
    tau: tf,
    valAccuracy: val,
    flipRatio: val.map(() => flips),
    seeds: [{ seed: 0 }, { seed: 1 }],
  });
  const grid = [
    pt(0.3, 0, 2e-3, [0.2, 0.3, 0.35, 0.33]),
    pt(1, 0, 4e-3, [0.25, 0.32, 0.34, 0.3]),
    pt(0.3, 1, 1e-3, [0.2, 0.3, 0.4, 0.45]),
    pt(1, 1, 2e-3, [0.3, 0.35, 0.38, 0.4]),
  ];
  const claims = SECTIONS.find((s) => s.id === '§5.1')!.claims;
  const v = (id: string) =>
    sensitivityVerdict(
      claims.find((c) => c.id === id)!,
      grid,
    );
  assert.equal(v('flips-rise-with-gamma').verdict, 'consistent');
  assert.equal(v('flips-fall-with-tau').verdict, 'consistent');
  assert.equal(v('high-gamma-plateaus-lower').verdict, 'consistent');
  assert.equal(v('tau-zero-deteriorates').verdict, 'consistent');
  assert.equal(v('flips-rise-with-gamma').family, 'count rule');
  assert.match(v('flips-rise-with-gamma').comparison, /4 points × 2 seeds .* outside the Holm family/);
  assert.equal(sensitivityVerdict(claims[0], []).verdict, 'not run');
  const all = profileVerdicts(
    claims.filter((c) => !c.regime),
    {},
    { grid },
  );
  assert.ok(all.every((x) => x.family === 'count rule' && Number.isNaN(x.pHolm)));
});
