import type { ResolvedInput } from '../../chem/input.js';
import type { Budget, GroupResult } from './protocol.js';

/** Compute of one request, counted as inputs × sites (a formula counts one site). */
export function requestSites(resolved: readonly ResolvedInput[]): number {
  return resolved.reduce((n, r) => n + (r.structure ? r.structure.sites.length : 1), 0);
}

/** The refusal of a request over its budget, or undefined when it fits. */
export function overBudget<P>(resolved: readonly ResolvedInput[], budget: Budget): GroupResult<P> | undefined {
  const sites = requestSites(resolved);
  return sites > budget.maxSites ? { ok: false, budget: { sites, inputs: resolved.length, maxSites: budget.maxSites } } : undefined;
}
