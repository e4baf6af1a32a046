/**
 * Notebook 08: the calibration grids (./calibrate: Bop's γ × τ, the baseline's learning rate) run or read in the
 * kernel, their curves, scores, table, choice and the §5.1 verdicts on them.
 */
import { showFigure } from '../../figures/display';
import { axisStyle, baseLayout, PALETTE, PLOT_CONFIG } from '../../figures/style';
import type { Figure, RunSeries, Trace } from '../../figures/types';
import { loadRunDir, resultsRoot } from '../../results';
import type { History } from '../../train/history';
import { SECTIONS, sectionOf } from '../catalog';
import {
  collectGrid,
  planFor,
  planPoints,
  readGrid,
  saveGrid,
  type CalibrationPlan,
  type GridResult,
} from '../calibrate';
import { calibrationOf, type CalibrationFactors } from '../registry';
import { collectResults, verdictMarkdown } from '../report';
import { runExperiment } from '../run';
import { profileVerdicts } from '../profileVerdicts';
import { meanFlipRatio } from '../sensitivity';
import { factorText, pctOf } from './format';

/**
 * Runs (or reuses) every run of a calibration grid in this process and returns the grid (default: Bop's). The plan is
 * the one `npm run calibrate` runs (./calibrate `PLANS`: its axes, seeds, held-out split, exclusions and selection
 * rule); `axes` and `seeds` may shrink it (a notebook on smoke). With `train: false`, the grid `npm run calibrate`
 * stored (this machine's, else the one in calibration/factors.json).
 */
export async function runCalibrationGrid(opts: {
  profile: string;
  experiment?: string;
  seeds?: number[];
  axes?: CalibrationPlan['axes'];
  holdoutPerClass?: number;
  verbose?: boolean;
  train?: boolean;
}): Promise<GridResult> {
  const experiment = opts.experiment ?? 'cifar10-bop';
  if (opts.train === false) {
    const g = readGrid(opts.profile, undefined, undefined, experiment);
    if (!g)
      throw new Error(
        `no calibration grid of ${experiment} stored for the ${opts.profile} profile: run \`npm run calibrate -- --profile ${opts.profile}\` (or set TRAIN_GRID = true)`,
      );
    console.log(
      g.stored
        ? `the ${experiment} grid stored with the calibration (calibration/factors.json), ${g.points.length} points; \`npm run calibrate\` retrains it`
        : `the ${experiment} grid of this machine's calibration runs (${g.points.length} points)`,
    );
    return g;
  }
  const base = planFor(experiment, opts.profile);
  for (const k of Object.keys(opts.axes ?? {}))
    if (!(k in base.axes))
      throw new Error(
        `runCalibrationGrid: ${experiment}'s grid has no ${k} axis (its axes: ${Object.keys(base.axes).join(', ')})`,
      );
  const plan: CalibrationPlan = {
    ...base,
    axes: { ...base.axes, ...(opts.axes ?? {}) },
    seeds: opts.seeds ?? base.seeds,
    holdoutPerClass: opts.holdoutPerClass ?? base.holdoutPerClass,
  };
  for (const p of planPoints(plan))
    for (const seed of plan.seeds) {
      const r = await runExperiment({
        experiment: plan.experiment,
        profile: plan.profile,
        seed,
        set: p.set,
        resume: true,
        log: opts.verbose === false ? null : (l) => console.log(l),
      });
      console.log(
        `${experiment}: ${factorText(p.factors)}, seed ${seed}: ${r.reused ? 'reused' : `trained in ${r.wallSeconds.toFixed(0)} s`}`,
      );
    }
  const grid = collectGrid(plan);
  saveGrid(grid);
  return grid;
}

