/**
 * The scale and regime of a profile's runs, as prose from the catalog, the registry and the configs the runs
 * recorded: sizes, steps, γ·T per phase against the paper's, τ against the noise of m, and the flips per γ phase.
 */
import { sectionOf } from '../catalog';
import { datasetEntry } from '../datasets';
import { gammaPhases } from '../derive';
import { FALL_FACTOR, flipPhaseLine, flipsByPhase, flipsFallAfterDecays } from '../flipPhases';
import { experimentNames, getExperiment, Profile, profileConfig, trainExamples, type Sizing } from '../registry';
import { gt } from './format';
import { runOf, type SectionRun } from './section';

/** γ·T of every phase of an experiment's γ schedule over the paper's whole run, on the catalog's paper steps per epoch. */
export function paperGammaT(name: string): number[] {
  const e = getExperiment(name);
  return e.paper.gamma
    ? gammaPhases(e.paper.gamma, e.paper.epochs * e.paperStepsPerEpoch, e.paperStepsPerEpoch).map((p) => p.gammaT)
    : [];
}

const MODEL_WORD: Record<string, string> = { binarynet: 'BinaryNet', unet: 'UNet' };

/** A width as a fraction when it is one (0.125 → "1/8"), else its decimal. */
export function widthText(w: number): string {
  const inv = 1 / w;
  return w === 1 ? 'full width' : Math.abs(inv - Math.round(inv)) < 1e-9 ? `1/${Math.round(inv)} width` : `width ${w}`;
}

/**
 * The scale of a profile, as prose from the catalog and the registry (never typed in a notebook): per group of the
 * experiments (a list; a section's or, for null, the catalog's, named variants left out) with the same sizing, the model,
 * width, training images, epochs, batch, steps, what is validated every epoch, the final score and the seeds; then
 * γ·T per phase (and τ against the noise of m) of every Bop run, as its config records them.
 */
export function scaleMarkdown(of: string | string[] | null, profile: string): string {
  const picked =
    of === null
      ? experimentNames().filter((n) => !getExperiment(n).optional)
      : Array.isArray(of)
        ? of
        : sectionOf(of).experiments.filter((n) => !getExperiment(n).optional);
  const names = picked.filter((n) => !getExperiment(n).sameAs);
  if (!names.length) return `No runs of its own on the ${profile} profile.`;
  const n = (x: number) => x.toLocaleString('en');
  const groups = new Map<string, string[]>();
  const lineOf = new Map<string, string>();
  for (const name of names) {
    const e = getExperiment(name);
    const c = profileConfig(name, profile, (e.seeds[profile as Profile] ?? [0])[0]);
    const d = c.derivation!;
    const seeds = e.seeds[profile as Profile] ?? [0];
    const train = trainExamples(e, profile === 'paper' ? (c as unknown as Sizing) : e[profile as 'quick' | 'smoke']);
    const entry = datasetEntry(c.dataset);
    const ds = entry.title;
    const images =
      c.trainPerClass != null
        ? `${n(c.trainPerClass)} training images per class (${n(train)})`
        : `${n(train)} training images${entry.found ? ' (the copy found)' : ''}`;
    const val =
      entry.validation === null
        ? 'the test images scored every epoch'
        : c.testPerClass != null
          ? `validated every epoch on ${n(c.testPerClass)} ${entry.validation} images per class`
          : `validated every epoch on the whole ${entry.validation === 'test' ? 'test split' : `${entry.validation} sample`}`;
    const line =
      `${MODEL_WORD[c.model] ?? c.model} at ${widthText(c.width)} on ${ds}${c.model === 'unet' ? ` at ${c.imageSize}×${c.imageSize}` : ''}, ${images}, ` +
      `${c.epochs} epochs of batch ${c.batchSize} = ${n(d.runSteps)} steps; ${val}; the final score on the whole test split after the last epoch, BN statistics settled first; ` +
      `${seeds.length} seed${seeds.length === 1 ? '' : 's'} (${seeds.join(', ')})`;
    groups.set(line, [...(groups.get(line) ?? []), name]);
    lineOf.set(name, line);
  }
  const out = [`**Scale of the \`${profile}\` profile** (from the catalog and the registry):`, ''];
  for (const [line, members] of groups) out.push(`* ${members.map((m) => `\`${m}\``).join(', ')}: ${line}.`);
  const bop = names.filter((m) => getExperiment(m).paper.gamma);
  if (bop.length) {
    out.push(
      '',
      'γ·T per γ phase (time constants of *m*) and τ against the noise of *m*, as each config records them:',
      '',
    );
    for (const m of bop) {
      const d = profileConfig(m, profile, 0).derivation!;
      out.push(
        `* \`${m}\`: γ·T ${d.gammaT.map(gt).join(', ')} (the paper's run: ${paperGammaT(m).map(gt).join(', ')}); ` +
          `covers ${n(d.paperStepsCovered)} of the paper's ${n(d.paperStepsTotal)} steps` +
          (d.tauRelative != null ? `; τ/σ_m ${Number(d.tauRelative.toPrecision(3))}× the paper's` : ''),
      );
    }
  }
  out.push(
    '',
    profile === 'paper'
      ? 'This is the original setting: the published numbers are comparable.'
      : profile === 'smoke'
        ? '`smoke` runs in seconds at chance level: it checks that everything runs, nothing more.'
        : `Only \`paper\` is the original setting; on \`${profile}\` the verdicts say whether each claimed *effect* shows up at this scale.`,
  );
  return out.join('\n');
}

