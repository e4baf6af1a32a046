/**
 * Numbers stated in prose (the notebooks' Markdown, the README's protocol paragraphs) checked against the catalog and
 * the registry, so that a sentence cannot drift from the code it describes. The numbers a notebook shows are printed
 * by its cells from the catalog; what prose still states is read here and must agree.
 *
 * The text is cut into clauses (sentences, then ';'). Each stated number of a known kind is found by its pattern:
 *
 *   published   an accuracy: "91.3 %", "90.9" (two digits and decimals), a "96 / 91" pair
 *   epochs      "500 epochs", "500-epoch"
 *   steps       "3,000 steps", "3,000-step"
 *   perClass    "1,500 (training|test) images per class"
 *   seeds       "three seeds", "3 seeds", "one seed"
 *   width       "1/8 width", "1/8-width", "quarter-width", "width 0.125"
 *   batch       "batch 50", "batch size 50" (not in a clause about inference speed)
 *   gammaT      the numbers that follow "γ·T" in its clause (up to the first unit-bearing number)
 *
 * and must be among the values the catalog gives for that kind (`proseFacts`), narrowed by what the clause names:
 * a profile (`paper`, `quick`, `smoke` in backticks, or "<name> profile"), a source (the paper, the report, KTH / a
 * reproduction; the nearest before the number), a section (§4.2), a family (UNet, SVHN, CIFAR-10, the calibration
 * grid), and for γ·T whether the clause speaks of calibration, the epoch ratio or the paper. A number no rule reads
 * (a dataset size, a speed, "95 %" of an interval) is not checked.
 *
 * A number matches a value when the value rounds to it at the number's own precision ("3.2" matches 3.162, "10"
 * matches 10.4 but not 11).
 */
import { EXPERIMENTS, SECTIONS, type Profile, type SourceTag } from './catalog';
import { PLANS } from './calibrate';
import { gammaPhases } from './derive';
import { profileConfig, runSteps, stepsPerEpochOf } from './registry';

export type FactKind = 'published' | 'epochs' | 'steps' | 'perClass' | 'seeds' | 'width' | 'batch' | 'gammaT';

/** Allowed values of one kind: every value, and the values by profile, source, section, family or context. */
export interface FactSet {
  all: Set<number>;
  by: Map<string, Set<number>>;
}

export type Facts = Record<FactKind, FactSet>;

/** One stated number the catalog contradicts. */
export interface ProseFinding {
  where: string;
  kind: FactKind;
  stated: string;
  /** The clause it was read from. */
  clause: string;
  /** The values the catalog allows there (sorted), and which narrowing applied. */
  allowed: number[];
  scope: string;
}

const KINDS: FactKind[] = ['published', 'epochs', 'steps', 'perClass', 'seeds', 'width', 'batch', 'gammaT'];

function emptyFacts(): Facts {
  return Object.fromEntries(
    KINDS.map((k) => [k, { all: new Set<number>(), by: new Map<string, Set<number>>() }]),
  ) as Facts;
}

function add(f: FactSet, v: number, ...keys: string[]): void {
  if (!Number.isFinite(v)) return;
  f.all.add(v);
  for (const k of keys) {
    if (!f.by.has(k)) f.by.set(k, new Set());
    f.by.get(k)!.add(v);
  }
}

const FAMILY: Record<string, string> = { cifar10: 'cifar10', svhn: 'svhn', pets: 'unet' };

/** Numbers in a published string with the source each follows ("paper: Bop 91.3 vs … 90.9; KTH reproduction: Bop 89.2"). */
function publishedNumbers(text: string, fallback: SourceTag): { value: number; source: SourceTag }[] {
  return clausesOf(text).flatMap((c) =>
    [...c.text.matchAll(/(?<![\w.])[+−-]?(\d+(?:\.\d+)?)(?![\w.])/g)].map((m) => ({
      value: Number(m[1]),
      source: nearestSource(c.text, m.index!) ?? fallback,
    })),
  );
}

