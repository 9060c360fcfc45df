import { z } from 'zod';

/**
 * zod schemas of the Anthropic Messages API bodies and stream events Switchyard sends (checked
 * against the `@anthropic-ai/sdk` types in the edge's tests). Fields the SDK types as nullable and
 * Switchyard has nothing for (`container`, `citations`, cache counters) are left out, as Anthropic's
 * own API leaves them out when they do not apply.
 */

export const anthropicTextContentSchema = z.object({ type: z.literal('text'), text: z.string() });
export const anthropicToolUseContentSchema = z.object({
  type: z.literal('tool_use'),
  id: z.string().regex(/^toolu_/),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
  /** Who called the tool: always the model itself here. */
  caller: z.object({ type: z.literal('direct') }),
});
export const anthropicContentBlockSchema = z.discriminatedUnion('type', [anthropicTextContentSchema, anthropicToolUseContentSchema]);
export type AnthropicContentBlock = z.infer<typeof anthropicContentBlockSchema>;

/** `stop_sequence` is never sent: Ollama does not say whether a stop sequence or the end of the turn stopped it. */
export const anthropicStopReasonSchema = z.enum(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use']);
export type AnthropicStopReason = z.infer<typeof anthropicStopReasonSchema>;

export const anthropicUsageSchema = z.object({
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
});

export const anthropicMessageSchema = z.object({
  id: z.string().regex(/^msg_/),
  type: z.literal('message'),
  role: z.literal('assistant'),
  model: z.string(),
  content: z.array(anthropicContentBlockSchema),
  /** null only in `message_start`. */
  stop_reason: anthropicStopReasonSchema.nullable(),
  stop_sequence: z.string().nullable(),
  usage: anthropicUsageSchema,
});
export type AnthropicMessage = z.infer<typeof anthropicMessageSchema>;

export const anthropicErrorTypeSchema = z.enum([
  'invalid_request_error',
  'authentication_error',
  'billing_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'rate_limit_error',
  'timeout_error',
  'api_error',
  'overloaded_error',
]);
export type AnthropicErrorType = z.infer<typeof anthropicErrorTypeSchema>;

export const anthropicErrorResponseSchema = z.object({
  type: z.literal('error'),
  error: z.object({ type: anthropicErrorTypeSchema, message: z.string() }),
});
export type AnthropicErrorResponse = z.infer<typeof anthropicErrorResponseSchema>;

const index = z.number().int().nonnegative();

/** The events of a streamed message, each sent as `event: <type>\ndata: <json>`. */
export const anthropicStreamEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('message_start'), message: anthropicMessageSchema }),
  z.object({
    type: z.literal('content_block_start'),
    index,
    content_block: z.discriminatedUnion('type', [
      anthropicTextContentSchema,
      anthropicToolUseContentSchema.extend({ input: z.object({}).strict() }),
    ]),
  }),
  z.object({
    type: z.literal('content_block_delta'),
    index,
    delta: z.discriminatedUnion('type', [
      z.object({ type: z.literal('text_delta'), text: z.string() }),
      z.object({ type: z.literal('input_json_delta'), partial_json: z.string() }),
    ]),
  }),
  z.object({ type: z.literal('content_block_stop'), index }),
  z.object({
    type: z.literal('message_delta'),
    delta: z.object({ stop_reason: anthropicStopReasonSchema, stop_sequence: z.string().nullable() }),
    usage: anthropicUsageSchema,
  }),
  z.object({ type: z.literal('message_stop') }),
  z.object({ type: z.literal('ping') }),
  anthropicErrorResponseSchema,
]);
export type AnthropicStreamEvent = z.infer<typeof anthropicStreamEventSchema>;

export const anthropicTokenCountSchema = z.object({ input_tokens: z.number().int().nonnegative() });
export type AnthropicTokenCount = z.infer<typeof anthropicTokenCountSchema>;
