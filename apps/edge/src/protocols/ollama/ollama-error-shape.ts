import type { FastifyRequest } from 'fastify';
import type { ErrorShape } from '../error-shapes';

/**
 * Ollama's error body: `{"error": "..."}` with the status, nothing more. A body that is not JSON
 * is told so without the hint OpenAI's clients get (it names the OpenAI API).
 */
export const ollamaErrorShape: ErrorShape = {
  body: (err) => ({ error: err.code === 'invalid_json' ? err.message.replace(/^We could not parse[^)]*\)\s*/, '') || 'invalid JSON body' : err.message }),
};

/** The native routes (paths under /api/ that Ollama's API owns). `/api/embeddings` is shared: see below. */
const NATIVE_PATHS = new Set(['chat', 'generate', 'embed', 'tags', 'ps', 'show', 'version', 'pull', 'push', 'create', 'copy', 'delete']);

/**
 * `/api/embeddings` is OpenAI's embeddings under the portal's base URL and Ollama's legacy route:
 * a body with `prompt` (and no `input`) is Ollama's.
 */
export function isOllamaLegacyEmbeddings(body: unknown): boolean {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && 'prompt' in body && !('input' in body);
}

/** True for requests Ollama's API owns: their errors are Ollama's `{"error": "..."}`. */
export function ownsOllamaRequest(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0].replace(/\/{2,}/g, '/');
  if (!path.startsWith('/api/')) return false;
  const rest = path.slice('/api/'.length);
  if (NATIVE_PATHS.has(rest) || rest.startsWith('blobs/')) return true;
  return rest === 'embeddings' && isOllamaLegacyEmbeddings(request.body);
}
