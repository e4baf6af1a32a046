/**
 * Hyperparameter schedules as plain data, evaluated at an optimizer step (Keras `LearningRateSchedule`s,
 * which Larq's Bop evaluates at its own `iterations`: steps, i.e. batches, not epochs).
 */
export type Schedule =
  | { kind: 'constant'; value: number }
  /** Keras `ExponentialDecay(initial, decaySteps, decayRate, staircase=true)`: initial · rate^⌊step/decaySteps⌋. */
  | { kind: 'staircase'; initial: number; decayRate: number; decaySteps: number }
  /** Keras `PolynomialDecay(initial, decaySteps, end, power)`: (initial − end)·(1 − min(step, D)/D)^power + end. */
  | { kind: 'polynomial'; initial: number; end: number; decaySteps: number; power: number };

export type ScheduleLike = number | Schedule;

export function constant(value: number): Schedule {
  return { kind: 'constant', value };
}

/** γ or lr ×decayRate every decaySteps steps, e.g. the report's ×0.1 every 100 epochs. */
export function staircase(initial: number, decayRate: number, decaySteps: number): Schedule {
  return { kind: 'staircase', initial, decayRate, decaySteps };
}

/** The value of a schedule at a 0-based optimizer step. */
export function scheduleValue(s: ScheduleLike, step: number): number {
  if (typeof s === 'number') return s;
  switch (s.kind) {
    case 'constant':
      return s.value;
    case 'staircase':
      return s.initial * Math.pow(s.decayRate, Math.floor(step / s.decaySteps));
    case 'polynomial': {
      const t = Math.min(step, s.decaySteps) / s.decaySteps;
      return (s.initial - s.end) * Math.pow(1 - t, s.power) + s.end;
    }
    default:
      throw new Error(
        `Unknown schedule kind '${(s as { kind: string }).kind}'. Allowed: constant, staircase, polynomial.`,
      );
  }
}

/** Checks a schedule's numbers; `what` names it in the error. Values must be ≥ 0 (γ, τ, lr). */
export function validateSchedule(s: ScheduleLike, what: string): void {
  const bad = (msg: string) => {
    throw new Error(`${what}: ${msg}`);
  };
  if (typeof s === 'number') {
    if (!Number.isFinite(s) || s < 0) bad(`must be a finite number ≥ 0, got ${s}`);
    return;
  }
  if (!s || typeof s !== 'object') bad(`must be a number or a schedule object, got ${JSON.stringify(s)}`);
  const nums = Object.entries(s).filter(([k]) => k !== 'kind');
  for (const [k, v] of nums)
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(`${k} must be a finite number ≥ 0, got ${v}`);
  if (s.kind === 'staircase' && !(s.decaySteps > 0)) bad(`decaySteps must be > 0, got ${s.decaySteps}`);
  if (s.kind === 'polynomial' && !(s.decaySteps > 0)) bad(`decaySteps must be > 0, got ${s.decaySteps}`);
  scheduleValue(s, 0);
}