/** Series of the grid points for the figure builders: held-out accuracy and flips per epoch, one curve per point (those with the given factors), every seed. */
export function gridSeries(grid: GridResult, only: CalibrationFactors = {}): RunSeries[] {
  const keep = (p: GridResult['points'][number]) =>
    (Object.entries(only) as [keyof CalibrationFactors, number][]).every(([k, v]) => p.factors[k] === v);
  return grid.points.filter(keep).map((p) => {
    const histories = p.seeds.map((s) => {
      const run = s.dir ? loadRunDir(s.dir) : null;
      return run
        ? run.history
        : (s.history.map((e) => ({
            ...e,
            step: 0,
            gamma: p.values.gamma ?? null,
            threshold: p.values.tau ?? null,
            lr: p.values.lr ?? NaN,
            seconds: 0,
          })) as History);
    });
    const vals = Object.entries(p.values)
      .map(([k, v]) => `${k === 'gamma' ? 'γ' : k === 'tau' ? 'τ' : k} ${v!.toExponential(1)}`)
      .join(', ');
    return {
      label: `${factorText(p.factors)} (${vals})`,
      optimizer: p.factors.lr !== undefined ? 'adam' : 'bop',
      histories,
      seeds: p.seeds.map((s) => s.seed),
    };
  });
}

/** The grid's choice, what the rule excluded and why, and the calibration the registry uses (they differ until `npm run calibrate` stores the grid). */
export function gridChoiceText(grid: GridResult, profile: string): string {
  const cal = calibrationOf(grid.plan.experiment, profile);
  const lines = [
    `${grid.plan.experiment}: selection rule (fixed in src/experiments/calibrate.ts before the grid ran): ${grid.rule}`,
    ...(grid.plan.exclude ?? []).map((x) => `excluded: ${x.factor} ×${x.equals} — ${x.why}`),
    `chosen on this grid: ${grid.chosen ? `${factorText(grid.chosen.factors)} (${pctOf(grid.chosen.score)} held out)` : 'none finished'}`,
  ];
  if (grid.withoutExclusions)
    lines.push(
      `without the exclusion the rule would choose ${factorText(grid.withoutExclusions.factors)} (${pctOf(grid.withoutExclusions.score)} held out)`,
    );
  lines.push(
    `the registry's calibration for ${profile}: ${Object.keys(cal.factors).length ? factorText(cal.factors) : 'none written: factors 1'}`,
  );
  return lines.join('\n');
}

/** The grid as a Markdown table: settled held-out accuracy per seed and mean, mean flips per step, exclusions, the choice. */
export function gridMarkdown(grid: GridResult): string {
  const head =
    '| factors | values | held-out accuracy per seed | mean (the score) | mean flips / step | candidate |\n|---|---|---|---:|---:|---|';
  const same = (a: CalibrationFactors, b: CalibrationFactors) => JSON.stringify(a) === JSON.stringify(b);
  const rows = grid.points.map((p) => {
    const chosen = grid.chosen && same(grid.chosen.factors, p.factors);
    const vals = Object.entries(p.values)
      .map(([k, v]) => `${k === 'gamma' ? 'γ' : k === 'tau' ? 'τ' : k} ${v!.toExponential(2)}`)
      .join(', ');
    return `| ${factorText(p.factors)} | ${vals} | ${p.seeds.map((s) => `${s.seed}: ${pctOf(s.score)}`).join(', ')} | ${chosen ? '**' : ''}${pctOf(p.score)}${chosen ? '** (chosen)' : ''} | ${meanFlipRatio(p).toExponential(2)} | ${p.excluded ? `excluded: ${p.excluded}` : 'yes'} |`;
  });
  return (
    [head, ...rows].join('\n') +
    `\n\nHeld out: ${grid.plan.holdoutPerClass} images per class of the training split, after the training subset; the test split is never read. Seeds ${grid.plan.seeds.join(', ')}. Rule: ${grid.rule}.`
  );
}

