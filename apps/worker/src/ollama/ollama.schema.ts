import { z } from 'zod';
import { ollamaToolCallSchema } from '@switchyard/contracts';

/** Shapes of Ollama's native API responses the worker reads (reference/ollama.md). Unknown fields are ignored. */

/** Ollama's timing metrics on a final line, in nanoseconds. */
export const ollamaMetricsSchema = z.object({
  total_duration: z.number().optional(),
  load_duration: z.number().optional(),
  prompt_eval_count: z.number().optional(),
  prompt_eval_duration: z.number().optional(),
  eval_count: z.number().optional(),
  eval_duration: z.number().optional(),
});
export type OllamaMetrics = z.infer<typeof ollamaMetricsSchema>;

/** One NDJSON line of /api/chat or /api/generate (or an in-stream error line). */
export const ollamaStreamLineSchema = ollamaMetricsSchema.extend({
  model: z.string().optional(),
  message: z
    .object({
      role: z.string().optional(),
      content: z.string().optional(),
      thinking: z.string().optional(),
      tool_calls: z.array(ollamaToolCallSchema).nullish(),
    })
    .optional(),
  response: z.string().optional(),
  done: z.boolean().optional(),
  done_reason: z.string().optional(),
  error: z.string().optional(),
});
export type OllamaStreamLine = z.infer<typeof ollamaStreamLineSchema>;

export const ollamaEmbedResponseSchema = ollamaMetricsSchema.extend({
  model: z.string().optional(),
  embeddings: z.array(z.array(z.number())),
});
export type OllamaEmbedResponse = z.infer<typeof ollamaEmbedResponseSchema>;

export const ollamaPsModelSchema = z.object({
  name: z.string(),
  model: z.string().optional(),
  size: z.number().default(0),
  size_vram: z.number().optional(),
  context_length: z.number().optional(),
  expires_at: z.string().optional(),
});
export type OllamaPsModel = z.infer<typeof ollamaPsModelSchema>;

export const ollamaPsResponseSchema = z.object({
  models: z
    .array(ollamaPsModelSchema)
    .nullish()
    .transform((m) => m ?? []),
});

export const ollamaVersionSchema = z.object({ version: z.string() });

export const ollamaErrorBodySchema = z.object({ error: z.string() });

/** What the worker sends Ollama (only the fields it uses). */
export type OllamaRunnerOptions = Record<string, unknown> & { num_ctx: number };

export interface OllamaChatRequest {
  model: string;
  messages: unknown[];
  tools?: unknown[];
  format?: unknown;
  options: OllamaRunnerOptions;
  keep_alive: number | string;
  stream: boolean;
  /** false: a prompt longer than num_ctx is an error (400), never silently cut. */
  truncate: boolean;
  /** false: no context shifting; generation ends with `length` at the window. */
  shift: boolean;
}

export interface OllamaGenerateRequest {
  model: string;
  prompt: string;
  suffix?: string;
  /** The prompt is already templated. */
  raw?: boolean;
  format?: unknown;
  options: OllamaRunnerOptions;
  keep_alive: number | string;
  stream: boolean;
  /** false: a prompt longer than num_ctx is an error (400), never silently cut. */
  truncate: boolean;
  /** false: no context shifting; generation ends with `length` at the window. */
  shift: boolean;
}

export interface OllamaEmbedRequest {
  model: string;
  input: string[];
  dimensions?: number;
  truncate: boolean;
  options: OllamaRunnerOptions;
  keep_alive: number | string;
}
