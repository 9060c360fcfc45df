import { timingSafeEqual } from 'node:crypto';
import { CanActivate, createParamDecorator, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { BATCH_CALLER_HEADER, BATCH_INTERNAL_TOKEN_HEADER, decodeBatchCaller, type BatchCaller } from '@switchyard/contracts';
import { OpenAIError } from '@switchyard/openai';
import { BATCH_CONFIG, type BatchConfig } from '../config/batch.config';

type WithCaller = FastifyRequest & { batchCaller?: BatchCaller };

function unauthorized(message: string): OpenAIError {
  return new OpenAIError(401, message, 'invalid_request_error', 'invalid_api_key');
}

/**
 * The batch service is internal: only the edge calls it. A request must carry the shared token
 * and the caller the edge verified (`x-switchyard-caller`); anything else is a 401.
 */
@Injectable()
export class InternalCallerGuard implements CanActivate {
  private readonly token: Buffer;

  constructor(@Inject(BATCH_CONFIG) config: BatchConfig) {
    this.token = Buffer.from(config.BATCH_INTERNAL_TOKEN, 'utf8');
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<WithCaller>();
    const given = Buffer.from(headerValue(request, BATCH_INTERNAL_TOKEN_HEADER) ?? '', 'utf8');
    if (given.length !== this.token.length || !timingSafeEqual(given, this.token)) throw unauthorized('Missing or invalid internal token.');
    const caller = decodeBatchCaller(headerValue(request, BATCH_CALLER_HEADER));
    if (!caller) throw unauthorized(`Missing or malformed ${BATCH_CALLER_HEADER} header.`);
    request.batchCaller = caller;
    return true;
  }
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The verified caller of a request that passed `InternalCallerGuard`. */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): BatchCaller => {
  const caller = ctx.switchToHttp().getRequest<WithCaller>().batchCaller;
  if (!caller) throw unauthorized('No caller.');
  return caller;
});
