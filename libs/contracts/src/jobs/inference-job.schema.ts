import { z } from 'zod';

/** The job an edge puts on a `(pool, model)` queue and a worker turns into an Ollama call. */

export const poolSchema = z.enum(['shared', 'performance']);
export const priorityClassSchema = z.enum(['interactive', 'bulk']);
export type PriorityClass = z.infer<typeof priorityClassSchema>;

/**
 * BullMQ priorities (lower runs first) are split into one range per class: every interactive job
 * runs before any bulk job. Within its class's range a job's priority is its fair-share tag (see
 * `libs/redis` FairShare): users of one model's queue alternate instead of being served in arrival
 * order. BullMQ's own limit is 2^21 - 1.
 */
export const PRIORITY_RANGE: Record<PriorityClass, { min: number; max: number }> = {
  interactive: { min: 1, max: 2 ** 20 - 1 },
  bulk: { min: 2 ** 20, max: 2 ** 21 - 1 },
};

/** The lowest BullMQ priority of each class: a job added without a fair-share tag. */
export const BULLMQ_PRIORITY: Record<PriorityClass, number> = {
  interactive: PRIORITY_RANGE.interactive.min,
  bulk: PRIORITY_RANGE.bulk.min,
};

/** The BullMQ priority of a job of `cls` whose fair-share tag is `tag` (clamped into the class's range). */
export function bullmqPriority(cls: PriorityClass, tag: number): number {
  const r = PRIORITY_RANGE[cls];
  return Math.min(r.max, r.min + Math.max(0, Math.floor(tag)));
}

/**
 * Scores of a class's jobs in BullMQ's `prioritized` sorted set (score = priority × 2^32 + an
 * insertion counter), for ZCOUNT / ZRANGEBYSCORE.
 */
export function prioritizedScoreRange(cls: PriorityClass): { min: number; max: number } {
  const r = PRIORITY_RANGE[cls];
  return { min: r.min * 2 ** 32, max: (r.max + 1) * 2 ** 32 - 1 };
}

/** The class of a BullMQ priority. */
export function priorityClassOf(priority: number): PriorityClass {
  return priority >= PRIORITY_RANGE.bulk.min ? 'bulk' : 'interactive';
}

/** Ollama runner options a client may influence. `num_ctx` is NOT here: the worker sets it from the job. */
export const ollamaOptionsSchema = z.object({
  temperature: z.number().optional(),
  top_p: z.number().optional(),
  top_k: z.number().int().optional(),
  seed: z.number().int().optional(),
  stop: z.array(z.string()).optional(),
  num_predict: z.number().int().optional(),
  frequency_penalty: z.number().optional(),
  presence_penalty: z.number().optional(),
});
export type OllamaOptions = z.infer<typeof ollamaOptionsSchema>;

export const ollamaToolCallSchema = z.object({
  function: z.object({ name: z.string(), arguments: z.record(z.string(), z.unknown()) }),
});

export const ollamaChatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string(),
  images: z.array(z.string()).optional(),
  tool_calls: z.array(ollamaToolCallSchema).optional(),
  tool_name: z.string().optional(),
});
export type OllamaChatMessage = z.infer<typeof ollamaChatMessageSchema>;

/** Ollama's `format`: "json" or a JSON schema. */
export const ollamaFormatSchema = z.union([z.literal('json'), z.record(z.string(), z.unknown())]);

export const chatWorkSchema = z.object({
  kind: z.literal('chat'),
  messages: z.array(ollamaChatMessageSchema),
  tools: z.array(z.record(z.string(), z.unknown())).optional(),
  format: ollamaFormatSchema.optional(),
  options: ollamaOptionsSchema,
});
export const generateWorkSchema = z.object({
  kind: z.literal('generate'),
  prompt: z.string(),
  suffix: z.string().optional(),
  /** The prompt is already in the model's template (an editor's fill-in-the-middle): Ollama applies none. */
  raw: z.boolean().optional(),
  format: ollamaFormatSchema.optional(),
  options: ollamaOptionsSchema,
});
export const embedWorkSchema = z.object({
  kind: z.literal('embed'),
  input: z.array(z.string()).min(1),
  dimensions: z.number().int().positive().optional(),
});
export const workSchema = z.discriminatedUnion('kind', [chatWorkSchema, generateWorkSchema, embedWorkSchema]);
export type Work = z.infer<typeof workSchema>;

export const inferenceJobSchema = z.object({
  /** Also the BullMQ job id, so a request is enqueued at most once and can be removed by id. */
  requestId: z.string().min(1),
  pool: poolSchema,
  model: z.string().min(1),
  /** The catalogue's fixed context window; the worker always sends it (a change would reload the model). */
  numCtx: z.number().int().positive(),
  priority: priorityClassSchema,
  /** The edge instance whose relay channel receives the chunks. */
  edgeId: z.string().min(1),
  /** Who pays: ids only, never the key itself. */
  keyId: z.string(),
  userId: z.string(),
  /**
   * The key's fair share where the job's place was not claimed at admission (batch lines, placed
   * when the runner enqueues them); absent: `DEFAULT_SHARE`.
   */
  share: z.number().positive().optional(),
  /** Unix ms the edge accepted the request. */
  createdAt: z.number().int(),
  /** Prompt tokens as the edge estimated them (for admission); the worker's count is billed. */
  estimatedPromptTokens: z.number().int().nonnegative(),
  stream: z.boolean(),
  work: workSchema,
});
export type InferenceJob = z.infer<typeof inferenceJobSchema>;

/** BullMQ job name of an inference job. */
export const INFERENCE_JOB_NAME = 'inference';
