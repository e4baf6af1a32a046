/**
 * What every section notebook shows first: its claims with the published numbers, its runs, how the profile was
 * derived from the paper and calibrated, and the section's caveat.
 */
import { sectionOf } from '../catalog';
import { calibrationOf, derivationNotes, getExperiment } from '../registry';
import { pctOf } from './format';

const TAG_WORD: Record<string, string> = {
  paper: 'the paper',
  report: 'the reproducibility report',
  reproduction: 'another reproduction',
  project: 'this project',
};

/**
 * The "what is being reproduced" block of a section: its claims (whose, where, the published numbers), each
 * experiment with its published numbers, how the profile was derived from the paper, and the section's caveat.
 */
export function sectionIntro(sectionId: string, profile: string): string {
  const s = sectionOf(sectionId);
  const lines = [`**${s.id} · ${s.title}** (${profile} profile)`, '', '**Claims** tested here:'];
  for (const c of s.claims)
    lines.push(`* *${c.text}* — ${TAG_WORD[c.tag]} (${c.source})${c.published ? `; published: ${c.published}` : ''}.`);
  if (s.experiments.length) {
    lines.push('', '**Runs**:');
    for (const name of s.experiments) {
      const e = getExperiment(name);
      const refs = e.references.map(
        (r) =>
          `${pctOf(r.value)} ${r.metric === 'accuracy' ? 'train' : 'validation'} (${TAG_WORD[r.tag]}: ${r.source})`,
      );
      lines.push(
        `* \`${name}\`: ${e.title}. ${e.claim}` +
          (refs.length ? ` Published: ${refs.join('; ')}.` : ' No published number.') +
          (e.sameAs ? ` Same config as \`${e.sameAs}\` in the original code: its runs are reused.` : '') +
          (e.note ? ` *${e.note}*` : ''),
      );
    }
    lines.push(
      '',
      `**How the ${profile} profile is derived** (src/experiments/derive.ts):`,
      '```',
      ...s.experiments.filter((n) => !getExperiment(n).sameAs).flatMap((n) => derivationNotes(n, profile)),
      '```',
    );
    if (profile !== 'paper') {
      const cals = [
        ...new Set(
          s.experiments
            .map((n) => getExperiment(n)[profile as 'quick' | 'smoke'].calibration)
            .filter((x): x is string => !!x),
        ),
      ];
      for (const c of cals) {
        const cal = calibrationOf(c, profile);
        lines.push(`Calibration of ${c} (notebook 08): ${cal.chosenBy ?? 'none written: factors 1'}.`);
      }
    }
  }
  if (s.caveat) lines.push('', `*${s.caveat}*`);
  return lines.join('\n');
}
