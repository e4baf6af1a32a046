// The regime check on synthetic configs: every requirement kind met and unmet, a config without a derivation
// record, seeds whose configs differ, the fallback to the profile's config, and what an unmet regime does to a
// verdict (not testable at this scale, outside the Holm family).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Claim, RegimeRequirement } from '../src/experiments/catalog';
import type { Derivation, ExperimentConfig } from '../src/experiments/config';
import { checkRequirement, regimeCheck } from '../src/experiments/regime';
import { profileVerdicts } from '../src/experiments/profileVerdicts';
import type { FinalValues } from '../src/experiments/verdict';

/** A Bop config of 10 epochs × 300 steps; γ 1e-3 ×0.1 every 1,000 steps (γ·T 1, 0.1, 0.01); lr ×0.1 every 2,400 steps. */
function cfg(over: Partial<ExperimentConfig> = {}, d: Partial<Derivation> | null = {}): ExperimentConfig {
  const c: ExperimentConfig = {
    experiment: 'x',
    profile: 'quick',
    section: '§0',
    dataset: 'cifar10',
    model: 'binarynet',
    width: 0.125,
    dropout: 0,
    binary: true,
    optimizer: 'bop',
    gamma: { initial: 1e-3, decay: 0.1, everyEpochs: null, everySteps: 1000 },
    threshold: 1e-6,
    lr: { initial: 0.01, decay: 0.1, everyEpochs: null, everySteps: 2400 },
    xavierLrScaling: false,
    epochs: 10,
    batchSize: 50,
    trainPerClass: 1500,
    testPerClass: 100,
    trainLimit: null,
    testLimit: null,
    imageSize: 32,
    augment: true,
    seed: 0,
    ...over,
  };
  if (d)
    c.derivation = {
      rule: 'dynamics',
      stepsPerEpoch: 300,
      runSteps: 3000,
      paperStepsCovered: 200_000,
      paperStepsTotal: 500_000,
      gammaT: [1, 0.1, 0.01],
      tauRelative: 1,
      ...d,
    };
  return c;
}
/** A requirement on experiment 'x' with the reason 'because'. */
const req = (r: { kind: RegimeRequirement['kind'] } & Record<string, unknown>) =>
  ({ experiment: 'x', why: 'because', ...r }) as unknown as RegimeRequirement;

test('coverage: paper steps covered over the paper run, measured against required', () => {
  const r = req({ kind: 'coverage', atLeast: 1 });
  const no = checkRequirement(r, [cfg()]);
  assert.equal(no.met, false);
  assert.equal(
    no.detail,
    'x covers 0.4 of the paper run (200,000 of 500,000 paper steps); the claim needs ≥ 1 of it: because',
  );
  const yes = checkRequirement(r, [cfg({}, { paperStepsCovered: 500_000 })]);
  assert.equal(yes.met, true);
  assert.match(yes.detail, /covers 1 of the paper run .* \(met\)$/);
  assert.equal(
    checkRequirement(req({ kind: 'coverage', atLeast: 0.4 }), [cfg()]).met,
    true,
    'equal to the bound is enough',
  );
});

test('gammaT: first phase and whole run, from the γ schedule on the recorded steps', () => {
  const first = req({ kind: 'gammaT', phase: 'first', atLeast: 1 });
  assert.equal(checkRequirement(first, [cfg()]).met, true); // 1e-3 × 1,000 steps
  const total = req({ kind: 'gammaT', phase: 'total', atLeast: 1.2 });
  const t = checkRequirement(total, [cfg()]);
  assert.equal(t.met, false); // 1 + 0.1 + 0.01
  assert.match(t.detail, /x: γ·T over the run is 1\.1; the claim needs γ·T ≥ 1\.2: because/);
  const lowGamma = checkRequirement(first, [
    cfg({ gamma: { initial: 1e-4, decay: 0.1, everyEpochs: null, everySteps: 1000 } }),
  ]);
  assert.equal(lowGamma.met, false);
  assert.match(lowGamma.detail, /first γ phase is 0\.1/);
  // a schedule in epochs uses the recorded steps per epoch: 2 epochs × 300 steps at 1e-3 = 0.6
  assert.match(
    checkRequirement(first, [cfg({ gamma: { initial: 1e-3, decay: 0.1, everyEpochs: 2 } })]).detail,
    /first γ phase is 0\.6/,
  );
  const adam = checkRequirement(first, [cfg({ optimizer: 'adam', gamma: null, threshold: null })]);
  assert.equal(adam.met, false);
  assert.match(adam.detail, /no γ schedule/);
});

test('afterDecay: epochs after the first decay of γ or lr', () => {
  const g = req({ kind: 'afterDecay', schedule: 'gamma', epochsAtLeast: 6 });
  const gd = checkRequirement(g, [cfg()]);
  assert.equal(gd.met, true); // (3,000 − 1,000)/300 = 6.67 epochs
  assert.match(gd.detail, /first decays at step 1000 of 3000, 6\.7 epochs before the end/);
  assert.equal(checkRequirement(req({ kind: 'afterDecay', schedule: 'gamma', epochsAtLeast: 7 }), [cfg()]).met, false);
  const lr = checkRequirement(req({ kind: 'afterDecay', schedule: 'lr', epochsAtLeast: 3 }), [cfg()]);
  assert.equal(lr.met, false); // (3,000 − 2,400)/300 = 2
  assert.match(
    lr.detail,
    /its lr first decays at step 2400 of 3000, 2 epochs before the end; the claim needs ≥ 3 epoch\(s\) after the first lr decay: because/,
  );
  const constant = checkRequirement(g, [cfg({ gamma: { initial: 1e-3, decay: 1, everyEpochs: null } })]);
  assert.equal(constant.met, false);
  assert.match(constant.detail, /never decays within the run/);
  assert.equal(
    checkRequirement(g, [cfg({ gamma: { initial: 1e-3, decay: 0.1, everyEpochs: null, everySteps: 5000 } })]).met,
    false,
    'a decay after the run ends',
  );
});

