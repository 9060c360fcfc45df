import { DEFAULT_SHARE } from '@switchyard/contracts';
import type { Policy, PolicyOverrides, PolicyPatch } from './policy.schema';

/** What a key may do when neither it nor its user says otherwise: everything, no limits, an equal share. */
export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  models: 'all',
  requestsPerMinute: 0,
  tokensPerMinute: 0,
  tokenBudget: 0,
  budgetPeriod: 'day',
  priority: 'interactive',
  pool: 'shared',
  share: DEFAULT_SHARE,
});

export const NO_OVERRIDES: Readonly<PolicyOverrides> = Object.freeze({
  models: null,
  requestsPerMinute: null,
  tokensPerMinute: null,
  tokenBudget: null,
  budgetPeriod: null,
  priority: null,
  pool: null,
  share: null,
});

const FIELDS = Object.keys(DEFAULT_POLICY) as (keyof Policy)[];

/** Key override, else user default, else the system default — field by field. */
export function effectivePolicy(user: PolicyOverrides | undefined, key: PolicyOverrides | undefined): Policy {
  const out = { ...DEFAULT_POLICY } as Record<keyof Policy, unknown>;
  for (const f of FIELDS) {
    const k = key?.[f];
    const u = user?.[f];
    if (k !== null && k !== undefined) out[f] = k;
    else if (u !== null && u !== undefined) out[f] = u;
  }
  const policy = out as Policy;
  return Array.isArray(policy.models) ? { ...policy, models: [...policy.models] } : policy;
}

/** Applies a patch to stored overrides: absent fields stay, `null` clears. */
export function applyPolicyPatch(current: PolicyOverrides, patch: PolicyPatch): PolicyOverrides {
  const next = { ...current } as Record<keyof Policy, unknown>;
  for (const f of FIELDS) {
    const v = patch[f];
    if (v !== undefined) next[f] = v;
  }
  return next as PolicyOverrides;
}

/** Overrides that pin a full policy (every field set). */
export function overridesOf(policy: Policy): PolicyOverrides {
  return { ...policy };
}
