// The gradient noise of a model's binary kernels and what it places τ against: the spread estimator on rows of
// known spread, the noise of m from m₀ = 0 (both limits), τ of the UNet's Bop arm at one noise width, the
// tauVsNoise regime requirement, the flip ratio per γ phase, and a real measurement on the smoke UNet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../src/backend';
import { hasData } from '../src/experiments/datasets';
import { noiseOfM } from '../src/experiments/derive';
import { flipsByPhase, flipsFallAfterDecays } from '../src/experiments/flipPhases';
import { gradientSpread, measureGradientNoise } from '../src/experiments/gradientNoise';
import { getExperiment, profileConfig } from '../src/experiments/registry';
import { checkRequirement } from '../src/experiments/regime';
import type { RegimeRequirement } from '../src/experiments/catalog';
import type { EpochRecord } from '../src/train/history';

const close = (a: number, b: number, rel = 1e-9) => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} ≉ ${b}`);

test('gradientSpread: rms over weights of the unbiased per-weight standard deviation, and of the mean', () => {
  // weight 0 alternates ±1 around 0 (sd of [1,-1,1,-1] = √(4/3)); weight 1 is constant 2 (sd 0, mean 2)
  const rows = [
    [1, 2],
    [-1, 2],
    [1, 2],
    [-1, 2],
  ];
  const r = gradientSpread(rows);
  close(r.sigmaG, Math.sqrt((4 / 3 + 0) / 2));
  close(r.meanG, Math.sqrt((0 + 4) / 2));
  assert.throws(() => gradientSpread([[1]]), /at least 2 batches/);
});

test('noiseOfM: σ_g·√(γ/(2−γ)) at stationarity, σ_g·γ·√T while γ·T ≪ 1, and the exact sum in between', () => {
  close(noiseOfM(2, 0.01), 2 * Math.sqrt(0.01 / 1.99));
  close(noiseOfM(1, 1e-4, 100), 1e-4 * Math.sqrt(100), 0.01);
  let v = 0;
  for (let j = 0; j < 300; j++) v += Math.pow(1 - 0.005, 2 * j);
  close(noiseOfM(0.3, 0.005, 300), 0.3 * 0.005 * Math.sqrt(v), 1e-9);
  assert.throws(() => noiseOfM(1, 0), /0 < γ < 1/);
});

test('the UNet Bop arm: τ is the noise of m at the end of its first γ phase, from the recorded σ_g', () => {
  const e = getExperiment('pets-unet-binary-bop');
  const c = profileConfig('pets-unet-binary-bop', 'quick', 0);
  const first = c.gamma!.everySteps!;
  close(c.threshold!, noiseOfM(e.quick.gradientNoise!.sigmaG, c.gamma!.initial, first), 1e-12);
  close(c.derivation!.tauOverNoise!, 1, 1e-5);
  // --set threshold is re-derived against the same noise
  const half = profileConfig('pets-unet-binary-bop', 'quick', 0, {}, { tau: 0.5 });
  close(half.derivation!.tauOverNoise!, 0.5, 1e-5);
});

test('tauVsNoise: τ against the measured noise of m, required at least', () => {
  const r = {
    kind: 'tauVsNoise',
    experiment: 'pets-unet-binary-bop',
    atLeast: 0.3,
    why: 'because',
  } as RegimeRequirement;
  assert.equal(checkRequirement(r, [profileConfig('pets-unet-binary-bop', 'quick', 0)]).met, true);
  const low = checkRequirement({ ...r, experiment: 'pets-unet-binary-bop-report-tau' } as RegimeRequirement, [
    profileConfig('pets-unet-binary-bop-report-tau', 'quick', 0),
  ]);
  assert.equal(low.met, false);
  assert.match(
    low.detail,
    /τ is 0\.01\d?× the noise of m at the end of its first γ phase; the claim needs τ ≥ 0\.3× that noise: because/,
  );
  assert.match(checkRequirement(r, [profileConfig('cifar10-bop', 'quick', 0)]).detail, /no measured gradient noise/);
});

test('flipsByPhase: epochs by the γ phase that holds their steps; falls when each later phase flips less', () => {
  const c = profileConfig('pets-unet-binary-bop', 'quick', 0);
  const spe = c.derivation!.stepsPerEpoch;
  const every = c.gamma!.everySteps!;
  const rec = (epoch: number, f: number) => ({ epoch, flipRatio: { a: f, b: f } }) as unknown as EpochRecord;
  const phaseOf = (ep: number) => Math.floor(((ep - 1) * spe) / every);
  const hist = Array.from({ length: c.epochs }, (_, i) => rec(i + 1, Math.pow(10, -2 - phaseOf(i + 1))));
  const p = flipsByPhase(c, hist);
  assert.ok(p.length >= 3);
  for (const ph of p) for (const ep of ph.epochs) assert.equal(phaseOf(ep), ph.phase);
  const straddling = hist.map((r) => r.epoch).filter((ep) => !p.some((ph) => ph.epochs.includes(ep)));
  for (const ep of straddling)
    assert.ok(
      Math.floor((ep * spe - 1) / every) !== phaseOf(ep),
      `epoch ${ep} is left out only when it straddles a decay`,
    );
  assert.equal(flipsFallAfterDecays(p), true);
  const flat = flipsByPhase(
    c,
    hist.map((r) => rec(r.epoch, 1e-2)),
  );
  assert.equal(flipsFallAfterDecays(flat), false);
  // a drift of less than 2× between phases is not a fall
  const drift = flipsByPhase(
    c,
    hist.map((r) => rec(r.epoch, 1e-2 * Math.pow(0.7, phaseOf(r.epoch)))),
  );
  assert.equal(flipsFallAfterDecays(drift), false);
  assert.deepEqual(flipsByPhase({ ...c, gamma: null }, hist), []);
});

test(
  'measureGradientNoise on the smoke UNet: finite, positive and the same twice',
  { skip: !hasData('pets') && 'no Oxford-IIIT Pet copy found (npm run data -- pets, or BNN_PETS_SAMPLE)' },
  async () => {
    await initBackend({ backend: 'cpu' });
    const c = profileConfig('pets-unet-binary-bop', 'smoke', 0);
    const a = await measureGradientNoise(c, 2);
    const b = await measureGradientNoise(c, 2);
    assert.ok(a.sigmaG > 0 && Number.isFinite(a.sigmaG));
    assert.equal(a.sigmaG, b.sigmaG);
    assert.equal(a.batches, 2);
  },
);
