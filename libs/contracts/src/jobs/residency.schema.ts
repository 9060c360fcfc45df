import { z } from 'zod';

/**
 * What the scheduler publishes in Redis (hash `RedisKeys.residency`, field = model) so edges can
 * tell clients where a model is resident and estimate waits without asking the scheduler.
 */
export const residencyEntrySchema = z.object({
  model: z.string(),
  /** Workers holding the model and pulling its queue. */
  workers: z.array(z.string()),
  /** Workers loading it now. */
  loading: z.array(z.string()),
  /** Seconds a load of this model takes (measured, else estimated from size). */
  loadSeconds: z.number().nonnegative(),
  /** Parallel slots serving it, summed over its workers. */
  slots: z.number().int().nonnegative(),
  updatedAt: z.number().int(),
});
export type ResidencyEntry = z.infer<typeof residencyEntrySchema>;
