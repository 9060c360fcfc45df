import type { Policy } from '../policies/policy.schema';

/** What VerifyKey answers for a valid key. Holds no key material beyond the redacted display. */
export interface Verdict {
  principal: { userId: string; userName: string; keyId: string; keyDisplay: string };
  policy: Policy;
  /** Tokens used in the current budget period (0 when the key has no budget). */
  budgetUsed: number;
  expiresAt: Date | null;
}