/**
 * Every value each kind may take, from the catalog (experiments, sizings, seeds, published numbers and claims), the
 * registry (derived configs of every profile, with and without calibration, and their derivation records) and the
 * calibration plans.
 */
export function proseFacts(): Facts {
  const f = emptyFacts();
  const profiles: Profile[] = ['paper', 'quick', 'smoke'];
  for (const e of EXPERIMENTS) {
    const fam = FAMILY[e.paper.dataset];
    // published numbers, in percent
    for (const r of e.references)
      add(f.published, Number((r.value * 100).toPrecision(6)), `source:${r.tag}`, `section:${e.section}`);
    for (const m of r_sourceEpochs(e.references.map((r) => r.source).join('; '))) add(f.epochs, m, 'profile:paper');
    const paperSpe = e.paperStepsPerEpoch;
    for (const p of profiles) {
      const c = profileConfig(e.name, p, 0);
      const d = c.derivation!;
      const pk = `profile:${p}`;
      add(f.epochs, c.epochs, pk);
      add(f.steps, d.runSteps, pk);
      add(f.steps, d.paperStepsCovered, 'profile:paper');
      add(f.steps, d.paperStepsTotal, 'profile:paper');
      add(f.epochs, d.paperStepsCovered / paperSpe, 'profile:paper');
      add(f.width, c.width, pk);
      add(f.batch, c.batchSize, pk);
      if (c.trainPerClass != null) add(f.perClass, c.trainPerClass, pk);
      if (c.testPerClass != null) add(f.perClass, c.testPerClass, pk);
      add(f.seeds, (e.seeds[p] ?? [0]).length, pk, `family:${fam}`, `${pk}|family:${fam}`);
      for (const s of [c.lr, c.gamma]) {
        if (!s) continue;
        if (s.everySteps) add(f.steps, s.everySteps, pk);
        if (s.everySteps && p === 'paper') add(f.epochs, Math.round(s.everySteps / paperSpe), pk);
        if (s.everyEpochs) for (let k = s.everyEpochs; k <= c.epochs + 1e-9; k += s.everyEpochs) add(f.epochs, k, pk);
        if (s.everyEpochs && p === 'paper')
          for (let k = s.everyEpochs; k <= c.epochs + 1e-9; k += s.everyEpochs) add(f.steps, k * paperSpe, pk);
      }
      // γ·T: the paper's run, the derived runs before and after calibration, and what the epoch ratio alone would give
      // a calibrated run's γ·T only where the sizing applies a calibration (the untuned arms keep the paper's)
      const calibrated = p !== 'paper' && !!e[p].calibration;
      for (const g of d.gammaT)
        add(
          f.gammaT,
          g,
          p === 'paper' ? 'context:paper' : calibrated ? `context:calibrated|${pk}` : 'context:paper',
          pk,
        );
      if (p !== 'paper' && e.paper.gamma) {
        const untuned = profileConfig(e.name, p, 0, {}, {}).derivation!;
        for (const g of untuned.gammaT) add(f.gammaT, g, 'context:paper', pk);
        const size = e[p];
        const spe = stepsPerEpochOf(e, size);
        const ratio = size.epochs / e.paper.epochs;
        const every =
          e.paper.gamma.everySteps != null ? e.paper.gamma.everySteps / paperSpe : e.paper.gamma.everyEpochs;
        const scaled = { ...e.paper.gamma, everyEpochs: every === null ? null : every * ratio, everySteps: null };
        for (const ph of gammaPhases(scaled, runSteps(e, size), spe)) {
          add(f.gammaT, ph.gamma * ph.steps, 'context:epochs', pk);
          add(f.steps, Math.round(ph.steps), pk);
        }
      }
    }
  }
  // the thresholds of the dynamics rule (phases with γ·T ≥ 1 move weights; the UNets keep every phase)
  for (const x of [1, ...EXPERIMENTS.map((e) => e.quick.minGammaT ?? 1)])
    add(f.gammaT, x, 'context:paper', 'context:calibrated', 'context:epochs');
  for (const s of SECTIONS)
    for (const c of s.claims)
      if (c.published)
        for (const x of publishedNumbers(c.published, c.tag))
          add(f.published, x.value, `source:${x.source}`, `section:${s.id}`);
  for (const p of PLANS) {
    add(f.seeds, p.seeds.length, 'family:grid', 'profile:quick|family:grid', 'profile:smoke|family:grid');
    add(f.perClass, p.holdoutPerClass, 'profile:quick');
  }
  return f;
}

