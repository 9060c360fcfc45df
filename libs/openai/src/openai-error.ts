import type { ErrorResponse, ErrorType } from '@switchyard/contracts';

/**
 * An error the edge answers in OpenAI's shape `{error: {message, type, param, code}}`. Thrown
 * anywhere before a response has started; the exception filter renders it with its headers.
 */
export class OpenAIError extends Error {
  readonly headers: Record<string, string>;

  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType | string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    headers: Record<string, string> = {},
    /** Bounded label for `switchyard_edge_rejections_total{reason}`; undefined = not a rejection. */
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'OpenAIError';
    this.headers = { ...headers };
  }

  body(): ErrorResponse {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** True where the same request can never succeed by retrying (the openai SDK obeys `x-should-retry`). */
export function retryCannotHelp(status: number, code: string | null): boolean {
  if (code === 'insufficient_quota' || code === 'request_too_large') return true;
  return status >= 400 && status < 500 && status !== 408 && status !== 409 && status !== 429;
}

/** OpenAI's error type for a status (as Ollama's OpenAI layer maps them). */
export function errorTypeForStatus(status: number): ErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'overloaded_error';
  if (status >= 400 && status < 500) return 'invalid_request_error';
  return 'api_error';
}

export const Errors = {
  missingKey: () =>
    new OpenAIError(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      'invalid_request_error',
      'invalid_api_key',
      null,
      {},
      'auth',
    ),
  invalidKey: () =>
    new OpenAIError(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key', null, {}, 'auth'),
  authUnavailable: () =>
    new OpenAIError(503, 'The authentication service is unavailable; please retry shortly.', 'api_error', 'auth_unavailable', null, {
      'retry-after': '1',
      'retry-after-ms': '1000',
    }),
  badRequest: (message: string, param: string | null = null, code: string | null = null, reason = 'bad_request') =>
    new OpenAIError(400, message, 'invalid_request_error', code, param, {}, reason),
  modelNotFound: (model: string) =>
    new OpenAIError(
      404,
      `The model '${model}' does not exist or you do not have access to it.`,
      'invalid_request_error',
      'model_not_found',
      'model',
      {},
      'model_not_found',
    ),
  modelNotAllowed: (model: string) =>
    new OpenAIError(403, `Your API key may not use the model '${model}'.`, 'permission_error', 'model_not_allowed', 'model', {}, 'forbidden'),
  routeNotFound: (method: string, url: string) =>
    new OpenAIError(404, `Invalid URL (${method} ${url.split('?')[0]})`, 'invalid_request_error', 'unknown_url', null, {}, undefined),
  /** A path that is not valid percent-encoding (`/v1/models/%ff%fe`); the path is echoed, truncated. */
  badUrl: (method: string, url: string) =>
    new OpenAIError(
      400,
      `Invalid URL (${method} ${truncate(url.split('?')[0], 256)}): the path is not valid percent-encoding.`,
      'invalid_request_error',
      'invalid_url',
      null,
      {},
      'bad_request',
    ),
  bodyTooLarge: (limit: number) =>
    new OpenAIError(
      413,
      `The request body is larger than the ${limit} bytes this server accepts.`,
      'invalid_request_error',
      'request_too_large',
      null,
      {},
      'body_too_large',
    ),
  internal: () => new OpenAIError(500, 'The server had an error while processing your request.', 'api_error', 'internal_error'),
};

/** A failed run (the worker's `error`, or a run the edge saw lost) as the error the client gets; a 503 says when to retry. */
export function fromRelayError(msg: { status: number; message: string; code: string | null }): OpenAIError {
  const status = msg.status >= 400 && msg.status <= 599 ? msg.status : 500;
  const headers: Record<string, string> = status === 503 ? { 'retry-after': '1', 'retry-after-ms': '1000' } : {};
  return new OpenAIError(status, msg.message, errorTypeForStatus(status), msg.code, null, headers);
}

export function requestTimedOut(ms: number): OpenAIError {
  return new OpenAIError(504, `The request did not complete within ${Math.round(ms / 1000)} s and was cancelled.`, 'api_error', 'timeout');
}

export function queueUnavailable(): OpenAIError {
  return new OpenAIError(503, 'The request could not be queued; please retry shortly.', 'api_error', 'queue_unavailable', null, {
    'retry-after': '1',
    'retry-after-ms': '1000',
  });
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
