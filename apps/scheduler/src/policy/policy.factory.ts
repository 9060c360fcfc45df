import type { PlacementPolicy } from './cluster-state';
import { LruPolicy, NonePolicy, StaticPolicy } from './baseline.policies';
import { ResidencyAwareOptions, ResidencyAwarePolicy } from './residency-aware.policy';

export const POLICY_NAMES = ['residency-aware', 'static', 'lru', 'none'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** Builds a policy by name (env SCHEDULER_POLICY); options apply to `residency-aware`. */
export function createPolicy(name: PolicyName, opts: Partial<ResidencyAwareOptions> = {}): PlacementPolicy {
  switch (name) {
    case 'residency-aware':
      return new ResidencyAwarePolicy(opts);
    case 'static':
      return new StaticPolicy();
    case 'lru':
      return new LruPolicy();
    case 'none':
      return new NonePolicy();
    default: {
      const unknown: never = name;
      throw new Error(`unknown placement policy ${String(unknown)}`);
    }
  }
}
