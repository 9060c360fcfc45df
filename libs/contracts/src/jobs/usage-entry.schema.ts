/**
 * One request's usage, as a worker appends it to the usage stream (`RedisKeys.usageStream(prefix)`)
 * and auth's consumer group (`USAGE_CONSUMER_GROUP`) reads it into the ledger. Each stream entry
 * holds one `UsageEntry` as JSON in the field `USAGE_ENTRY_FIELD`. Idempotent by `requestId`: auth
 * counts a request once however often its entry is appended (a job run twice) or delivered (auth
 * stopped before acknowledging it). Auth checks each entry with its ledger's own schema
 * (apps/auth usage.schema.ts, the one RecordUsage uses too) before writing it.
 */
export interface UsageEntry {
  requestId: string;
  keyId: string;
  /** The key's owner as the edge saw it (auth takes the owner from the key). */
  userId: string;
  model: string;
  pool: string;
  promptTokens: number;
  completionTokens: number;
  queueMs: number;
  generationMs: number;
  workerId: string;
  /** "ok" | "length" | "cancelled" | "error" */
  outcome: string;
  /** When the edge created the job (Unix ms). */
  createdAtMs: number;
}

/** The stream entry's one field, holding the `UsageEntry` JSON. */
export const USAGE_ENTRY_FIELD = 'u';
/** The consumer group of auth's replicas on the usage stream. */
export const USAGE_CONSUMER_GROUP = 'auth';
