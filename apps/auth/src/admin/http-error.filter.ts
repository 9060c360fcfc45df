import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { AuthError } from '../common/errors';
import { errorBody, errorTypeForStatus } from './error-response';

const CODE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'request_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/**
 * Every HTTP error leaves in one shape: `{error: {message, type, param, code}}`. Messages of
 * unexpected errors are not shown (and request bodies are never logged: they may hold keys).
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger: Logger;

  constructor(@Inject(ROOT_LOGGER) rootLogger: Logger) {
    this.logger = rootLogger.child({ context: HttpErrorFilter.name });
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, body } = this.describe(exception);
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }

  private describe(exception: unknown): { status: number; body: ReturnType<typeof errorBody> } {
    if (exception instanceof AuthError) {
      return { status: exception.status, body: errorBody(exception.message, exception.type, exception.code, exception.param) };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      return { status, body: errorBody(httpMessage(exception), errorTypeForStatus(status), CODE_BY_STATUS[status] ?? null) };
    }
    // Fastify's own errors (malformed JSON, wrong content type, body too large) carry a 4xx statusCode.
    const statusCode = (exception as { statusCode?: unknown } | null)?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      const message = statusCode === 400 ? 'The request body is not valid JSON.' : ((exception as Error).message ?? 'Bad request.');
      return { status: statusCode, body: errorBody(message, errorTypeForStatus(statusCode), CODE_BY_STATUS[statusCode] ?? null) };
    }
    this.logger.error({ err: { message: exception instanceof Error ? exception.message : String(exception), stack: exception instanceof Error ? exception.stack : undefined } }, 'unhandled error in admin API');
    return { status: 500, body: errorBody('Internal error.', 'api_error', 'internal_error') };
  }
}

function httpMessage(e: HttpException): string {
  const res = e.getResponse();
  if (typeof res === 'string') return res;
  const msg = (res as { message?: unknown }).message;
  if (typeof msg === 'string') return msg;
  if (Array.isArray(msg)) return msg.join('; ');
  return e.message;
}
