import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AuthError } from '../common/errors';
import { AdminTokenService } from './admin-token.service';

/** Admits a request only with `Authorization: Bearer <admin token>`. */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  constructor(private readonly token: AdminTokenService) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw new AuthError(401, 'authentication_error', 'missing_admin_token', 'Missing admin token: send Authorization: Bearer <SWITCHYARD_ADMIN_TOKEN>.');
    }
    if (!this.token.matches(match[1])) throw new AuthError(401, 'authentication_error', 'invalid_admin_token', 'Invalid admin token.');
    return true;
  }
}
