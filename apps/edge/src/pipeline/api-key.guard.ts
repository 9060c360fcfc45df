import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AuthService, type AuthContext } from '../auth/auth.service';

const CALLER = Symbol('caller');
type WithCaller = FastifyRequest & { [CALLER]?: AuthContext };

/**
 * The API key as clients send it: `Authorization: Bearer sk-…` (OpenAI, Ollama clients given a key),
 * or `x-api-key: sk-…` (Anthropic's clients). The one place a key is read from a request.
 */
export function authorizationOf(headers: FastifyRequest['headers']): string | string[] | undefined {
  if (headers.authorization) return headers.authorization;
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.length > 0 ? `Bearer ${apiKey}` : undefined;
}

/** Who may enter: verifies the request's key (cached verdicts; 401/503 otherwise) before any handler runs. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<WithCaller>();
    request[CALLER] = await this.auth.authenticate(authorizationOf(request.headers));
    return true;
  }
}

/** The verified caller of a route guarded by `ApiKeyGuard`. */
export const Caller = createParamDecorator((_: unknown, context: ExecutionContext): AuthContext => {
  const caller = context.switchToHttp().getRequest<WithCaller>()[CALLER];
  if (!caller) throw new Error('Caller() used on a route without ApiKeyGuard');
  return caller;
});
