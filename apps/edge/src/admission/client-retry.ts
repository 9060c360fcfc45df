import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * What an official SDK client says of its request: the retries it has made before this attempt
 * (`x-stainless-retry-count`: 0 on a first try; sent by the `openai` and `@anthropic-ai/sdk`
 * clients on every request) and its timeout per attempt (`x-stainless-timeout`, seconds). Either is
 * undefined when the client did not say (curl, Ollama's clients) or said something that is not a
 * whole number.
 */
export interface ClientRetry {
  retriesMade?: number;
  timeoutMs?: number;
}

const RETRY_COUNT_HEADER = 'x-stainless-retry-count';
const TIMEOUT_HEADER = 'x-stainless-timeout';

function wholeNumber(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s !== undefined && /^\d{1,9}$/.test(s.trim()) ? Number(s.trim()) : undefined;
}

export function clientRetry(headers: IncomingHttpHeaders): ClientRetry {
  const retriesMade = wholeNumber(headers[RETRY_COUNT_HEADER]);
  const timeoutS = wholeNumber(headers[TIMEOUT_HEADER]);
  return {
    ...(retriesMade !== undefined ? { retriesMade } : {}),
    ...(timeoutS !== undefined && timeoutS > 0 ? { timeoutMs: timeoutS * 1000 } : {}),
  };
}

/**
 * A fingerprint of a request's content (what the job would run: model, messages or prompt, options):
 * the same request sent again has the same one, another request almost surely not. It tells a
 * client's own retry from its next request when the client says 0 retries on every try.
 */
export function requestFingerprint(content: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(content) ?? '')
    .digest('base64url')
    .slice(0, 16);
}
