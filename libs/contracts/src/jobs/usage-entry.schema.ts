import { z } from 'zod';

/**
 * One request's usage, as a worker appends it to the usage stream (`RedisKeys.usageStream(prefix)`)
 * and auth's consumer group (`USAGE_CONSUMER_GROUP`) reads it into the ledger. Each stream entry
 * holds one `UsageEntry` as JSON in the field `USAGE_ENTRY_FIELD`. Idempotent by `requestId`: auth
 * counts a request once however often its entry is appended (a job run twice) or delivered (auth
 * stopped before acknowledging it).
 */
export const usageEntrySchema = z.object({
  requestId: z.string().min(1),
  keyId: z.string().min(1),
  /** The key's owner as the edge saw it (auth takes the owner from the key). */
  userId: z.string(),
  model: z.string().min(1),
  pool: z.string(),
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  queueMs: z.number().int().nonnegative(),
  generationMs: z.number().int().nonnegative(),
  workerId: z.string(),
  /** "ok" | "length" | "cancelled" | "error" */
  outcome: z.string(),
  /** When the edge created the job (Unix ms). */
  createdAtMs: z.number().int().nonnegative(),
});
export type UsageEntry = z.infer<typeof usageEntrySchema>;

/** The stream entry's one field, holding the `UsageEntry` JSON. */
export const USAGE_ENTRY_FIELD = 'u';
/** The consumer group of auth's replicas on the usage stream. */
export const USAGE_CONSUMER_GROUP = 'auth';
