/**
 * Every claim of a profile judged as one family (./verdict has the statistics and the decision rule): the regime of
 * each claim (./regime), the §5.1 claims on the calibration grid (./sensitivity), the others on the runs' final
 * values, and Holm over the claims with a p-value whose regime is met.
 */
import type { Claim } from './catalog';
import { ConfigsByExperiment, regimeCheck } from './regime';
import { GridPoint, sensitivityVerdict } from './sensitivity';
import { holm } from './ttest';
import { claimVerdict, decide, FinalValues, formatP, Verdict } from './verdict';

/**
 * Every claim judged as one family (the module comment of ./verdict): the regime of each from `configs` (./regime;
 * with `profile`, experiments without runs are judged on the profile's config), sensitivity claims on `grid`, Holm
 * over the claims with a p-value whose regime is met. The order of `claims` is kept.
 */
export function profileVerdicts(
  claims: Claim[],
  finals: FinalValues,
  opts: { grid?: GridPoint[]; configs?: ConfigsByExperiment; profile?: string } = {},
): Verdict[] {
  const out = claims.map((c): Verdict => {
    const regime = c.regime?.length ? regimeCheck(c, opts.configs ?? {}, opts.profile) : null;
    const v = c.test.kind === 'sensitivity' ? sensitivityVerdict(c, opts.grid ?? []) : claimVerdict(c, finals);
    if (!regime || regime.met) return { ...v, regime, pHolm: NaN };
    const unknown = regime.checks.every((x) => x.met || x.noConfig);
    if (v.verdict === 'not run' && unknown) return { ...v, regime, pHolm: NaN };
    const unmet = regime.checks.filter((x) => !x.met).map((x) => x.detail);
    return {
      ...v,
      regime,
      verdict: 'not testable at this scale',
      family: 'none',
      pHolm: NaN,
      detail: `not testable at this scale: ${unmet.join('; ')} (measured: ${v.measured})`,
    };
  });
  const inFamily = out.map((v, i) => (v.family === 'holm' ? i : -1)).filter((i) => i >= 0);
  const adjusted = holm(inFamily.map((i) => out[i].p));
  inFamily.forEach((i, j) => {
    const v = out[i];
    const verdict = decide(v.claim.test, v.estimate, adjusted[j]);
    out[i] = {
      ...v,
      pHolm: adjusted[j],
      verdict,
      detail: `${v.detail}, Holm-adjusted p ${formatP(adjusted[j])} (family of ${inFamily.length})`,
    };
  });
  return out;
}
