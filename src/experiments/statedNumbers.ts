/**
 * Reading prose for ./prose: a text cut into clauses, the stated numbers of each known kind in a clause (the patterns
 * are listed in the module comment of ./prose), and the words around a number that narrow what it may be (the
 * source, profile or family named nearest to it).
 */
import type { SourceTag } from './catalog';

/** The kinds of stated numbers that are checked. */
export type FactKind = 'published' | 'epochs' | 'steps' | 'perClass' | 'seeds' | 'width' | 'batch' | 'gammaT';

/** One clause of a text (`clausesOf`). */
export interface Clause {
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
export function nearestSource(text: string, at: number): SourceTag | null {
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
export function nearest(text: string, at: number, re: RegExp): string | null {
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
/** Seed counts written as words. */
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

/** The profile named nearest before position `at` in a clause (else the nearest after), or null. */
export function profileAt(text: string, at: number): string | null {
  let before: string | null = null;
  let after: string | null = null;
  for (const m of text.matchAll(PROFILE_RE)) {
    const p = m[1] ?? m[2] ?? m[3];
    if (m.index! < at) before = p;
    else if (after === null) after = p;
  }
  return before ?? after;
}

/** The family (unet, svhn, cifar10, grid) named nearest before position `at` in a clause (else after), or null. */
export function familyAt(text: string, at: number): string | null {
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

/** One stated number of a known kind: as written, its value, and where it starts in its clause. */
export interface Stated {
  kind: FactKind;
  stated: string;
  value: number;
  at: number;
}

/** A unit right after a number: the number is a count or a size, not an accuracy. */
const UNIT_AFTER =
  /^\s*(?:-|\s)?(?:epochs?|steps?|images?|seeds?|pp|×|x\b|s\b|ms\b|GB|MB|GiB|kB|min|minutes|hours?|threads?|cores?|bits?|px|%)/;

/** Every stated number of a known kind in one clause. */
export function statedNumbers(text: string): Stated[] {
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
