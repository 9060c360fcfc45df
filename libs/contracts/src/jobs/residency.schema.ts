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
  /**
   * False when the workers of the model's pool all report their GPU memory and none could hold the
   * model even alone: edges refuse it at once instead of queueing a request nothing will serve.
   * Absent while unknown (no worker, or one that does not report its memory).
   */
  servable: z.boolean().optional(),
  /** Memory the model needs when loaded (weights + KV cache), bytes, as the scheduler estimates it. */
  needBytes: z.number().nonnegative().optional(),
  /** The largest GPU among the pool's connected workers, bytes. */
  largestGpuBytes: z.number().nonnegative().optional(),
  /**
   * The most slots the model could have at once: summed over the pool's connected workers whose GPU
   * could hold it (one runner a worker), so the fastest its queue could start jobs once replicated.
   * Absent while unknown, as `servable`.
   */
  hostSlots: z.number().int().nonnegative().optional(),
  /**
   * Tail rotation: for a model outside its pool's resident set, on no GPU and none making room for
   * it, whose requests wait or for which the scheduler has no room at once, the pool's round wait
   * (ms, whole seconds): its requests wait until the oldest of them, plus the load, has waited about
   * this long, unless free room comes first (with none waiting, a request now starts the round).
   * Absent otherwise: a first request for a tail model with room is loaded at once.
   */
  tailRoundMs: z.number().int().nonnegative().optional(),
  /** With `tailRoundMs`, while its requests wait: when the oldest waiting interactive one arrived (unix ms, whole seconds). */
  waitingSince: z.number().int().optional(),
  updatedAt: z.number().int(),
});
export type ResidencyEntry = z.infer<typeof residencyEntrySchema>;
