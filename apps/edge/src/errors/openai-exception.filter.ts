import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '@switchyard/observability';
import { isRedisUnavailable } from '@switchyard/redis';
import { isClientAbort } from './client-abort';
import { Errors, OpenAIError, errorTypeForStatus, queueUnavailable } from '@switchyard/openai';
import { sendError } from './send-error';

/** Receives every rejection, so metrics can count it by a bounded reason. */
export type RejectionSink = (reason: string) => void;

/**
 * Renders every error the edge answers in OpenAI's shape `{error: {message, type, param, code}}`,
 * whether it was thrown by a handler (`OpenAIError`), by Nest (unknown route) or by Fastify before a
 * handler ran (bad JSON, body too large, wrong content type). Adds `x-should-retry: false` where a
 * retry cannot help. Unexpected errors become a 500 without internal details, and are logged; a
 * client that went away mid-request (nobody left to answer) is noted at debug only.
 */
@Catch()
export class OpenAIExceptionFilter implements ExceptionFilter {
  constructor(
    private readonly logger: Logger,
    private readonly onRejection: RejectionSink = () => undefined,
    private readonly maxBodyBytes = 0,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    if (isClientAbort(exception, request.raw)) {
      this.logger.debug({ err: (exception as Error).message, method: request.method, url: request.url }, 'client went away mid-request');
      return;
    }
    const err = this.toOpenAIError(exception, request);
    if (err.reason) this.onRejection(err.reason);
    if (reply.sent || reply.raw.headersSent) {
      this.logger.warn({ status: err.status, code: err.code }, 'error after the response started');
      return;
    }
    sendError(reply, request, err);
  }

  private toOpenAIError(exception: unknown, request: FastifyRequest): OpenAIError {
    if (exception instanceof OpenAIError) return exception;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const message = httpExceptionMessage(exception);
      if (status === 404 && message.startsWith('Cannot ')) return Errors.routeNotFound(request.method, request.url);
      if (status === 413) return Errors.bodyTooLarge(this.maxBodyBytes);
      if (status === 400 && /JSON|Unexpected|Expected|position/i.test(message)) {
        return Errors.badRequest(
          `We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.) ${message}`,
          null,
          'invalid_json',
        );
      }
      if (status < 500) return new OpenAIError(status, message, errorTypeForStatus(status), null, null, {}, status === 415 ? 'bad_request' : undefined);
      this.logger.error({ err: exception }, 'http exception');
      return new OpenAIError(status, message, 'api_error');
    }
    if (isRedisUnavailable(exception)) {
      // Admission, rate limits, queues and residency all live in Redis: without it nothing can be queued.
      this.logger.warn({ err: (exception as Error).message }, 'Redis unavailable: answering 503');
      return queueUnavailable();
    }
    this.logger.error({ err: exception }, 'unhandled error');
    return Errors.internal();
  }
}

function httpExceptionMessage(exception: HttpException): string {
  const res = exception.getResponse();
  if (typeof res === 'string') return res;
  if (res && typeof res === 'object' && 'message' in res) {
    const m = (res as { message: unknown }).message;
    if (typeof m === 'string') return m;
    if (Array.isArray(m)) return m.join('; ');
  }
  return exception.message;
}
