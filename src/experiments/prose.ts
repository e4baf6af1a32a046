/**
 * Numbers stated in prose (the notebooks' Markdown, the README's protocol paragraphs) checked against the catalog and
 * the registry, so that a sentence cannot drift from the code it describes. The numbers a notebook shows are printed
 * by its cells from the catalog; what prose still states is read here and must agree.
 *
 * The text is cut into clauses (sentences, then ';'). Each stated number of a known kind is found by its pattern
 * (./statedNumbers):
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
import {
  clausesOf,
  familyAt,
  matchesStated,
  nearest,
  nearestSource,
  profileAt,
  statedNumbers,
  type FactKind,
  type Stated,
} from './statedNumbers';

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
