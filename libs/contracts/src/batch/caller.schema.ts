import { z } from 'zod';
import { poolSchema, priorityClassSchema } from '../jobs/inference-job.schema';

/**
 * The edge → batch service hop. The batch service is internal: only the edge calls it, after its
 * ApiKeyGuard verified the client's key. Every request carries the shared internal token and the
 * verified caller (who, what the key may do, what it has spent), base64url JSON in one header.
 */
export const BATCH_INTERNAL_TOKEN_HEADER = 'x-switchyard-internal-token';
export const BATCH_CALLER_HEADER = 'x-switchyard-caller';

/**
 * A key's weight in a model's queue against the other keys of its priority class (fair share):
 * service alternates between keys in proportion to their shares. Set per key or per user in auth
 * (`--share`); a key that nobody gave one has DEFAULT_SHARE.
 */
export const shareSchema = z.number().min(0.1).max(100);
export const DEFAULT_SHARE = 1;

export const batchCallerSchema = z.object({
  userId: z.string().min(1),
  keyId: z.string().min(1),
  policy: z.object({
    allModels: z.boolean(),
    allowedModels: z.array(z.string()),
    /** null: each model's own pool from the catalogue. */
    pool: poolSchema.nullable(),
    priority: priorityClassSchema,
    /** 0 = unlimited. */
    tokenBudget: z.number().int().nonnegative(),
    /** Absent (a caller recorded before shares existed): DEFAULT_SHARE. */
    share: shareSchema.optional(),
  }),
  /** Tokens of the budget's period already spent. */
  budgetUsed: z.number().nonnegative(),
});
export type BatchCaller = z.infer<typeof batchCallerSchema>;

/** The header value for a caller: base64url of its JSON. */
export function encodeBatchCaller(caller: BatchCaller): string {
  return Buffer.from(JSON.stringify(caller), 'utf8').toString('base64url');
}

/** The caller in a header value, or undefined when it is missing or malformed. */
export function decodeBatchCaller(value: string | undefined): BatchCaller | undefined {
  if (!value) return undefined;
  try {
    const r = batchCallerSchema.safeParse(JSON.parse(Buffer.from(value, 'base64url').toString('utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
