import { z } from 'zod';

/**
 * zod schema of OpenAI's Responses API request (`POST /v1/responses`) as Switchyard accepts it:
 * text, images (data URLs), function tools and the items a stateless client replays (its earlier
 * messages, `function_call`s and their `function_call_output`s). Unknown top-level fields are
 * ignored; known ones are checked, so bad input gets a 400 naming the parameter.
 */

const inputText = z.object({ type: z.literal('input_text'), text: z.string() });
const inputImage = z.object({
  type: z.literal('input_image'),
  image_url: z.string().min(1).nullish(),
  file_id: z.string().nullish(),
  detail: z.enum(['auto', 'low', 'high', 'original']).nullish(),
});
/** What an assistant message replayed from an earlier response holds. */
const outputText = z.object({ type: z.literal('output_text'), text: z.string() });
const refusal = z.object({ type: z.literal('refusal'), refusal: z.string() });
export const responsesContentPartSchema = z.discriminatedUnion('type', [inputText, inputImage, outputText, refusal]);
export type ResponsesContentPart = z.infer<typeof responsesContentPartSchema>;

const messageItem = z.object({
  type: z.literal('message'),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(responsesContentPartSchema)]),
  id: z.string().nullish(),
  status: z.string().nullish(),
});
const functionCallItem = z.object({
  type: z.literal('function_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  /** The arguments as a JSON string, as the model produced them. */
  arguments: z.string(),
  id: z.string().nullish(),
  status: z.string().nullish(),
});
const functionCallOutputItem = z.object({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(z.discriminatedUnion('type', [inputText, inputImage]))]),
  id: z.string().nullish(),
  status: z.string().nullish(),
});
/** A reference to an item stored by an earlier response: accepted by the schema, refused with a clear 400 (nothing is stored). */
const itemReference = z.object({ type: z.literal('item_reference'), id: z.string() });

/** An input item; one with a `role` and no `type` is a message (OpenAI's "easy" input message). */
export const responsesInputItemSchema = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('type' in v) && 'role' in v ? { ...v, type: 'message' } : v),
  z.discriminatedUnion('type', [messageItem, functionCallItem, functionCallOutputItem, itemReference]),
);
export type ResponsesInputItem = z.infer<typeof responsesInputItemSchema>;

export const responsesFunctionToolSchema = z.object({
  type: z.literal('function', { error: 'only function tools are supported (hosted tools such as web or file search are not)' }),
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, underscores or dashes'),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});
export type ResponsesFunctionTool = z.infer<typeof responsesFunctionToolSchema>;

export const responsesTextFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, underscores or dashes'),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().optional(),
    strict: z.boolean().nullish(),
  }),
]);
export type ResponsesTextFormat = z.infer<typeof responsesTextFormatSchema>;

export const responsesToolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), name: z.string() }),
]);

export const responsesRequestSchema = z.object({
  model: z.string().min(1, 'model is required'),
  /** Optional in the schema only so that its absence is told as a missing parameter (a union cannot say so). */
  input: z.union([z.string(), z.array(responsesInputItemSchema).min(1, 'input must contain at least one item')]).optional(),
  instructions: z.string().nullish(),
  tools: z.array(responsesFunctionToolSchema).max(128).optional(),
  tool_choice: responsesToolChoiceSchema.optional(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z.object({ format: responsesTextFormatSchema.optional() }).nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stream: z.boolean().nullish(),
  /** Accepted; nothing is ever stored (the edge is stateless). */
  store: z.boolean().nullish(),
  /** Refused when set: the edge keeps no earlier responses to continue from. */
  previous_response_id: z.string().nullish(),
  /** Refused when set, for the same reason (a stored conversation, a response to poll later). */
  conversation: z.unknown().optional(),
  background: z.boolean().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().optional(),
});
export type ResponsesRequest = z.infer<typeof responsesRequestSchema>;
