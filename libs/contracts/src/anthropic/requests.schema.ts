import { z } from 'zod';
import { MAX_STOP_SEQUENCES } from '../openai/requests.schema';

/**
 * zod schemas of the Anthropic Messages API requests Switchyard accepts (`POST /v1/messages` and
 * `/v1/messages/count_tokens`). Fields it does not use (`cache_control`, `citations`, `thinking`,
 * `service_tier`, ...) are accepted and dropped; known fields are validated, so bad input gets a 400
 * naming the field. `max_tokens` is required, as in Anthropic's API.
 */

export const anthropicTextBlockSchema = z.object({ type: z.literal('text'), text: z.string() });

/** Images: base64 sources run; `url` and `file` sources parse, and translation refuses them with a 400. */
export const anthropicImageBlockSchema = z.object({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.object({ type: z.literal('base64'), media_type: z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']), data: z.string() }),
    z.object({ type: z.literal('url'), url: z.string() }),
    z.object({ type: z.literal('file'), file_id: z.string() }),
  ]),
});

export const anthropicToolUseBlockSchema = z.object({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
});

export const anthropicToolResultBlockSchema = z.object({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [anthropicTextBlockSchema, anthropicImageBlockSchema]))]).optional(),
  is_error: z.boolean().optional(),
});

const userMessage = z.object({
  role: z.literal('user'),
  content: z.union([
    z.string(),
    z.array(z.discriminatedUnion('type', [anthropicTextBlockSchema, anthropicImageBlockSchema, anthropicToolResultBlockSchema])).min(1),
  ]),
});
const assistantMessage = z.object({
  role: z.literal('assistant'),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [anthropicTextBlockSchema, anthropicToolUseBlockSchema]))]),
});
export const anthropicMessageParamSchema = z.discriminatedUnion('role', [userMessage, assistantMessage]);
export type AnthropicMessageParam = z.infer<typeof anthropicMessageParamSchema>;

/** A client tool (Anthropic's server tools, which have no `input_schema`, are refused). */
export const anthropicToolSchema = z.object({
  type: z.literal('custom').optional(),
  name: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be 1-128 letters, digits, underscores or dashes'),
  description: z.string().optional(),
  input_schema: z.looseObject({ type: z.literal('object') }),
});
export type AnthropicTool = z.infer<typeof anthropicToolSchema>;

export const anthropicToolChoiceSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal('tool'), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal('none') }),
]);

export const anthropicMessagesRequestSchema = z.object({
  model: z.string().min(1, 'model is required'),
  max_tokens: z.number().int().positive(),
  messages: z.array(anthropicMessageParamSchema).min(1, 'messages must contain at least one message'),
  system: z.union([z.string(), z.array(anthropicTextBlockSchema)]).optional(),
  tools: z.array(anthropicToolSchema).max(128).optional(),
  tool_choice: anthropicToolChoiceSchema.optional(),
  stop_sequences: z.array(z.string()).max(MAX_STOP_SEQUENCES, `at most ${MAX_STOP_SEQUENCES} stop sequences are accepted`).optional(),
  temperature: z.number().min(0).max(1).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.number().int().min(0).nullish(),
  metadata: z.object({ user_id: z.string().nullish() }).optional(),
  stream: z.boolean().nullish(),
});
export type AnthropicMessagesRequest = z.infer<typeof anthropicMessagesRequestSchema>;

/** `count_tokens` takes the prompt of a messages request (no `max_tokens`). */
export const anthropicCountTokensRequestSchema = anthropicMessagesRequestSchema.pick({
  model: true,
  messages: true,
  system: true,
  tools: true,
  tool_choice: true,
});
export type AnthropicCountTokensRequest = z.infer<typeof anthropicCountTokensRequestSchema>;
