/**
 * Routes each variable to one optimizer by a predicate, as Larq's `CaseOptimizer` (larq ≥ 0.8):
 * `CaseOptimizer([isBinary, Bop], default: Adam(0.01))` trains binary kernels with Bop and every other
 * variable (BatchNorm betas) with Adam. Refuses to start when a variable is claimed twice or when an
 * optimizer claims no variable (larq#443), since either is a silent misconfiguration.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelVariable } from '../layers';
import { Optimizer, OptimizerState, varKey } from './types';

export interface CaseRoute {
  name: string;
  claims: (v: ModelVariable) => boolean;
  optimizer: Optimizer;
}

export class CaseOptimizer implements Optimizer {
  readonly kind = 'case';
  iterations = 0;
  readonly routes: CaseRoute[];
  readonly defaultRoute: { name: string; optimizer: Optimizer } | null;
  private plan: { vars: ModelVariable[]; idx: number[] }[] | null = null;
  private planFor: ModelVariable[] | null = null;

  constructor(routes: CaseRoute[], defaultRoute: { name: string; optimizer: Optimizer } | null) {
    this.routes = routes;
    this.defaultRoute = defaultRoute;
  }

  /** Which optimizer takes each variable; throws on a double claim or an idle optimizer. */
  assign(vars: ModelVariable[]): Record<string, string[]> {
    const all = [
      ...this.routes.map((r) => ({ name: r.name, claims: r.claims })),
      ...(this.defaultRoute ? [{ name: this.defaultRoute.name, claims: null }] : []),
    ];
    const by: Record<string, string[]> = Object.fromEntries(all.map((r) => [r.name, [] as string[]]));
    const plan = all.map(() => ({ vars: [] as ModelVariable[], idx: [] as number[] }));
    vars.forEach((v, i) => {
      const claimed = this.routes.map((r, j) => (r.claims(v) ? j : -1)).filter((j) => j >= 0);
      if (claimed.length > 1) {
        throw new Error(
          `Variable ${varKey(v)} is claimed by several optimizers (${claimed.map((j) => this.routes[j].name).join(', ')}); each variable must have exactly one`,
        );
      }
      let j = claimed[0];
      if (j === undefined) {
        if (!this.defaultRoute)
          throw new Error(`Variable ${varKey(v)} is claimed by no optimizer and there is no default optimizer`);
        j = this.routes.length;
      }
      plan[j].vars.push(v);
      plan[j].idx.push(i);
      by[all[j].name].push(varKey(v));
    });
    all.forEach((r, j) => {
      if (plan[j].vars.length === 0)
        throw new Error(`Optimizer '${r.name}' claims no variable; remove it or fix its predicate`);
    });
    this.plan = plan;
    this.planFor = vars;
    return by;
  }

  private optimizers(): { name: string; optimizer: Optimizer }[] {
    return [...this.routes, ...(this.defaultRoute ? [this.defaultRoute] : [])];
  }

  hyper(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { optimizer } of this.optimizers()) Object.assign(out, optimizer.hyper());
    return out;
  }

  apply(vars: ModelVariable[], grads: tf.Tensor[]): void {
    if (this.planFor !== vars) this.assign(vars);
    const opts = this.optimizers();
    this.plan!.forEach((p, j) =>
      opts[j].optimizer.apply(
        p.vars,
        p.idx.map((i) => grads[i]),
      ),
    );
    this.iterations++;
  }

  getState(): OptimizerState {
    const tensors: Record<string, tf.Tensor> = {};
    const sub: Record<string, unknown> = {};
    for (const { name, optimizer } of this.optimizers()) {
      const s = optimizer.getState();
      sub[name] = s.meta;
      for (const [k, t] of Object.entries(s.tensors)) tensors[`${name}:${k}`] = t;
    }
    return { meta: { kind: this.kind, iterations: this.iterations, optimizers: sub }, tensors };
  }

  setState(state: OptimizerState): void {
    if (state.meta.kind !== this.kind)
      throw new Error(`CaseOptimizer.setState: state is for '${String(state.meta.kind)}'`);
    const sub = state.meta.optimizers as Record<string, Record<string, unknown>>;
    for (const { name, optimizer } of this.optimizers()) {
      if (!sub || !sub[name]) throw new Error(`CaseOptimizer.setState: no state for optimizer '${name}'`);
      const tensors: Record<string, tf.Tensor> = {};
      for (const [k, t] of Object.entries(state.tensors))
        if (k.startsWith(`${name}:`)) tensors[k.slice(name.length + 1)] = t;
      optimizer.setState({ meta: sub[name], tensors });
    }
    this.iterations = Number(state.meta.iterations);
  }

  dispose(): void {
    for (const { optimizer } of this.optimizers()) optimizer.dispose();
  }
}
