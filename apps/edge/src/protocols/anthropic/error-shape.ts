import type { FastifyRequest } from 'fastify';
import type { AnthropicErrorResponse, AnthropicErrorType } from '@switchyard/contracts';
import { type OpenAIError, retryCannotHelp } from '@switchyard/openai';
import type { ErrorShape } from '../error-shapes';

/** Anthropic's error type for a status, as its API documents them. */
export function anthropicErrorType(status: number): AnthropicErrorType {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

export function anthropicErrorBody(err: OpenAIError): AnthropicErrorResponse {
  return { type: 'error', error: { type: anthropicErrorType(err.status), message: err.message } };
}

/**
 * Anthropic's `{type: "error", error: {type, message}}`, with `x-should-retry: false` where a retry
 * cannot help (the Anthropic SDKs obey it as the OpenAI ones do).
 */
export const anthropicErrorShape: ErrorShape = {
  body: anthropicErrorBody,
  headers: (err): Record<string, string> => (retryCannotHelp(err.status, err.code) ? { 'x-should-retry': 'false' } : {}),
};

/**
 * Anthropic's routes: `/v1/messages`, `/v1/messages/…`, the same under `/api/`, and under `/api/v1/`
 * (the SDK appends `/v1/messages` to a portal base URL ending in `/api`), whatever the query
 * (`?beta=true`) or doubled slashes.
 */
export function ownsAnthropicRoute(request: FastifyRequest): boolean {
  return /^\/(?:api\/v1|v1|api)\/messages(?:\/|$)/.test(request.url.split('?')[0].replace(/\/{2,}/g, '/'));
}
