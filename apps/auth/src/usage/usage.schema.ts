import { z } from 'zod';

const count = z.number().int().min(0).max(2 ** 32 - 1);

/** A RecordUsage request as the service accepts it (after proto decoding). */
export const recordUsageSchema = z.object({
  requestId: z.string().min(1, 'is required').max(200).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  keyId: z.string().min(1, 'is required').max(64),
  model: z.string().min(1, 'is required').max(200),
  promptTokens: count,
  completionTokens: count,
  queueMs: count,
  generationMs: count,
  workerId: z.string().max(200),
  outcome: z.string().max(64),
  pool: z.string().max(64),
  /** Unix ms; 0 = now. */
  createdAtMs: z.number().int().min(0),
});
export type RecordUsageInput = z.infer<typeof recordUsageSchema>;

const day = z.iso.date();

/** Filter of a usage report: inclusive UTC days, optional user and key. */
export const usageQuerySchema = z
  .object({
    userId: z.string().min(1).max(64).optional(),
    keyId: z.string().min(1).max(64).optional(),
    from: day.optional().describe('first UTC day, YYYY-MM-DD (inclusive)'),
    to: day.optional().describe('last UTC day, YYYY-MM-DD (inclusive)'),
  })
  .strict()
  .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'from must not be after to', path: ['from'] });
export type UsageQuery = z.infer<typeof usageQuerySchema>;