/**
 * What each run's config records about its regime (`derivation`): steps, the part of the paper's run it covers, γ·T
 * per γ phase against the paper's, τ against the noise of m — for the named runs (default: all), one line each.
 */
export function regimeText(runs: SectionRun[], only?: string[]): string {
  const n = (x: number) => x.toLocaleString('en');
  const picked = only ? only.map((m) => runOf(runs, m)) : runs;
  if (!picked.length) return 'skipped: no runs';
  return picked
    .map((r) => {
      const c = r.results[0].config;
      const d = c.derivation;
      if (!d) return `${r.experiment}: no derivation recorded (a run of an older version)`;
      const share = (d.paperStepsCovered / d.paperStepsTotal) * 100;
      return (
        `${r.experiment}: ${n(d.runSteps)} steps (${d.stepsPerEpoch} per epoch) cover ${n(d.paperStepsCovered)} of the paper's ${n(d.paperStepsTotal)} steps (${share >= 10 ? share.toFixed(0) : share.toPrecision(2)} %)` +
        (d.gammaT.length
          ? `; γ·T per phase ${d.gammaT.map(gt).join(', ')} (total ${gt(d.gammaT.reduce((a, b) => a + b, 0))}; the paper's run: ${paperGammaT(r.experiment).map(gt).join(', ')})`
          : '') +
        (d.tauRelative != null
          ? `; τ ${c.threshold!.toExponential(2)}, τ/σ_m ${Number(d.tauRelative.toPrecision(3))}× the paper's`
          : '') +
        (d.tauOverNoise != null
          ? `, ${Number(d.tauOverNoise.toPrecision(3))}× the measured noise of m at the end of the first γ phase`
          : '')
      );
    })
    .join('\n');
}

/**
 * The flip ratio per γ phase of each seed of the named Bop run (../flipPhases: whole epochs of a phase, mean over
 * the binary layers), one line per seed with whether the flips fall at least 2× after each decay, then the count.
 */
export function flipPhaseText(runs: SectionRun[], name: string): string {
  if (!runs.length) return 'skipped: no runs';
  const run = runOf(runs, name);
  const lines = run.results.map((x) => ({ seed: x.config.seed, phases: flipsByPhase(x.config, x.history) }));
  if (lines.every((l) => !l.phases.length))
    return `${name}: no γ schedule recorded (not a Bop run, or a run of an older version)`;
  const falls = lines.map((l) => flipsFallAfterDecays(l.phases));
  const judged = falls.filter((f) => f !== null);
  return [
    ...lines.map((l) => flipPhaseLine(`${name} seed ${l.seed}`, l.phases)),
    judged.length
      ? `flips fall ≥ ${FALL_FACTOR}× after every γ decay in ${judged.filter(Boolean).length} of ${judged.length} seed(s)`
      : 'no two γ phases with whole epochs: no decay to compare',
  ].join('\n');
}
