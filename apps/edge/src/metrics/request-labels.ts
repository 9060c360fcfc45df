import type { IncomingMessage } from 'node:http';

/**
 * What a handler learns about a request that the metrics hook needs when the response ends:
 * the catalogue model (bounded) and, for a stream that failed in-band, the status it would have had.
 */
export interface RequestLabels {
  model?: string;
  outcomeStatus?: number;
}

const labels = new WeakMap<IncomingMessage, RequestLabels>();

export function setRequestLabels(req: IncomingMessage, update: RequestLabels): void {
  labels.set(req, { ...labels.get(req), ...update });
}

export function getRequestLabels(req: IncomingMessage): RequestLabels {
  return labels.get(req) ?? {};
}

const API_ROUTES = ['chat/completions', 'completions', 'embeddings', 'models', 'responses', 'messages', 'messages/count_tokens'] as const;
/** Ollama's native routes, only under /api/ (labelled `api/chat`, ...). */
const OLLAMA_ROUTES = ['chat', 'generate', 'embed', 'tags', 'ps', 'show', 'version'] as const;

/** The API route of a URL, the same under /v1/ and /api/; "other" for anything else. */
export function routeLabel(url: string): string {
  const path = url.split('?')[0];
  const m = /^\/(?:api\/v1|v1|api)\/(.+)$/.exec(path);
  if (!m) return 'other';
  const rest = m[1];
  if (path.startsWith('/api/') && (OLLAMA_ROUTES as readonly string[]).includes(rest)) return `api/${rest}`;
  if (rest.startsWith('models/')) return 'models/{id}';
  const files = /^(files|batches)(\/[^/]+(?:\/(?:content|cancel))?)?\/?$/.exec(rest);
  if (files) return files[2] ? `${files[1]}/{id}` : files[1];
  return (API_ROUTES as readonly string[]).includes(rest) ? rest : 'other';
}
