// Numbers in prose against the catalog (src/experiments/prose.ts): every notebook's Markdown and the README's protocol
// paragraphs state nothing the catalog contradicts, and the check really catches a wrong published accuracy, seed
// count, epoch count, γ·T, width, batch, step count and subset size — on fixture sentences whose right numbers come
// from the catalog, and on the README itself with one number changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import {
  checkProse,
  findingText,
  notebookMarkdown,
  proseFacts,
  readmeProtocol,
  type ProseFinding,
} from '../src/experiments/prose';
import { clausesOf, matchesStated } from '../src/experiments/statedNumbers';
import { getExperiment, profileConfig } from '../src/experiments/registry';
import { planFor } from '../src/experiments/calibrate';

const ROOT = path.resolve(__dirname, '..');
const facts = proseFacts();
const check = (text: string) => checkProse(text, 'fixture', facts);
const kinds = (xs: ProseFinding[]) => xs.map((x) => `${x.kind}:${x.stated}`);

/** Every prose text the check covers: the notebooks' Markdown cells and the README's protocol paragraphs. */
function proseTexts(): { where: string; text: string }[] {
  const dir = path.join(ROOT, 'notebooks');
  const nbs = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb'))
    .sort()
    .flatMap((f) => notebookMarkdown(fs.readFileSync(path.join(dir, f), 'utf8'), `notebooks/${f}`));
  return [...nbs, ...readmeProtocol(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'))];
}

test("the notebooks' Markdown and the README's protocol paragraphs state no number the catalog contradicts", () => {
  const texts = proseTexts();
  assert.ok(
    texts.length > 30,
    `expected the Markdown of every notebook and two README parts, got ${texts.length} texts`,
  );
  const found = texts.flatMap((t) => checkProse(t.text, t.where, facts));
  assert.deepEqual(
    found.map(findingText),
    [],
    'numbers in prose that the catalog contradicts (fix the prose, or print the number from a cell)',
  );
});

test('a stated number matches a value when the value rounds to it at the stated precision', () => {
  assert.ok(matchesStated('3.2', 3.1623));
  assert.ok(matchesStated('0.32', 0.31623));
  assert.ok(matchesStated('10', 10.4));
  assert.ok(!matchesStated('10', 11));
  assert.ok(!matchesStated('3.2', 3.1));
  assert.ok(matchesStated('3,000', 3000));
  assert.ok(matchesStated('91.02', 91.02));
  assert.ok(!matchesStated('91.4', 91.3));
});

test('clauses: sentences and ;-parts, Markdown line breaks joined, code blocks left out', () => {
  assert.deepEqual(
    clausesOf('One clause; two.\nStill two. Three `quick`\n\n```\n12 epochs\n```\n* a list item').map((c) => c.text),
    ['One clause', 'two.', 'Still two.', 'Three `quick`', '* a list item'],
  );
});

// The right numbers, from the catalog; the fixtures state them, then one wrong number each.
const bop = getExperiment('cifar10-bop');
const quick = profileConfig('cifar10-bop', 'quick', 0);
const untuned = profileConfig('cifar10-bop-untuned', 'quick', 0);
const smoke = profileConfig('cifar10-bop', 'smoke', 0);
const unetSeeds = getExperiment('pets-unet-binary-bop').seeds.quick.length;
const pct = (tag: string, name: string) =>
  (getExperiment(name).references.find((r) => r.tag === tag && r.metric === 'valAccuracy')!.value * 100)
    .toFixed(2)
    .replace(/0$/, '');
const words = ['zero', 'one', 'two', 'three', 'four', 'five'];
const g3 = (x: number) => String(Number(x.toPrecision(3)));
const n = (x: number) => x.toLocaleString('en');

const RIGHT = [
  `The paper reports Bop ${pct('paper', 'cifar10-bop')} % against the latent-weight baseline's ${pct('paper', 'cifar10-adam-baseline')} %, the reproducibility report ${pct('report', 'cifar10-bop')} %.`,
  `\`quick\` is BinaryNet at 1/${1 / quick.width} width on ${n(quick.trainPerClass!)} training images per class, ${quick.epochs} epochs of batch ${quick.batchSize} (${n(quick.derivation!.runSteps)} steps), ${words[bop.seeds.quick.length]} seeds per CIFAR-10 arm.`,
  `The UNets run ${words[unetSeeds]} seeds each on \`quick\`.`,
  `Before calibration, γ·T per phase is the paper's (${untuned.derivation!.gammaT.map(g3).join(', then ')}).`,
  `The calibrated \`quick\` runs have γ·T ${quick.derivation!.gammaT.map(g3).join(', then ')}.`,
  `\`smoke\` is 1/${1 / smoke.width} width, ${smoke.trainPerClass} images per class, ${smoke.epochs} epochs.`,
  `The grid holds out ${planFor('cifar10-bop', 'quick').holdoutPerClass} images per class, ${words[planFor('cifar10-bop', 'quick').seeds.length]} seeds per grid point.`,
  '§4.2 dropout 0.25: train 92 / val 88 in the report.',
  'The 95 % interval over seeds.',
];

test("fixtures with the catalog's numbers pass", () => {
  for (const s of RIGHT) assert.deepEqual(kinds(check(s)), [], s);
});

test('a wrong number of every kind is caught, and the finding says what the catalog allows', () => {
  const wrong: [string, string][] = [
    [
      `The paper reports Bop 91.4 % against the latent-weight baseline's ${pct('paper', 'cifar10-adam-baseline')} %.`,
      'published:91.4',
    ],
    ['The reproducibility report: Bop 91.3 against 91.02.', 'published:91.3'], // the paper's number given to the report
    ['§4.2 dropout 0.25: train 92 / val 85 in the report.', 'published:85'],
    [
      `\`quick\` is BinaryNet at 1/${1 / quick.width} width, ${quick.epochs + 2} epochs of batch ${quick.batchSize}.`,
      `epochs:${quick.epochs + 2}`,
    ],
    ['The UNets run one seed each on `quick`.', 'seeds:one'],
    ['The calibrated `quick` runs have γ·T 10, then 1.', 'gammaT:10'],
    ['The paper holds γ for 100,000 steps (γ·T = 12 time constants of m).', 'gammaT:12'],
    [`\`quick\` is BinaryNet at 1/16 width.`, 'width:1/16 width'],
    [`\`quick\` trains at batch 32.`, 'batch:32'],
    [`\`quick\` is ${n(quick.derivation!.runSteps + 500)} steps.`, `steps:${n(quick.derivation!.runSteps + 500)}`],
    ['`quick` validates on 300 test images per class.', 'perClass:300'],
    [`\`smoke\` runs ${smoke.epochs + 1} epochs.`, `epochs:${smoke.epochs + 1}`],
  ];
  for (const [s, want] of wrong) {
    const got = check(s);
    assert.ok(kinds(got).includes(want), `"${s}": expected a finding ${want}, got ${JSON.stringify(kinds(got))}`);
    const f = got.find((x) => `${x.kind}:${x.stated}` === want)!;
    assert.ok(f.allowed.length > 0 && f.clause.length > 0);
    assert.match(findingText(f), /^fixture: states \w+ ".+", but the catalog allows .+ \(.+\) — in: ".+"$/);
  }
  // "γ·T 10, then 1" is right for the paper and for the untuned arms, wrong for the calibrated runs
  assert.deepEqual(kinds(check("The paper's γ·T per phase: 10, then 1.")), []);
});

test('the README check catches one changed number in its protocol paragraphs', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const wrong = readme.replace(
    /\b(\d[\d,]*) images per class/,
    (_m, x: string) => `${Number(x.replace(/,/g, '')) + 7} images per class`,
  );
  assert.notEqual(wrong, readme, 'the README states an images-per-class number to change');
  const found = readmeProtocol(wrong).flatMap((t) => checkProse(t.text, t.where, facts));
  assert.equal(found.length, 1, found.map(findingText).join('\n'));
  assert.equal(found[0].kind, 'perClass');
  assert.throws(
    () => readmeProtocol('# a README without the sections'),
    /README\.md has no heading "## Running single experiments"; update readmeProtocol/,
  );
  assert.throws(() => notebookMarkdown('{not json', 'x.ipynb'), /x\.ipynb is not valid notebook JSON/);
});