test('tauActive: τ/σ_m within a factor of the paper ratio', () => {
  const r = req({ kind: 'tauActive', within: 3 });
  assert.equal(checkRequirement(r, [cfg({}, { tauRelative: 1.5 })]).met, true);
  assert.equal(checkRequirement(r, [cfg({}, { tauRelative: 0.34 })]).met, true);
  const low = checkRequirement(r, [cfg({}, { tauRelative: 0.01 })]);
  assert.equal(low.met, false);
  assert.equal(low.detail, "x: τ/σ_m is 0.01× the paper's ratio; the claim needs within ×3 of it (0.33–3): because");
  assert.equal(checkRequirement(r, [cfg({}, { tauRelative: 4 })]).met, false);
  assert.match(checkRequirement(r, [cfg({}, { tauRelative: null })]).detail, /no τ/);
});

test('a config without a derivation record fails with "rerun it"; seeds that differ are named', () => {
  const r = req({ kind: 'coverage', atLeast: 0.1 });
  const none = checkRequirement(r, [cfg({ seed: 2 }, null)]);
  assert.equal(none.met, false);
  assert.match(
    none.detail,
    /^x seed 2: no derivation record in its config\.json: rerun it \(npm run experiment -- x --profile quick --seed 2\)$/,
  );
  const mixed = checkRequirement(r, [cfg({ seed: 0 }), cfg({ seed: 1 }, null)]);
  assert.equal(mixed.met, false, 'every seed must meet it');
  assert.match(mixed.detail, /seed 0: x covers 0\.4 .*; seed 1: x seed 1: no derivation record/);
  assert.equal(checkRequirement(r, []).met, false);
  assert.equal(checkRequirement(r, []).noConfig, true);
});

test('regimeCheck: every requirement of a claim, and the profile config when an experiment has no runs', () => {
  const claim: Claim = {
    id: 'c',
    text: 'c',
    tag: 'project',
    source: 'test',
    test: { kind: 'level', experiment: 'x', metric: 'testAccuracy', expect: 'below', value: 0.15 },
    regime: [req({ kind: 'coverage', atLeast: 0.3 }), req({ kind: 'tauActive', within: 3 })],
  };
  const ok = regimeCheck(claim, { x: [cfg()] });
  assert.equal(ok.met, true);
  assert.equal(ok.details.length, 2);
  const bad = regimeCheck(claim, { x: [cfg({}, { tauRelative: 0.01 })] });
  assert.equal(bad.met, false);
  assert.deepEqual(
    bad.checks.map((c) => c.met),
    [true, false],
  );
  assert.deepEqual(regimeCheck({ ...claim, regime: undefined }, {}), { met: true, details: [], checks: [] });
  // no runs of cifar10-bop: its smoke config (epoch-ratio rule, 2 of 500 epochs) is checked instead
  const fallback = regimeCheck(
    { ...claim, regime: [{ kind: 'coverage', experiment: 'cifar10-bop', atLeast: 1, why: 'whole run' }] },
    {},
    'smoke',
  );
  assert.equal(fallback.met, false);
  assert.match(
    fallback.details[0],
    /^cifar10-bop covers 0\.004 of the paper run .*; the claim needs ≥ 1 of it: whole run$/,
  );
});

test('an unmet regime gives "not testable at this scale", outside the Holm family', () => {
  const finals: FinalValues = {
    x: { testAccuracy: { 0: 0.1, 1: 0.11, 2: 0.09 } },
    y: { testAccuracy: { 0: 0.5, 1: 0.52, 2: 0.51 } },
  };
  const level = (id: string, e: string, regime?: RegimeRequirement[]): Claim => ({
    id,
    text: id,
    tag: 'report',
    source: 't',
    test: { kind: 'level', experiment: e, metric: 'testAccuracy', expect: 'below', value: 0.15 },
    regime,
  });
  const claims = [
    level('untestable', 'x', [req({ kind: 'coverage', atLeast: 1 })]),
    level('testable', 'y'),
    level('in-regime', 'x', [req({ kind: 'coverage', atLeast: 0.4 })]),
  ];
  const vs = profileVerdicts(claims, finals, { configs: { x: [cfg()] } });
  const [u, t, ok] = vs;
  assert.equal(u.verdict, 'not testable at this scale');
  assert.equal(u.family, 'none');
  assert.ok(Number.isNaN(u.pHolm));
  assert.ok(u.p < 0.05, 'its numbers alone would say consistent');
  assert.match(u.detail, /^not testable at this scale: x covers 0\.4 of the paper run .* \(measured: /);
  // the family holds the two testable claims only
  assert.match(t.detail, /family of 2/);
  assert.equal(t.verdict, 'contradicted');
  assert.equal(ok.verdict, 'consistent');
  assert.ok(ok.regime!.met);
  // a claim with no runs and no config to judge its regime on stays "not run"
  const notRun = profileVerdicts(
    [level('nothing', 'z', [{ kind: 'coverage', experiment: 'z', atLeast: 1, why: 'w' }])],
    finals,
  );
  assert.equal(notRun[0].verdict, 'not run');
});
