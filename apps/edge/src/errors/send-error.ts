import type { FastifyReply } from 'fastify';
import { type OpenAIError, retryCannotHelp } from './openai-error';

/**
 * Answers `err` in OpenAI's shape with its headers, adding `x-should-retry: false` where a retry
 * cannot help. The one renderer behind the exception filter and Fastify's framework errors.
 */
export function sendOpenAIError(reply: FastifyReply, err: OpenAIError): void {
  const headers: Record<string, string> = { ...err.headers };
  if (retryCannotHelp(err.status, err.code)) headers['x-should-retry'] = 'false';
  void reply.status(err.status).headers(headers).type('application/json').send(err.body());
}
