import type { FastifyRequest } from 'fastify';
import { type OpenAIError, retryCannotHelp } from '@switchyard/openai';
import { ollamaErrorShape, ownsOllamaRequest } from './ollama/ollama-error-shape';
import { anthropicErrorShape, ownsAnthropicRoute } from './anthropic/error-shape';

/**
 * How one API writes an error body. Every error the edge raises is an `OpenAIError` (status, message,
 * code, type, param, headers); the API the request came in by decides the body its client can parse.
 */
export interface ErrorShape {
  body(err: OpenAIError): unknown;
  /** Extra headers (besides the error's own, e.g. Retry-After). */
  headers?(err: OpenAIError): Record<string, string>;
}

/** OpenAI's `{error: {message, type, param, code}}`, with `x-should-retry: false` where a retry cannot help (the openai SDKs obey it). */
export const openAIErrorShape: ErrorShape = {
  body: (err) => err.body(),
  headers: (err): Record<string, string> => (retryCannotHelp(err.status, err.code) ? { 'x-should-retry': 'false' } : {}),
};

/** One entry per API other than OpenAI's: which requests are its, and its shape. A new API adds a line. */
const SHAPES: Array<{ owns(request: FastifyRequest): boolean; shape: ErrorShape }> = [
  { owns: ownsAnthropicRoute, shape: anthropicErrorShape },
  { owns: ownsOllamaRequest, shape: ollamaErrorShape },
];

/** The error shape of the API a request came in by (OpenAI's unless another API owns the route). */
export function errorShapeOf(request: FastifyRequest): ErrorShape {
  return SHAPES.find((s) => s.owns(request))?.shape ?? openAIErrorShape;
}
