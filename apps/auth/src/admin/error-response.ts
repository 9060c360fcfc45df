import type { ErrorResponse, ErrorType } from '@switchyard/contracts';

export function errorBody(message: string, type: ErrorType | string, code: string | null, param: string | null = null): ErrorResponse {
  return { error: { message, type, param, code } };
}

/** OpenAI's error type for an HTTP status. */
export function errorTypeForStatus(status: number): ErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}
