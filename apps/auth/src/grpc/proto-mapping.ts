import { authV1 } from '@switchyard/contracts';
import type { Policy } from '../policies/policy.schema';
import type { UsageAggregate } from '../usage/usage.repository';
import type { Verdict } from '../verify/verdict';

export function toProtoPolicy(p: Policy): authV1.Policy {
  return {
    allModels: p.models === 'all',
    allowedModels: p.models === 'all' ? [] : [...p.models],
    requestsPerMinute: p.requestsPerMinute,
    tokensPerMinute: p.tokensPerMinute,
    tokenBudget: p.tokenBudget,
    budgetPeriod: p.budgetPeriod === 'day' ? authV1.BudgetPeriod.BUDGET_PERIOD_DAY : authV1.BudgetPeriod.BUDGET_PERIOD_MONTH,
    priority: p.priority === 'bulk' ? authV1.PriorityClass.PRIORITY_CLASS_BULK : authV1.PriorityClass.PRIORITY_CLASS_INTERACTIVE,
    pool: p.pool,
    share: p.share,
  };
}

export function toVerifyKeyResponse(v: Verdict): authV1.VerifyKeyResponse {
  return {
    principal: { ...v.principal },
    policy: toProtoPolicy(v.policy),
    budgetUsed: v.budgetUsed,
    expiresAtMs: v.expiresAt ? v.expiresAt.getTime() : 0,
  };
}

export function toUsageRow(r: UsageAggregate): authV1.UsageRow {
  return { day: r.day, keyId: r.keyId, model: r.model, requests: r.requests, promptTokens: r.promptTokens, completionTokens: r.completionTokens };
}
