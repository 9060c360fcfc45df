import type { PolicyOverrides } from './policy.schema';

/** The policy columns shared by `user_policies` and `key_policies`, as both drivers return them. */
export interface PolicyColumns {
  all_models: boolean | null;
  allowed_models: string[] | null;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  token_budget: number | null;
  budget_period: string | null;
  priority: string | null;
  pool: string | null;
  share: number | null;
}

/** Column values (in POLICY_COLUMN_NAMES order) for stored overrides. */
export function policyToColumns(p: PolicyOverrides): unknown[] {
  const allModels = p.models === null ? null : p.models === 'all';
  const allowed = p.models === null || p.models === 'all' ? null : p.models;
  return [allModels, allowed, p.requestsPerMinute, p.tokensPerMinute, p.tokenBudget, p.budgetPeriod, p.priority, p.pool, p.share];
}

export const POLICY_COLUMN_NAMES = [
  'all_models',
  'allowed_models',
  'requests_per_minute',
  'tokens_per_minute',
  'token_budget',
  'budget_period',
  'priority',
  'pool',
  'share',
] as const;

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** Stored overrides from a row; a missing row (all NULLs) means "inherit everything". */
export function columnsToPolicy(r: PolicyColumns): PolicyOverrides {
  return {
    models: r.all_models === null ? null : r.all_models ? 'all' : [...(r.allowed_models ?? [])],
    requestsPerMinute: num(r.requests_per_minute),
    tokensPerMinute: num(r.tokens_per_minute),
    tokenBudget: num(r.token_budget),
    budgetPeriod: r.budget_period as PolicyOverrides['budgetPeriod'],
    priority: r.priority as PolicyOverrides['priority'],
    pool: r.pool as PolicyOverrides['pool'],
    share: num(r.share),
  };
}

/** `alias.col as prefix_col, ...` to select a policy table's columns under a prefix. */
export function selectPolicyColumns(alias: string, prefix: string): string {
  return POLICY_COLUMN_NAMES.map((c) => `${alias}.${c} as ${prefix}${c}`).join(', ');
}

/** Reads the prefixed policy columns of a joined row back into PolicyColumns. */
export function prefixedPolicyColumns(row: Record<string, unknown>, prefix: string): PolicyColumns {
  const out: Record<string, unknown> = {};
  for (const c of POLICY_COLUMN_NAMES) out[c] = row[`${prefix}${c}`] ?? null;
  return out as unknown as PolicyColumns;
}
