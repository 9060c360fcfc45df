import { effectivePolicy } from './policy';
import type { Policy, PolicyOverrides } from './policy.schema';

/** What the admin API shows of a policy: the stored overrides and what they add up to. */
export interface PolicyView {
  overrides: PolicyOverrides;
  effective: Policy;
}

export function userPolicyView(user: PolicyOverrides): PolicyView {
  return { overrides: user, effective: effectivePolicy(user, undefined) };
}

export function keyPolicyView(user: PolicyOverrides, key: PolicyOverrides): PolicyView {
  return { overrides: key, effective: effectivePolicy(user, key) };
}
