import { z } from 'zod';
import { poolSchema, priorityClassSchema, shareSchema } from '@switchyard/contracts';

export const budgetPeriodSchema = z.enum(['day', 'month']);
export type BudgetPeriod = z.infer<typeof budgetPeriodSchema>;

/** A model name as clients send it (`llama3.1:8b`, `qwen2.5-coder:32b`, `org/model:tag`). */
export const modelNameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._:/+-]+$/, 'must be a model name such as llama3.1:8b');

/** `"all"` or a non-empty list of model names. */
export const modelsSchema = z.union([z.literal('all'), z.array(modelNameSchema).min(1).max(1000)]);

const limit = z.number().int().min(0).max(1_000_000_000);

/** The policy that applies to a key once user defaults and key overrides are merged. */
export const policySchema = z.object({
  models: modelsSchema.describe('"all" or the list of models the key may use'),
  requestsPerMinute: limit.describe('0 = unlimited'),
  tokensPerMinute: limit.describe('0 = unlimited'),
  tokenBudget: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe('tokens per budget period; 0 = no budget'),
  budgetPeriod: budgetPeriodSchema,
  priority: priorityClassSchema,
  pool: poolSchema,
  share: shareSchema.describe("the key's weight in a model's queue against other keys of its priority (fair share); 1 = an equal share"),
});
export type Policy = z.infer<typeof policySchema>;

/**
 * A partial update of stored overrides: an absent field stays as it is, `null` clears the
 * override (the key then inherits from its user, the user from the defaults).
 */
export const policyPatchSchema = z
  .object({
    models: modelsSchema.nullable().optional(),
    requestsPerMinute: limit.nullable().optional(),
    tokensPerMinute: limit.nullable().optional(),
    tokenBudget: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
    budgetPeriod: budgetPeriodSchema.nullable().optional(),
    priority: priorityClassSchema.nullable().optional(),
    pool: poolSchema.nullable().optional(),
    share: shareSchema.nullable().optional(),
  })
  .strict();
export type PolicyPatch = z.infer<typeof policyPatchSchema>;

/** Stored overrides of a user (defaults for its keys) or of a key: `null` = inherit. */
export type PolicyOverrides = { [K in keyof Policy]: Policy[K] | null };