/** "320 epochs" in a reference's source (the KTH reproduction's run length). */
function r_sourceEpochs(text: string): number[] {
  return [...text.matchAll(/(\d[\d,]*)\s*epochs/g)].map((m) => Number(m[1].replace(/,/g, '')));
}

// ---------------------------------------------------------------------------------------------------------------
// Reading prose

interface Clause {
  text: string;
}

/** Sentences, then ';'-separated parts, of a text (Markdown line breaks joined). Code spans and `§4.2`-style marks stay. */
export function clausesOf(text: string): Clause[] {
  const flat = text
    .replace(/\r/g, '')
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/\n(?!\s*[*-] |\s*\d+\. |\s*\n|#)/g, ' ');
  return flat
    .split(/\n|(?<=[.!?])\s+(?=[A-Z*`(])|;/)
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => ({ text: t }));
}

const SOURCE_RE = /(?<![`\w])(paper|report|KTH|reproduction)(?!['`]?\s*profile)(?![\w`])/g;

/** The source named nearest before position `at` in a clause (else the nearest after), or null. */
function nearestSource(text: string, at: number): SourceTag | null {
  let before: { i: number; tag: SourceTag } | null = null;
  let after: { i: number; tag: SourceTag } | null = null;
  for (const m of text.matchAll(SOURCE_RE)) {
    const w = m[1];
    // "reproducibility report" is the report; "reproduction" alone is another reproduction
    const tag: SourceTag = w === 'paper' ? 'paper' : w === 'report' ? 'report' : 'reproduction';
    if (m.index! < at) before = { i: m.index!, tag };
    else if (!after) after = { i: m.index!, tag };
  }
  return before?.tag ?? after?.tag ?? null;
}

/** The nearest match of `re` in a clause, before `at` preferred, with its first group. */
function nearest(text: string, at: number, re: RegExp): string | null {
  let before: string | null = null;
  let after: string | null = null;
  for (const m of text.matchAll(re)) {
    if (m.index! < at) before = m[1];
    else if (after === null) after = m[1];
  }
  return before ?? after;
}

const PROFILE_RE = /`(paper|quick|smoke)`|\b(?:the |on )?(quick|smoke) profile\b|\bon (quick|smoke)\b/g;
const FAMILY_RE = /(UNet|U-Net|Pets|SVHN|CIFAR-10|BinaryNet|grid|calibrat\w*)/g;
const WORDS: Record<string, number> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  single: 1,
};

function profileAt(text: string, at: number): string | null {
  let before: string | null = null;
  let after: string | null = null;
  for (const m of text.matchAll(PROFILE_RE)) {
    const p = m[1] ?? m[2] ?? m[3];
    if (m.index! < at) before = p;
    else if (after === null) after = p;
  }
  return before ?? after;
}

function familyAt(text: string, at: number): string | null {
  const w = nearest(text, at, FAMILY_RE);
  if (!w) return null;
  if (/^(UNet|U-Net|Pets)$/.test(w)) return 'unet';
  if (w === 'SVHN') return 'svhn';
  if (/^(CIFAR-10|BinaryNet)$/.test(w)) return 'cifar10';
  return 'grid';
}

/** True when `stated` (as written) is `value` rounded at the stated precision. */
export function matchesStated(stated: string, value: number): boolean {
  const s = stated.replace(/,/g, '');
  const x = Number(s);
  if (!Number.isFinite(x)) return false;
  const decimals = s.includes('.') ? s.length - s.indexOf('.') - 1 : 0;
  const half = 0.5 * 10 ** -decimals;
  return (
    Math.abs(value - x) <= half * (1 + 1e-9) &&
    !(decimals === 0 && x !== 0 && value !== 0 && Math.sign(value) !== Math.sign(x))
  );
}

interface Stated {
  kind: FactKind;
  stated: string;
  value: number;
  at: number;
}

const UNIT_AFTER =
  /^\s*(?:-|\s)?(?:epochs?|steps?|images?|seeds?|pp|×|x\b|s\b|ms\b|GB|MB|GiB|kB|min|minutes|hours?|threads?|cores?|bits?|px|%)/;

/** Every stated number of a known kind in one clause. */
function statedNumbers(text: string): Stated[] {
  const out: Stated[] = [];
  const num = (s: string) => Number(s.replace(/,/g, ''));
  const covered: [number, number][] = [];
  const push = (kind: FactKind, stated: string, value: number, at: number, len: number) => {
    out.push({ kind, stated, value, at });
    covered.push([at, at + len]);
  };
  for (const m of text.matchAll(/(?<![\w.,/])(\d[\d,]*)(?:\s|-)epochs?\b/g))
    push('epochs', m[1], num(m[1]), m.index!, m[0].length);
  for (const m of text.matchAll(/(?<![\w.,/])(\d[\d,]*)(?:\s|-)steps?\b/g))
    push('steps', m[1], num(m[1]), m.index!, m[0].length);
  for (const m of text.matchAll(
    /(?<![\w.,/])(\d[\d,]*)\s+(?:(?:training|test|held-out|SVHN|`extra`)\s+)?images per class/g,
  ))
    push('perClass', m[1], num(m[1]), m.index!, m[0].length);
  for (const m of text.matchAll(/\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|single)\s+seeds?\b/gi)) {
    const w = m[1].toLowerCase();
    push('seeds', m[1], WORDS[w] ?? Number(w), m.index!, m[0].length);
  }
  for (const m of text.matchAll(/\b(1\/\d+)(?:-|\s)width\b|\b(quarter|half)-?width\b|\bwidth (\d*\.\d+|1\/\d+)\b/g)) {
    const s = m[1] ?? m[3];
    const v = s ? (s.includes('/') ? 1 / Number(s.split('/')[1]) : Number(s)) : m[2] === 'quarter' ? 0.25 : 0.5;
    push('width', m[0], v, m.index!, m[0].length);
  }
  // a training batch: not the batch of an inference timing (packed / float inference, per-image speed)
  if (!/inference|packed|XNOR|milliseconds|per image|images \/ s|throughput/i.test(text))
    for (const m of text.matchAll(/\bbatch(?: size)? (\d+)\b/g)) push('batch', m[1], num(m[1]), m.index!, m[0].length);
  // γ·T: the numbers after it, until one that carries a unit (a step or epoch count belongs to another rule)
  for (const m of text.matchAll(/γ\s*·?\s*T/g)) {
    const rest = text.slice(m.index! + m[0].length, m.index! + m[0].length + 80);
    // inside a parenthesis, the span ends where it closes
    const before = text.slice(0, m.index!);
    const open = (before.match(/\(/g) ?? []).length - (before.match(/\)/g) ?? []).length;
    const stops = [
      rest.search(/(?:^|[\s(])(?:γ|τ)\s*[=≈]|\bsteps?\b|\bepochs?\b/),
      open > 0 ? rest.indexOf(')') : -1,
    ].filter((i) => i >= 0);
    const span = stops.length ? rest.slice(0, Math.min(...stops)) : rest;
    for (const n of span.matchAll(/(?<![\w.,/^⁻-])(\d+(?:\.\d+)?)(?!\d|[.,]\d|e-|\s*(?:×|%|pp|\/|of\b))/g))
      push('gammaT', n[1], Number(n[1]), m.index! + m[0].length + n.index!, n[0].length);
  }
  const inside = (i: number) => covered.some(([a, b]) => i >= a && i < b);
  // published accuracies: percentages, "NN.N" numbers, "NN / NN" pairs (not inside a number another rule read)
  for (const m of text.matchAll(/(?<![\w.,/±×-])(\d{1,3}(?:\.\d+)?)\s?%(?!\s*(?:intervals?|confidence|CI)\b)/g))
    if (!inside(m.index!)) push('published', m[1], Number(m[1]), m.index!, m[0].length);
  const LABEL = '(?:(?:train|val|validation|test|Bop|baseline)\\s+)?';
  for (const m of text.matchAll(
    new RegExp(
      `(?<![\\w.,/±×-])(\\d{2}(?:\\.\\d+)?)\\s*\\/\\s*${LABEL}(\\d{2}(?:\\.\\d+)?)(?![\\d,.]|\\s*(?:width|%))`,
      'g',
    ),
  )) {
    if (inside(m.index!)) continue;
    push('published', m[1], Number(m[1]), m.index!, m[1].length);
    push('published', m[2], Number(m[2]), m.index! + m[0].lastIndexOf(m[2]), m[2].length);
  }
  // "train 96", "validation 91": an accuracy named by its split
  for (const m of text.matchAll(
    /\b(?:train|val|validation)\s+(\d{2}(?:\.\d+)?)(?![\d,.]|\s*(?:images|epochs?|steps?|%|per\b))/g,
  )) {
    const at = m.index! + m[0].lastIndexOf(m[1]);
    if (!inside(at)) push('published', m[1], Number(m[1]), at, m[1].length);
  }
  for (const m of text.matchAll(/(?<![\w.,/±×-])(\d{2}\.\d{1,2})(?![\d.,]|\s*%)/g)) {
    if (inside(m.index!) || UNIT_AFTER.test(text.slice(m.index! + m[0].length))) continue;
    push('published', m[1], Number(m[1]), m.index!, m[0].length);
  }
  return out;
}

/** The allowed set of one stated number in its clause, and a word on the narrowing applied. */
function allowedFor(f: Facts, s: Stated, text: string): { values: Set<number>; scope: string } {
  const fs = f[s.kind];
  const pick = (...keys: string[]) => {
    for (const k of keys) if (fs.by.has(k)) return { values: fs.by.get(k)!, scope: k };
    return null;
  };
  const profile = profileAt(text, s.at);
  if (s.kind === 'published') {
    const src = nearestSource(text, s.at);
    // every section the clause names ("§4.1–§4.3" names the three)
    const ids = SECTIONS.map((x) => x.id);
    const named = new Set<string>();
    for (const m of text.matchAll(/(§\d\.\d)(?:\s*[–-]\s*(§\d\.\d))?/g)) {
      const [a, b] = [ids.indexOf(m[1]), m[2] ? ids.indexOf(m[2]) : -1];
      if (a >= 0 && b > a) ids.slice(a, b + 1).forEach((x) => named.add(x));
      else named.add(m[1]);
    }
    const bySrc = src ? fs.by.get(`source:${src}`) : null;
    const bySec = named.size ? new Set([...named].flatMap((x) => [...(fs.by.get(`section:${x}`) ?? [])])) : null;
    const secScope = `section:${[...named].join('/')}`;
    if (bySrc && bySec) {
      const both = new Set([...bySrc].filter((x) => bySec.has(x)));
      if (both.size) return { values: both, scope: `source:${src} and ${secScope}` };
    }
    return (
      (src && pick(`source:${src}`)) ||
      (bySec?.size ? { values: bySec, scope: secScope } : null) || { values: fs.all, scope: 'any published number' }
    );
  }
  if (s.kind === 'gammaT') {
    const word = nearest(text, s.at, /(calibrat|epoch ratio|\bpaper\b)/gi);
    const ctx = !word ? null : /calibrat/i.test(word) ? 'calibrated' : /epoch ratio/i.test(word) ? 'epochs' : 'paper';
    if (ctx === 'calibrated' && profile)
      return pick(`context:calibrated|profile:${profile}`) ?? { values: fs.all, scope: 'any γ·T' };
    return (
      (ctx && pick(`context:${ctx}`)) || (profile && pick(`profile:${profile}`)) || { values: fs.all, scope: 'any γ·T' }
    );
  }
  if (s.kind === 'seeds') {
    const fam = familyAt(text, s.at);
    return (
      (profile && fam && pick(`profile:${profile}|family:${fam}`)) ||
      (fam && pick(`family:${fam}`)) ||
      (profile && pick(`profile:${profile}`)) || { values: fs.all, scope: 'any seed count' }
    );
  }
  return (profile && pick(`profile:${profile}`)) || { values: fs.all, scope: `any ${s.kind}` };
}

/** The stated numbers of `text` that the catalog contradicts (module comment); `where` names the text in findings. */
export function checkProse(text: string, where: string, facts: Facts = proseFacts()): ProseFinding[] {
  const out: ProseFinding[] = [];
  for (const c of clausesOf(text)) {
    for (const s of statedNumbers(c.text)) {
      const { values, scope } = allowedFor(facts, s, c.text);
      if ([...values].some((v) => matchesStated(s.stated.replace(/^.*?(\d[\d,.]*).*$/, '$1'), v) || v === s.value))
        continue;
      out.push({
        where,
        kind: s.kind,
        stated: s.stated,
        clause: c.text,
        allowed: [...values].sort((a, b) => a - b).map((v) => Number(v.toPrecision(6))),
        scope,
      });
    }
  }
  return out;
}

/** One line per finding: where, what was stated, what the catalog allows there. */
export function findingText(x: ProseFinding): string {
  return `${x.where}: states ${x.kind} "${x.stated}", but the catalog allows ${x.allowed.slice(0, 12).join(', ')}${x.allowed.length > 12 ? ', …' : ''} (${x.scope}) — in: "${x.clause.slice(0, 200)}"`;
}

// ---------------------------------------------------------------------------------------------------------------
// Where prose lives

/** The Markdown cells of a notebook (its JSON text), each with where it is ("<file>, cell <id>"). */
export function notebookMarkdown(json: string, file: string): { where: string; text: string }[] {
  let nb: { cells?: { cell_type: string; id?: string; source: string | string[] }[] };
  try {
    nb = JSON.parse(json);
  } catch (e) {
    throw new Error(`${file} is not valid notebook JSON (${(e as Error).message}); restore it with git`);
  }
  if (!Array.isArray(nb.cells)) throw new Error(`${file} has no cells array; is it a notebook?`);
  return nb.cells
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => c.cell_type === 'markdown')
    .map(({ c, i }) => ({
      where: `${file}, cell ${c.id ?? `#${i}`}`,
      text: Array.isArray(c.source) ? c.source.join('') : c.source,
    }));
}

/**
 * The README's paragraphs that state numbers about the protocol: the sections from "Running single experiments" up to
 * "Reliability", and "Where this differs from the original", each with its heading as `where`. Throws naming a
 * heading it cannot find (the README was restructured: update the headings here).
 */
export function readmeProtocol(readme: string, file = 'README.md'): { where: string; text: string }[] {
  const cut = (from: string, to: string) => {
    const a = readme.indexOf(from);
    if (a < 0) throw new Error(`${file} has no heading "${from}"; update readmeProtocol in src/experiments/prose.ts`);
    const b = readme.indexOf(to, a + from.length);
    return readme.slice(a, b < 0 ? undefined : b);
  };
  return [
    {
      where: `${file}, "Running single experiments" to "Reliability"`,
      text: cut('## Running single experiments', '### Reliability'),
    },
    {
      where: `${file}, "Where this differs from the original"`,
      text: cut('## Where this differs from the original', '\n## '),
    },
  ];
}
