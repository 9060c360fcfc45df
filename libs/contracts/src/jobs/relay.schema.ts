import { z } from 'zod';
import { ollamaToolCallSchema } from './inference-job.schema';

/**
 * Messages a worker publishes on the relay channel of the edge that owns a request. One *run* of a
 * job (one worker taking it once) has its own `runId`, and its messages arrive in `seq` order
 * (0, 1, 2, ... with no gaps): `started` (stream jobs only), then `chunk`s, then exactly one `final` or
 * `error`. Text not yet published when the run ends travels in the `final` itself (`content`,
 * `toolCalls`), after every chunk: a non-stream job's whole answer is one message, its final (seq 0).
 * A non-stream job's run begins with its final (seq 0): its edge needs nothing sooner.
 * A job may run more than once (a lost worker, a stalled lock): each run starts afresh with a new
 * `runId`. The edge never lets a second run reach a client that already received text of the first
 * (DESIGN decision 5): it ends the stream with an in-band error instead. A gap in `seq` means
 * messages were lost (a Redis reconnect) and is treated the same way.
 */

/** Identifies one run of a job; random, so two runs never share one. */
const runId = z.string().min(1);

export const relayStartedSchema = z.object({
  type: z.literal('started'),
  requestId: z.string(),
  runId,
  seq: z.number().int(),
  workerId: z.string(),
  /** Time the job waited in its queue. */
  queueMs: z.number().nonnegative(),
});

export const relayChunkSchema = z.object({
  type: z.literal('chunk'),
  requestId: z.string(),
  runId,
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
  runId,
  seq: z.number().int(),
  workerId: z.string(),
  /** Ollama's done_reason mapped to OpenAI's: "stop" | "length" | "tool_calls". */
  finishReason: z.enum(['stop', 'length', 'tool_calls']),
  usage: usageTimingsSchema,
  /** Wall time of the run on its worker, from taking the job to this message (ms): the edge's service-time estimate. */
  serviceMs: z.number().nonnegative().optional(),
  /** Embedding jobs: one vector per input. */
  embeddings: z.array(z.array(z.number())).optional(),
  /** The run's last text, after every chunk (a non-stream run's whole answer): read it with `finalText`. */
  content: z.string().optional(),
  toolCalls: z.array(ollamaToolCallSchema).optional(),
});

export const relayErrorSchema = z.object({
  type: z.literal('error'),
  requestId: z.string(),
  runId,
  seq: z.number().int(),
  /** HTTP status the edge should answer with if nothing was sent yet. */
  status: z.number().int(),
  message: z.string(),
  code: z.string().nullable(),
  /** True when tokens were already relayed: the edge must end the stream with an in-band error. */
  afterFirstToken: z.boolean(),
});

/**
 * Published by the scheduler when the worker running a job was lost (its process died, or it
 * restarted): the run on `workerId` will send nothing more. `requeued` says whether the job went
 * back to its queue for another run (else it was failed and nothing will follow).
 */
export const relayLostSchema = z.object({
  type: z.literal('lost'),
  requestId: z.string(),
  workerId: z.string(),
  requeued: z.boolean(),
  reason: z.string(),
});

export const relayMessageSchema = z.discriminatedUnion('type', [relayStartedSchema, relayChunkSchema, relayFinalSchema, relayErrorSchema, relayLostSchema]);
export type RelayMessage = z.infer<typeof relayMessageSchema>;
export type RelayFinal = z.infer<typeof relayFinalSchema>;
export type RelayChunk = z.infer<typeof relayChunkSchema>;

/** The text a final carries (after every chunk of its run), as the chunk it stands for; none without text. */
export function finalText(final: RelayFinal): RelayChunk | undefined {
  if (!final.content && !final.toolCalls?.length) return undefined;
  const chunk: RelayChunk = { type: 'chunk', requestId: final.requestId, runId: final.runId, seq: final.seq, content: final.content ?? '' };
  if (final.toolCalls?.length) chunk.toolCalls = final.toolCalls;
  return chunk;
}
export type RelayError = z.infer<typeof relayErrorSchema>;
export type RelayLost = z.infer<typeof relayLostSchema>;
/** A message of one run (everything but `lost`). */
export type RelayRunMessage = Exclude<RelayMessage, RelayLost>;

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
