import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '@switchyard/observability';
import { Errors, OpenAIError, errorTypeForStatus } from '@switchyard/openai';
import type { RejectionSink } from './openai-exception.filter';
import { sendError } from './send-error';

/**
 * Fastify's `frameworkErrors`: what Fastify refuses while routing, before any hook, handler or Nest
 * filter runs: chiefly a path that is not valid percent-encoding (`FST_ERR_BAD_URL`, 400 `invalid_url`),
 * answered in OpenAI's shape like every other error.
 */
export function frameworkErrorHandler(
  logger: Logger,
  onRejection: RejectionSink,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => {
    const err = toOpenAIError(error, request, logger);
    if (err.reason) onRejection(err.reason);
    logger.debug({ code: error.code, status: err.status, url: request.raw.url }, 'refused while routing');
    sendError(reply, request, err);
  };
}

function toOpenAIError(error: FastifyError, request: FastifyRequest, logger: Logger): OpenAIError {
  const url = request.raw.url ?? request.url;
  if (error.code === 'FST_ERR_BAD_URL') return Errors.badUrl(request.method, url);
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return new OpenAIError(status, error.message, errorTypeForStatus(status), null, null, {}, 'bad_request');
  logger.error({ err: error }, 'framework error');
  return Errors.internal();
}
