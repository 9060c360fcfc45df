import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorShapeOf } from '../protocols/error-shapes';
import type { OpenAIError } from '@switchyard/openai';

/**
 * Answers `err` with its status and headers, in the error shape of the API the request came in by
 * (OpenAI's, Ollama's, Anthropic's). The one renderer behind the exception filter and Fastify's
 * framework errors.
 */
export function sendError(reply: FastifyReply, request: FastifyRequest, err: OpenAIError): void {
  const shape = errorShapeOf(request);
  const headers: Record<string, string> = { ...err.headers, ...shape.headers?.(err) };
  void reply.status(err.status).headers(headers).type('application/json').send(shape.body(err));
}
