import type { ErrorType } from '@switchyard/contracts';

/**
 * An error a caller can act on: an HTTP status, OpenAI's error `type`, a stable `code` and the
 * field at fault. The admin API renders it as `{error: {message, type, param, code}}`; the gRPC
 * server maps it to a status code. Messages never contain key material.
 */
export class AuthError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

export class InvalidRequestError extends AuthError {
  constructor(message: string, param: string | null = null, code = 'invalid_value') {
    super(400, 'invalid_request_error', code, message, param);
  }
}

export class NotFoundError extends AuthError {
  constructor(what: 'user' | 'key', param: string | null = null) {
    super(404, 'not_found_error', `${what}_not_found`, `No such ${what}.`, param);
  }
}

export class ConflictError extends AuthError {
  constructor(message: string, code: string, param: string | null = null) {
    super(409, 'invalid_request_error', code, message, param);
  }
}

/** PostgreSQL SQLSTATE of an error from either driver, if it has one. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';
