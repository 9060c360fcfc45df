import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { Errors, errorTypeForStatus, OpenAIError } from '@switchyard/openai';

/** Every error leaves in OpenAI's shape `{error: {message, type, param, code}}`. */
@Catch()
export class OpenAIExceptionFilter implements ExceptionFilter {
  private readonly logger: Logger;

  constructor(@Inject(ROOT_LOGGER) logger: Logger) {
    this.logger = logger.child({ context: 'OpenAIExceptionFilter' });
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const err = this.toOpenAI(exception, request);
    if (reply.sent) return;
    void reply.status(err.status).headers(err.headers).type('application/json').send(err.body());
  }

  private toOpenAI(exception: unknown, request: FastifyRequest): OpenAIError {
    if (exception instanceof OpenAIError) return exception;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404) return Errors.routeNotFound(request.method, request.url);
      return new OpenAIError(status, exception.message, errorTypeForStatus(status));
    }
    const e = exception as { statusCode?: number; message?: string; code?: string };
    if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return new OpenAIError(e.statusCode, e.message ?? 'Bad request', errorTypeForStatus(e.statusCode), e.code ?? null);
    }
    this.logger.error({ err: exception }, 'unhandled error');
    return Errors.internal();
  }
}