/** The §5.1 verdicts on a grid, as a Markdown table: the count rules on its points, a claim whose regime the runs do not reach not testable. */
export function gridVerdictMarkdown(grid: GridResult, profile: string, root = resultsRoot()): string {
  const s = sectionOf('§5.1');
  const points = grid.points.filter((p) => p.complete);
  const k = grid.plan.seeds.length;
  // judged as `npm start` judges them (regimes included), on this grid
  const { finals, configs } = collectResults(profile, root);
  const verdicts = profileVerdicts(
    SECTIONS.flatMap((x) => x.claims),
    finals,
    { grid: points, configs, profile },
  ).filter((v) => s.claims.some((c) => c.id === v.claim.id));
  return (
    verdictMarkdown(verdicts, profile) +
    `\n\n${k} seed${k === 1 ? '' : 's'} per grid point (${grid.plan.seeds.join(', ')}), curves and flips averaged over them: these verdicts count how many neighbouring points go the claimed way (src/experiments/verdict.ts), they carry no interval.`
  );
}

/**
 * The score of every grid point against one factor (the others at `at`): each seed's settled held-out accuracy and
 * their mean, excluded points drawn open, the chosen point ringed. The baseline's learning-rate grid, or one line
 * of Bop's γ × τ grid.
 */
export function gridScoreFigure(
  grid: GridResult,
  factor: keyof CalibrationFactors,
  opts: { at?: CalibrationFactors; title?: string } = {},
): Figure {
  const at = opts.at ?? {};
  const keep = grid.points.filter(
    (p) =>
      p.factors[factor] !== undefined &&
      (Object.entries(at) as [keyof CalibrationFactors, number][]).every(([k, v]) => p.factors[k] === v),
  );
  const x = keep.map((p) => p.factors[factor]!);
  const name = factor === 'gamma' ? 'γ' : factor === 'tau' ? 'τ' : 'learning rate';
  const same = (a: CalibrationFactors, b: CalibrationFactors) => JSON.stringify(a) === JSON.stringify(b);
  const seeds = [...new Set(keep.flatMap((p) => p.seeds.map((s) => s.seed)))];
  const data: Trace[] = [
    ...seeds.map((seed, i) => ({
      type: 'scatter',
      mode: 'markers',
      name: `seed ${seed}`,
      x,
      y: keep.map((p) => p.seeds.find((s) => s.seed === seed)?.score ?? null),
      marker: { color: PALETTE[(i + 2) % PALETTE.length], size: 7, symbol: 'circle' },
    })),
    {
      type: 'scatter',
      mode: 'lines+markers',
      name: 'mean (the score)',
      x,
      y: keep.map((p) => (Number.isFinite(p.score) ? p.score : null)),
      line: { color: '#000', width: 2 },
      marker: { color: keep.map((p) => (p.excluded ? '#fff' : '#000')), size: 10, line: { color: '#000', width: 2 } },
      text: keep.map((p) => (p.excluded ? 'excluded by the plan' : 'candidate')),
      hovertemplate: `${name} ×%{x}: %{y:.2%} (%{text})<extra></extra>`,
    },
  ];
  const chosen = keep.find((p) => grid.chosen && same(grid.chosen.factors, p.factors));
  if (chosen)
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: 'chosen',
      x: [chosen.factors[factor]],
      y: [chosen.score],
      marker: { color: 'rgba(0,0,0,0)', size: 20, line: { color: PALETTE[0], width: 3 } },
    });
  const layout = baseLayout(opts.title ?? `${grid.plan.experiment}: held-out score against the ${name} factor`, {
    hovermode: 'closest',
  });
  layout.xaxis = axisStyle(`${name} factor (× the derived value)`, factor === 'tau' ? {} : { type: 'log' });
  layout.yaxis = axisStyle('Settled held-out accuracy', { tickformat: '.1%' });
  return { data, layout, config: { ...PLOT_CONFIG } };
}

/** Shows `gridScoreFigure`, or says why there is nothing to draw (no point of the grid varies that factor). */
export function showGridScores(
  grid: GridResult,
  factor: keyof CalibrationFactors,
  opts: { at?: CalibrationFactors; title?: string } = {},
): void {
  const fig = gridScoreFigure(grid, factor, opts);
  if (!(fig.data[0]?.x as number[] | undefined)?.length) {
    console.log(
      `skipped: no point of the ${grid.plan.experiment} grid varies ${factor}${opts.at ? ` at ${factorText(opts.at)}` : ''}`,
    );
    return;
  }
  showFigure(fig);
}
