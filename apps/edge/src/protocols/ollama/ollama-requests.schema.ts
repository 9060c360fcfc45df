import { z } from 'zod';

/**
 * Ollama's native request bodies, as lenient as Ollama's own decoding: unknown fields are kept and
 * ignored, `null` means absent. `keep_alive` and `options.num_ctx` are accepted and ignored (the
 * scheduler owns residency; the catalogue fixes the context window).
 */

const nullish = <T extends z.ZodType>(t: T) => t.nullish();

/** The runner options a client may set; anything else in `options` (num_ctx, top_k, ...) is ignored. */
export const ollamaRequestOptionsSchema = z.looseObject({
  temperature: nullish(z.number()),
  top_p: nullish(z.number()),
  top_k: nullish(z.number().int()),
  seed: nullish(z.number().int()),
  stop: nullish(z.union([z.string(), z.array(z.string())])),
  num_predict: nullish(z.number().int()),
  frequency_penalty: nullish(z.number()),
  presence_penalty: nullish(z.number()),
});
export type OllamaRequestOptions = z.infer<typeof ollamaRequestOptionsSchema>;

/** `"json"`, a JSON schema, or `""` / null for free text. */
export const formatSchema = z.union([z.literal('json'), z.literal(''), z.record(z.string(), z.unknown())], {
  error: 'format must be "json" or a JSON schema object',
});

const keepAlive = nullish(z.union([z.number(), z.string()]));

export const toolCallSchema = z.looseObject({
  function: z.looseObject({
    name: z.string(),
    /** An object, as Ollama sends it (a JSON string of one is accepted too). */
    arguments: z.union([z.record(z.string(), z.unknown()), z.string()]).nullish(),
  }),
});

export const chatMessageSchema = z.looseObject({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: nullish(z.string()),
  images: nullish(z.array(z.string())),
  tool_calls: nullish(z.array(toolCallSchema)),
  tool_name: nullish(z.string()),
});
export type OllamaMessageIn = z.infer<typeof chatMessageSchema>;

const toolSchema = z.looseObject({ type: z.string().optional(), function: z.looseObject({ name: z.string() }) });

export const chatRequestSchema = z.looseObject({
  model: nullish(z.string()),
  messages: nullish(z.array(chatMessageSchema)),
  tools: nullish(z.array(toolSchema)),
  format: nullish(formatSchema),
  options: nullish(ollamaRequestOptionsSchema),
  stream: nullish(z.boolean()),
  keep_alive: keepAlive,
});
export type OllamaChatRequest = z.infer<typeof chatRequestSchema>;

export const generateRequestSchema = z.looseObject({
  model: nullish(z.string()),
  prompt: nullish(z.string()),
  suffix: nullish(z.string()),
  system: nullish(z.string()),
  images: nullish(z.array(z.string())),
  raw: nullish(z.boolean()),
  format: nullish(formatSchema),
  options: nullish(ollamaRequestOptionsSchema),
  stream: nullish(z.boolean()),
  keep_alive: keepAlive,
});
export type OllamaGenerateRequest = z.infer<typeof generateRequestSchema>;

export const embedRequestSchema = z.looseObject({
  model: nullish(z.string()),
  input: nullish(z.union([z.string(), z.array(z.string())])),
  dimensions: nullish(z.number().int().positive()),
  truncate: nullish(z.boolean()),
  keep_alive: keepAlive,
});

/** The legacy `/api/embeddings`: one `prompt`, one vector back. */
export const legacyEmbeddingsRequestSchema = z.looseObject({
  model: nullish(z.string()),
  prompt: nullish(z.string()),
  keep_alive: keepAlive,
});

export const showRequestSchema = z.looseObject({ model: nullish(z.string()), name: nullish(z.string()), verbose: nullish(z.boolean()) });
