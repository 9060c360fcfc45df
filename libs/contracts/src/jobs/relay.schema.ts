import { z } from 'zod';
import { ollamaToolCallSchema } from './inference-job.schema';

/**
 * Messages a worker publishes on the relay channel of the edge that owns a request. For one
 * request they arrive in `seq` order: `started`, then `chunk`s, then exactly one `final` or `error`.
 */

export const relayStartedSchema = z.object({
  type: z.literal('started'),
  requestId: z.string(),
  seq: z.number().int(),
  workerId: z.string(),
  /** Time the job waited in its queue. */
  queueMs: z.number().nonnegative(),
});

export const relayChunkSchema = z.object({
  type: z.literal('chunk'),
  requestId: z.string(),
  seq: z.number().int(),
  /** Text generated since the previous chunk (several tokens, coalesced). */
  content: z.string(),
  toolCalls: z.array(ollamaToolCallSchema).optional(),
});

export const usageTimingsSchema = z.object({
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  queueMs: z.number().nonnegative(),
  loadMs: z.number().nonnegative(),
  promptEvalMs: z.number().nonnegative(),
  evalMs: z.number().nonnegative(),
  totalMs: z.number().nonnegative(),
});
export type UsageTimings = z.infer<typeof usageTimingsSchema>;

export const relayFinalSchema = z.object({
  type: z.literal('final'),
  requestId: z.string(),
  seq: z.number().int(),
  workerId: z.string(),
  /** Ollama's done_reason mapped to OpenAI's: "stop" | "length" | "tool_calls". */
  finishReason: z.enum(['stop', 'length', 'tool_calls']),
  usage: usageTimingsSchema,
  /** Embedding jobs: one vector per input. */
  embeddings: z.array(z.array(z.number())).optional(),
});

export const relayErrorSchema = z.object({
  type: z.literal('error'),
  requestId: z.string(),
  seq: z.number().int(),
  /** HTTP status the edge should answer with if nothing was sent yet. */
  status: z.number().int(),
  message: z.string(),
  code: z.string().nullable(),
  /** True when tokens were already relayed: the edge must end the stream with an in-band error. */
  afterFirstToken: z.boolean(),
});

export const relayMessageSchema = z.discriminatedUnion('type', [relayStartedSchema, relayChunkSchema, relayFinalSchema, relayErrorSchema]);
export type RelayMessage = z.infer<typeof relayMessageSchema>;
export type RelayFinal = z.infer<typeof relayFinalSchema>;
export type RelayError = z.infer<typeof relayErrorSchema>;

/** Published on the cancel channel when a client goes away; workers running the job abort it. */
export const cancelMessageSchema = z.object({ requestId: z.string(), reason: z.string() });
export type CancelMessage = z.infer<typeof cancelMessageSchema>;

/** Published by auth on the auth events channel. */
export const authEventSchema = z.object({
  type: z.enum(['key.revoked', 'key.policy_changed', 'user.policy_changed']),
  keyId: z.string().optional(),
  userId: z.string().optional(),
});
export type AuthEvent = z.infer<typeof authEventSchema>;
