import { BATCH_CALLER_HEADER, BATCH_INTERNAL_TOKEN_HEADER, encodeBatchCaller } from '@switchyard/contracts';
import type { AuthContext } from '../../../auth/auth.service';

/** The two headers that tell the batch service who the edge verified: the shared secret and the caller. */
export function callerHeaders(caller: AuthContext, token: string): Record<string, string> {
  const { policy } = caller;
  return {
    [BATCH_INTERNAL_TOKEN_HEADER]: token,
    [BATCH_CALLER_HEADER]: encodeBatchCaller({
      userId: caller.userId,
      keyId: caller.keyId,
      policy: {
        allModels: policy.allModels,
        allowedModels: policy.allowedModels,
        pool: policy.pool ?? null,
        priority: policy.priority,
        tokenBudget: policy.tokenBudget,
        share: policy.share,
      },
      budgetUsed: caller.budgetUsed,
    }),
  };
}
