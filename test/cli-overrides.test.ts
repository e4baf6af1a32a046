// `--set key=value`: strict values, no repeated key, no setting the run does not read, and one spelling per value
// so that equal numbers name the same run folder (src/experiments/config.ts applyOverrides,
// src/experiments/overrides.ts, used by npm run experiment and npm run sweep).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'os';
import * as path from 'path';
import { applyOverrides } from '../src/experiments/overrides';
import { canonicalNumber, canonicalOverridesFor } from '../src/experiments/overrides';
import { profileConfig } from '../src/experiments/registry';
import { configHash, resolveConfig, runDir } from '../src/experiments/run';
import { planSweep } from '../src/sweep';

const cifar = () => profileConfig('cifar10-bop', 'smoke', 0);

test('--set values: integers in decimal digits, numbers in decimal or scientific notation', () => {
  assert.equal(applyOverrides(cifar(), ['epochs=007']).epochs, 7);
  for (const bad of [
    'epochs=0x2',
    'epochs=1e1',
    'epochs=4.0',
    'epochs=',
    'epochs=two',
    'batchSize=0b11',
    'trainPerClass=1e2',
  ]) {
    assert.throws(
      () => applyOverrides(cifar(), [bad]),
      /^Error: --set \w+=.*: (must be an integer written in decimal digits|not a number; allowed: an integer written in decimal digits)/,
      bad,
    );
  }
  assert.throws(
    () => applyOverrides(cifar(), ['epochs=0x2']),
    /--set epochs=0x2: not a number; allowed: an integer written in decimal digits, e.g. epochs=20/,
  );
  assert.throws(
    () => applyOverrides(cifar(), ['epochs=1e1']),
    /--set epochs=1e1: must be an integer written in decimal digits/,
  );
  assert.equal(applyOverrides(cifar(), ['width=.5']).width, 0.5);
  assert.equal(applyOverrides(cifar(), ['gamma=3e-4']).gamma!.initial, 3e-4);
  for (const bad of ['width=0x1', 'width=Infinity', 'width=1e999', 'threshold=NaN', 'gamma=1_0', 'dropout= ']) {
    assert.throws(
      () => applyOverrides(cifar(), [bad]),
      /^Error: --set \w+(\.\w+)?=.*: (not a number|out of range)/,
      bad,
    );
  }
});

test('--set: a repeated key is an error (gamma and gamma.initial are one key)', () => {
  assert.throws(
    () => applyOverrides(cifar(), ['epochs=2', 'epochs=3']),
    /--set epochs is given twice \(epochs=2, epochs=3\); give each key once/,
  );
  assert.throws(
    () => applyOverrides(cifar(), ['gamma=1e-4', 'gamma.initial=2e-4']),
    /--set gamma.initial is given twice \(gamma=1e-4, gamma.initial=2e-4\)/,
  );
  assert.throws(() => resolveConfig('cifar10-bop', 'smoke', 0, ['epochs=2', 'epochs=2']), /given twice/);
});

test('--set: a setting the run does not read is an error naming the experiment, the key and why', () => {
  const cases: [string, string, RegExp][] = [
    [
      'cifar10-bop',
      'imageSize=16',
      /--set imageSize=16: cifar10-bop \(cifar10, binarynet, bop\) does not read imageSize \(only segmentation runs \(the Oxford-IIIT Pet UNets\) resize their images; cifar10 images are 32×32\)/,
    ],
    ['svhn-bop', 'imageSize=16', /svhn-bop \(svhn, binarynet, bop\) does not read imageSize/],
    [
      'cifar10-bop',
      'trainLimit=10',
      /does not read trainLimit \(trainLimit sizes segmentation runs; cifar10 takes trainPerClass\)/,
    ],
    ['svhn-bop', 'testLimit=10', /does not read testLimit/],
    [
      'pets-unet-binary-bop',
      'trainPerClass=10',
      /pets-unet-binary-bop \(pets, unet, bop\) does not read trainPerClass/,
    ],
    ['pets-unet-fp-adam', 'testPerClass=10', /does not read testPerClass/],
    ['svhn-bop', 'holdoutPerClass=10', /does not read holdoutPerClass/],
    ['pets-unet-binary-bop', 'dropout=0.2', /the UNet has no dropout layers/],
    ['cifar10-adam-baseline', 'threshold=1e-8', /only Bop has a threshold/],
    ['cifar10-bop', 'xavierLrScaling=true', /Bop does not read it/],
  ];
  for (const [name, set, re] of cases)
    assert.throws(() => resolveConfig(name, 'smoke', 0, [set]), re, `${name} ${set}`);
  // what each dataset does read stays settable
  assert.equal(resolveConfig('pets-unet-binary-bop', 'smoke', 0, ['imageSize=64', 'trainLimit=8']).imageSize, 64);
  assert.equal(resolveConfig('svhn-bop', 'smoke', 0, ['trainPerClass=5']).trainPerClass, 5);
  assert.equal(resolveConfig('cifar10-bop', 'smoke', 0, ['holdoutPerClass=5']).holdoutPerClass, 5);
  // a sweep names the experiment that does not read the key
  assert.throws(
    () =>
      planSweep({
        profile: 'smoke',
        only: ['cifar10-bop', 'pets-unet-fp-adam'],
        set: ['imageSize=16'],
        resultsRoot: os.tmpdir(),
      }),
    /^Error: cifar10-bop: --set imageSize=16: .* \(--only selects the experiments of a sweep\)/,
  );
});

test('equal numbers, one folder: --set spellings of the same value name the same run folder and config hash', () => {
  assert.deepEqual(
    ['4', '4.0', '0.0003', '3e-4', '5e-1', '1e-8', '0.125', '100'].map((x) => canonicalNumber(Number(x))),
    ['4', '4', '3e-4', '3e-4', '0.5', '1e-8', '0.125', '100'],
  );
  const root = path.join(os.tmpdir(), 'bnn-canon');
  const spellings = [
    ['width=0.0625', 'gamma=0.0001', 'epochs=3', 'augment=false'],
    ['width=6.25e-2', 'gamma.initial=1e-4', 'epochs=003', 'augment=false'],
    ['augment=false', 'epochs=3', 'gamma=1.0e-4', 'width=.0625'],
  ];
  const canon = spellings.map((s) => canonicalOverridesFor('cifar10-bop', 'smoke', s));
  assert.deepEqual(canon[0], ['width=0.0625', 'gamma=1e-4', 'epochs=3', 'augment=false']);
  const dirs = canon.map((s) => runDir(resolveConfig('cifar10-bop', 'smoke', 0, s), s, root));
  assert.equal(new Set(dirs).size, 1, dirs.join('\n'));
  assert.equal(new Set(canon.map((s) => configHash(resolveConfig('cifar10-bop', 'smoke', 0, s)))).size, 1);
  // the sweep plans its tasks with the canonical spelling: the same run folders for every spelling
  const plans = spellings.map((s) =>
    planSweep({ profile: 'smoke', only: ['cifar10-bop'], seeds: [0], set: s, resultsRoot: root }),
  );
  assert.equal(new Set(plans.map((p) => p.tasks[0].dir)).size, 1, plans.map((p) => p.tasks[0].dir).join('\n'));
  assert.equal(plans[0].tasks[0].dir, dirs[0]);
  assert.deepEqual(plans[1].set, canon[0]);
});
